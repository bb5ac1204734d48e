"""Test data built through the same services the product uses."""

from __future__ import annotations

import itertools
from typing import Any

from apps.accounts.services import user_create_member
from apps.briefs.models import ContentBrief, ContentType
from apps.core.models import Workspace
from apps.generation.models import Backend, ModelProfile

_seq = itertools.count(1)

PROMPT = (
    "Title: {title}\nWrite a {target_length}-word piece for {audience} about {topic}. "
    "Keywords: {keywords}.\n\n"
)


def workspace(**kwargs: Any) -> Workspace:
    n = next(_seq)
    return Workspace.objects.create(name=kwargs.pop("name", f"Workspace {n}"),
                                    slug=kwargs.pop("slug", f"ws-{n}"), **kwargs)


def member(ws: Workspace, role: str, username: str | None = None, password: str = "pw-123456!"):
    return user_create_member(workspace=ws, username=username or f"{role}{next(_seq)}",
                              password=password, role=role)


def content_type(ws: Workspace, **kwargs: Any) -> ContentType:
    n = next(_seq)
    defaults: dict[str, Any] = {"name": f"Blog post {n}", "slug": f"blog-{n}",
                                "prompt_template": PROMPT, "default_length": 40,
                                "default_variants": 2}
    defaults.update(kwargs)
    return ContentType.objects.create(workspace=ws, **defaults)


def model_profile(ws: Workspace, **kwargs: Any) -> ModelProfile:
    defaults: dict[str, Any] = {"name": "Built-in", "backend": Backend.BUILTIN,
                                "parameters": {"max_new_tokens": 48}}
    defaults.update(kwargs)
    return ModelProfile.objects.create(workspace=ws, **defaults)


def brief(ws: Workspace, ct: ContentType | None = None, **kwargs: Any) -> ContentBrief:
    from apps.briefs.services import brief_create

    values: dict[str, Any] = {"title": "Composting at home", "topic": "how to start composting "
                              "kitchen scraps in a small garden", "audience": "beginners",
                              "keywords": ["compost", "garden"], "submit": False}
    values.update(kwargs)
    return brief_create(workspace=ws, content_type=ct or content_type(ws), **values)
