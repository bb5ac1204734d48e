"""Audit, domain events and state transitions: the write path every app uses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db import models, transaction
from django.utils import timezone

from apps.core.models import AuditEvent, OutboxEvent
from apps.core.relay import outbox_relay_committed
from apps.core.state_machine import StateMachine

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)
# Who acts: a signed-in user, an anonymous visitor, or None for the system (tasks, commands).
# The project keeps Django's user model (no AUTH_USER_MODEL), so a signed-in user is a User;
# services that need one narrow with apps.accounts.selectors.member_require.
Actor = User | AnonymousUser | None


def _user_or_none(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def audit_record(
    *,
    workspace_id: int,
    action: str,
    subject: models.Model,
    actor: Actor = None,
    actor_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    user = _user_or_none(actor)
    return AuditEvent.objects.create(
        workspace_id=workspace_id,
        actor=user,
        actor_label=actor_label or (user.get_username() if user else "system"),
        action=action,
        subject_type=subject._meta.model_name or "",
        subject_id=subject.pk,
        before=before or {},
        after=after or {},
    )


# A reaction runs inside the transaction that wrote the event, so what it does commits or
# rolls back with the outcome it reacts to. It gets the acting user of the outcome.
Reaction = Callable[[OutboxEvent, Actor, str], None]
REACTIONS: dict[str, list[Reaction]] = {}


def reaction_register(event_type: str, reaction: Reaction) -> None:
    """React to every `event_type` event inside its transaction. Apps above core register
    from AppConfig.ready (the workflow's pipeline table, notifications), so core never
    imports them."""
    reactions = REACTIONS.setdefault(event_type, [])
    if reaction not in reactions:
        reactions.append(reaction)


def event_emit(
    *, workspace_id: int, type: str, subject: models.Model, payload: dict[str, Any],
    actor: Actor = None, actor_label: str = "",
) -> OutboxEvent:
    """Write a domain event to the outbox and run its reactions; it is relayed once the
    transaction commits."""
    reactions = REACTIONS.get(type, ())
    # A savepoint only where reactions run, so an event without any costs no extra round trip.
    with transaction.atomic() if reactions else nullcontext():
        event = OutboxEvent.objects.create(
            workspace_id=workspace_id,
            type=type,
            subject_type=subject._meta.model_name or "",
            subject_id=subject.pk,
            payload=payload,
        )
        # The transaction's events are relayed together once it commits: each event adds its id
        # to the connection's list and a hook; the first hook to run relays them all, the rest
        # find the list empty. An id whose savepoint rolled back names no row and is skipped.
        # robust: the events are committed either way; a failed relay is finished by the
        # reconciler.
        _pending_ids().append(event.pk)
        transaction.on_commit(_relay_pending, robust=True)
        for reaction in reactions:
            reaction(event, actor, actor_label)
    return event


def _pending_ids() -> list[int]:
    # On the thread's own connection: `django.db.connection` is one proxy for every thread,
    # so a list in its __dict__ mixed the requests' events, and a request relayed another's
    # before that one committed (unseen, then dropped from the list): under 32 concurrent
    # webhooks three events in four waited for the reconciler.
    wrapper = transaction.get_connection()
    pending: list[int] = wrapper.__dict__.setdefault("aigc_outbox_pending", [])
    return pending


def _relay_pending() -> None:
    pending = _pending_ids()
    ids, pending[:] = list(pending), []
    if ids:
        outbox_relay_committed(event_ids=ids)


def transition(
    instance: M,
    *,
    machine: StateMachine,
    to: str,
    workspace_id: int,
    event_type: str,
    payload: dict[str, Any],
    actor: Actor = None,
    actor_label: str = "",
    **fields: Any,
) -> M:
    """Move `instance` to state `to` along an allowed edge, atomically.

    The row is moved by a conditional UPDATE from the state it holds, so two racing
    callers cannot both take the same edge; the loser gets IllegalTransition.
    The audit entry and the domain event are written in the same transaction.
    """
    model = type(instance)
    rows = model._default_manager
    if any(f.name == "updated_at" for f in model._meta.get_fields()):
        fields.setdefault("updated_at", timezone.now())
    written = {**fields, "state": to}
    # Refusals are raised outside the block, so it needs a savepoint (two round trips) only
    # where reactions run, whose refusals a caller may catch and go on; a database error
    # aborts the whole transaction on PostgreSQL anyway.
    with transaction.atomic(savepoint=bool(REACTIONS.get(event_type))):
        current, moved = _edge_take(rows, instance.pk, getattr(instance, "state", None),
                                    machine=machine, to=to, written=written)
        if moved:
            for name, value in written.items():
                setattr(instance, name, value)
            audit_record(
                workspace_id=workspace_id,
                action=f"{machine.name.lower()}.{to}",
                subject=instance,
                actor=actor,
                actor_label=actor_label,
                before={"state": current},
                after={"state": to, **_jsonable(fields)},
            )
            event_emit(
                workspace_id=workspace_id,
                type=event_type,
                subject=instance,
                payload={"state": to, "previous_state": current, **payload},
                actor=actor,
                actor_label=actor_label,
            )
    if not moved:
        raise machine.refuse(instance.pk, current, to)
    return instance


def _edge_take(rows: models.Manager[Any], pk: Any, held: str | None, *, machine: StateMachine,
               to: str, written: dict[str, Any]) -> tuple[str, bool]:
    """Update row `pk` to `to` from the state it holds: the state in hand (`held`) is tried
    first, which saves a read on every transition, and the row is re-read only when that is
    stale. Returns the state it left, or the one that refused, and whether it moved."""
    if held is not None and machine.allows(held, to) and \
            rows.filter(pk=pk, state=held).update(**written) == 1:
        return held, True
    current = rows.filter(pk=pk).values_list("state", flat=True).first()
    if current is None or current == held or not machine.allows(current, to):
        return current or "missing", False
    if rows.filter(pk=pk, state=current).update(**written) == 1:
        return current, True
    latest = rows.filter(pk=pk).values_list("state", flat=True).first()
    return latest or "missing", False


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "updated_at" or isinstance(value, models.expressions.Combinable):
            continue
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
