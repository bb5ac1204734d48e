"""Rendering a content type's prompt template with a brief's fields; template versions."""

from __future__ import annotations

import string
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import get_language_info

from apps.briefs.models import ContentType, PromptTemplateVersion
from apps.core.errors import DomainError

PROMPT_FIELDS = (
    "title", "topic", "audience", "tone", "keywords", "target_length", "language",
    "source_material", "feedback", "banned_terms", "required_terms", "example_texts",
    "reference_texts",
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


# The style guide and the brief's sources reach the model even where a content type's
# template leaves them out (a guide set once must apply to every template): each as a
# labelled block before the template's text, which a completion model then continues.
CONTEXT_BLOCKS = (
    ("example_texts", "Examples of the house style:\n\n{}"),
    ("reference_texts", "Reference material:\n\n{}"),
    ("required_terms", "Use these terms: {}."),
    ("banned_terms", "Never use these terms: {}."),
)


def language_name(tag: str) -> str:
    """'fr' -> 'French', 'pt-BR' -> 'Brazilian Portuguese'; an unknown tag as it is."""
    try:
        return get_language_info(tag.lower())["name"]
    except KeyError:
        return tag


def prompt_render(template: str, fields: dict[str, Any]) -> str:
    template_validate(template)
    used = template_fields(template)
    context = [label.format(fields[name]) for name, label in CONTEXT_BLOCKS
               if fields.get(name) and name not in used]
    language = str(fields.get("language") or "")
    if language and not language.lower().startswith("en") and "language" not in used:
        # English is what a template without {language} asks for by its own wording.
        context.insert(0, f"Write in {language_name(language)}.")
    prompt = template.format_map({name: fields.get(name, "") for name in PROMPT_FIELDS})
    if context:
        prompt = "\n\n".join(context) + "\n\n" + prompt
    if fields.get("feedback") and "feedback" not in used:
        # Reviewer feedback must reach the model even if the template forgot it.
        prompt += f"\nRevise according to this feedback: {fields['feedback']}\n"
    return prompt


def template_version_current(content_type: ContentType) -> PromptTemplateVersion:
    """The version row of the content type's template as it reads now; added if it changed.

    Versions are only ever added (unique per content type and number), so a
    draft's version always shows the template that made it. Two jobs racing to
    add the same new version: the loser reads the winner's row.
    """
    latest = content_type.template_versions.order_by("-version").first()
    if latest is not None and latest.template == content_type.prompt_template:
        return latest
    try:
        with transaction.atomic():
            return PromptTemplateVersion.objects.create(
                content_type=content_type, template=content_type.prompt_template,
                version=(latest.version if latest else 0) + 1)
    except IntegrityError:
        return content_type.template_versions.get(version=(latest.version if latest else 0) + 1)
