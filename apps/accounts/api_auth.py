"""Which workspace an API request acts in, who may call, and the base every v1 endpoint shares."""

from __future__ import annotations

from collections.abc import Iterable

from drf_spectacular.openapi import AutoSchema
from rest_framework import authentication, permissions
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from apps.accounts.selectors import workspace_require
from apps.apikeys.authentication import (
    ApiKeyAuthentication,
    ApiKeyRateThrottle,
    HasScope,
    UserRateThrottle,
)
from apps.apikeys.models import ApiKey
from apps.core.models import Workspace

WORKSPACE_HEADER = "X-Workspace"
# Ids are 64-bit: a larger number is refused as input rather than overflowing in the database.
ID_MAX = 2**63 - 1


def workspace_id_parse(raw: object) -> int | None:
    """None when absent; the id when it is one; else ValueError."""
    if raw in (None, ""):
        return None
    value = int(str(raw))
    if not 0 < value <= ID_MAX:
        raise ValueError(f"{raw!r} is not an id")
    return value


def request_workspace_id(request: Request) -> int | None:
    """An API key's own workspace; else the `X-Workspace` header, else the session's
    current workspace, else None (first membership)."""
    if isinstance(request.auth, ApiKey):
        return request.auth.workspace_id
    raw = request.headers.get(WORKSPACE_HEADER) or request.session.get("workspace_id")
    try:
        return workspace_id_parse(raw)
    except ValueError:
        raise ValidationError({WORKSPACE_HEADER: ["A workspace id is a whole number."]}) from None


def request_workspace(request: Request, roles: Iterable[str]) -> Workspace:
    """The caller's current workspace, if they hold one of `roles` there (else 403)."""
    return workspace_require(request.user, roles, request_workspace_id(request))


class ApiBase:
    """Mixed into every v1 view: API keys (scoped) or sessions, throttles, OpenAPI schema.

    `read_scope` / `write_scope` name the API key scope a view needs; a view
    without one cannot be called with a key at all.
    """

    authentication_classes = [ApiKeyAuthentication, authentication.SessionAuthentication,
                              authentication.BasicAuthentication]
    permission_classes = [permissions.IsAuthenticated, HasScope]
    throttle_classes = [ApiKeyRateThrottle, UserRateThrottle]
    schema = AutoSchema()
    read_scope: str | None = None
    write_scope: str | None = None
