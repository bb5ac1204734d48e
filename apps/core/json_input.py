"""JSON from outside (API bodies, the signed inbound hook, imported files), checked before use.

Python's json recurses once per nesting level and raises RecursionError near 1,000 levels,
and PostgreSQL stores no NUL character in text or jsonb (DataError). Both are refused here
as the sender's mistake: the depth by a scan of the raw bytes that never recurses, before
json.loads sees them; NUL characters in any key or string value after parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A JSON string (escapes included), or one bracket outside strings.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPENERS = frozenset(b"[{")


class JsonRejected(ValueError):
    """Valid JSON the platform refuses to store, with the reason to show the sender."""


def _deeper_than(raw: bytes, limit: int) -> bool:
    depth = 0
    for token in _TOKEN.finditer(raw):
        first = token.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != ord('"'):
            depth -= 1
    return False


def _has_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _refuse_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number.")


def json_checked(raw: bytes | str) -> Any:
    """The parsed value of `raw`; ValueError (json's, or JsonRejected) when it is not JSON,
    nests deeper than AIGC_JSON_MAX_DEPTH, holds NaN or Infinity, or holds a NUL character
    in a key or string."""
    data = raw.encode() if isinstance(raw, str) else raw
    limit = settings.JSON_MAX_DEPTH
    if _deeper_than(data, limit):
        raise JsonRejected(f"The JSON nests deeper than {limit} levels.")
    value = json.loads(data, parse_constant=_refuse_constant)
    if _has_nul(value):
        raise JsonRejected("The JSON holds a NUL character (\\u0000), which cannot be stored.")
    return value


class CheckedJSONParser(JSONParser):
    """The API's JSON parser: JSON deeper than the limit or holding NUL characters is a 400,
    never a 500. (A body above DATA_UPLOAD_MAX_MEMORY_SIZE never gets here: the API's
    middleware answers 413 from its Content-Length, and DRF reads no body without one.)"""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return json_checked(stream.read())
        except JsonRejected as exc:
            raise ParseError(str(exc)) from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
