"""Template filters of the evaluation side: the unit a brief's length is counted in, and a
text's length in it."""

from __future__ import annotations

from django import template

from workers.evaluation.language import language, length
from workers.evaluation.language import length_unit as unit_of

register = template.Library()


@register.filter
def length_unit(language_tag: str) -> str:
    """{{ brief.language|length_unit }}: "characters" for Chinese and Japanese, else "words"."""
    return unit_of(language_tag)


@register.filter
def text_length(text: str, language_tag: str) -> int:
    """{{ draft.current_text|text_length:brief.language }}: the text's length in the unit of
    `length_unit` (characters for Chinese and Japanese, never split on spaces; else words),
    counted as the scorer counts it."""
    return length(text, language(language_tag))
