"""Brief state transitions, shared by every app that moves a brief along."""

from __future__ import annotations

from typing import Any

from apps.briefs.models import BRIEF_MACHINE, ContentBrief
from apps.core.services import Actor, transition


def brief_transition(
    brief: ContentBrief,
    *,
    to: str,
    actor: Actor = None,
    actor_label: str = "",
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> ContentBrief:
    """Move a brief along an edge of BRIEF_MACHINE and announce `brief.<state>`."""
    return transition(
        brief,
        machine=BRIEF_MACHINE,
        to=to,
        workspace_id=brief.workspace_id,
        event_type=f"brief.{to}",
        payload={"brief_id": brief.pk, "title": brief.title, **(payload or {})},
        actor=actor,
        actor_label=actor_label,
        **fields,
    )
