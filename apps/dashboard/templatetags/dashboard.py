"""Template filters of the dashboard."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from apps.publishing.formatting import sanitized_html

register = template.Library()


@register.filter
def sanitized(html: str) -> SafeString:
    """{{ preview_html|sanitized }}: HTML shown as HTML only after the publishing sanitiser
    (the tags and attributes a post may hold), never trusted as it comes."""
    return mark_safe(sanitized_html(html))  # nh3 has just cleaned it
