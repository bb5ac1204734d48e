"""Rendering a content type's prompt template with a brief's fields."""

from __future__ import annotations

import string
from typing import Any

from apps.core.errors import DomainError

PROMPT_FIELDS = (
    "title", "topic", "audience", "tone", "keywords", "target_length", "language",
    "source_material", "feedback", "banned_terms", "required_terms",
)


def template_fields(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as exc:
        raise DomainError(f"The prompt template is malformed: {exc}.") from exc


def template_validate(template: str) -> None:
    unknown = template_fields(template) - set(PROMPT_FIELDS)
    if unknown:
        raise DomainError(
            f"Unknown prompt fields: {', '.join(sorted(unknown))}. "
            f"Known: {', '.join(PROMPT_FIELDS)}."
        )


def prompt_render(template: str, fields: dict[str, Any]) -> str:
    template_validate(template)
    prompt = template.format_map({name: fields.get(name, "") for name in PROMPT_FIELDS})
    if fields.get("feedback") and "{feedback}" not in template:
        # Reviewer feedback must reach the model even if the template forgot it.
        prompt += f"\nRevise according to this feedback: {fields['feedback']}\n"
    return prompt
