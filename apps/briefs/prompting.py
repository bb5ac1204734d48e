"""Rendering a content type's prompt template with a brief's fields; the style guide a brief
gets by default; template versions."""

from __future__ import annotations

import string
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import get_language_info

from apps.briefs.models import ContentType, PromptTemplateVersion, StyleGuide, TargetFormat
from apps.core.errors import DomainError
from workers.evaluation.language import language

PROMPT_FIELDS = (
    "title", "topic", "audience", "tone", "keywords", "target_length", "language",
    "source_material", "feedback", "banned_terms", "required_terms", "example_texts",
    "reference_texts", "target_format",
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


# The tone, the target format, the style guide and the brief's sources reach the model even
# where a content type's template leaves them out (a guide set once must apply to every
# template): each as a labelled block before the template's text, in this order, which a
# completion model then continues. Labels are in the brief's language where we have its
# words (a Chinese prompt is continued in Chinese), else in English.
CONTEXT_FIELDS = ("tone", "target_format", "example_texts", "reference_texts", "required_terms",
                  "banned_terms")
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "language": "Write in {}.",
        "tone": "Tone: {}.",
        "example_texts": "Examples of the house style:\n\n{}",
        "reference_texts": "Reference material:\n\n{}",
        "required_terms": "Use these terms: {}.",
        "banned_terms": "Never use these terms: {}.",
        "feedback": "Revise according to this feedback: {}",
    },
    "zh": {
        "language": "请用中文写作。",
        "tone": "语气：{}。",
        "example_texts": "本站风格范例：\n\n{}",
        "reference_texts": "参考资料：\n\n{}",
        "required_terms": "请使用这些词语：{}。",
        "banned_terms": "不得使用这些词语：{}。",
        "feedback": "请根据以下意见修改：{}",
    },
}
FORMATS: dict[str, dict[str, str]] = {
    "en": {
        TargetFormat.MARKDOWN: "Format: Markdown, a # headline, then short paragraphs; ## "
                               "subheadings and lists where they help.",
        TargetFormat.TEXT: "Format: plain text, no Markdown: no # headings, no list markers.",
    },
    "zh": {
        TargetFormat.MARKDOWN: "格式：Markdown，先写“# 标题”，再分短段落，需要时用“## 小标题”和列表。",
        TargetFormat.TEXT: "格式：纯文本，不用Markdown：不写#号标题，不用列表符号。",
    },
}


def language_name(tag: str) -> str:
    """'fr' -> 'French', 'pt-BR' -> 'Brazilian Portuguese'; an unknown tag as it is."""
    try:
        name: str = get_language_info(tag.lower())["name"]
        return name
    except KeyError:
        return tag


def prompt_render(template: str, fields: dict[str, Any]) -> str:
    template_validate(template)
    used = template_fields(template)
    tag = str(fields.get("language") or "")
    code = language(tag).code
    code = code if code in LABELS else "en"
    labels = LABELS[code]
    values = {name: fields.get(name, "") for name in PROMPT_FIELDS}
    # a target format renders as its instruction, in the template or as a block
    values["target_format"] = FORMATS[code].get(str(values["target_format"]), "")
    context = [values[name] if name == "target_format" else labels[name].format(values[name])
               for name in CONTEXT_FIELDS if values[name] and name not in used]
    if tag and not tag.lower().startswith("en") and "language" not in used:
        # English is what a template without {language} asks for by its own wording.
        context.insert(0, labels["language"].format(language_name(tag)))
    prompt = template.format_map(values)
    if context:
        prompt = "\n\n".join(context) + "\n\n" + prompt
    if fields.get("feedback") and "feedback" not in used:
        # Reviewer feedback must reach the model even if the template forgot it.
        prompt += "\n" + labels["feedback"].format(fields["feedback"]) + "\n"
    return prompt


def style_guide_default(content_type: ContentType) -> StyleGuide | None:
    """The style guide of a brief that names none: its content type's, else its workspace's
    default, so a brand voice set once reaches every prompt (and every gate's term checks)."""
    return content_type.style_guide or StyleGuide.objects.filter(
        workspace_id=content_type.workspace_id, workspace_default=True).first()


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
