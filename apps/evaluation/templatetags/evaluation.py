"""Template filters of the evaluation side: the unit a brief's length is counted in."""

from __future__ import annotations

from django import template

from workers.evaluation.language import length_unit as unit_of

register = template.Library()


@register.filter
def length_unit(language_tag: str) -> str:
    """{{ brief.language|length_unit }}: "characters" for Chinese and Japanese, else "words"."""
    return unit_of(language_tag)
