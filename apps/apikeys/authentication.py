"""DRF authentication by API key (`Authorization: Bearer aigc_…`), scope checks, throttles."""

from __future__ import annotations

import logging
import time
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from drf_spectacular import authentication as spectacular_authentication
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from redis.exceptions import RedisError
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from apps.apikeys.models import ApiKey
from apps.apikeys.services import apikey_authenticate

logger = logging.getLogger(__name__)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`request.user` is the key's owner and `request.auth` the ApiKey."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Bearer <api key>'.")
        key = apikey_authenticate(plaintext=header[1])
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic auth under the login throttle (django-axes, see settings): while a username
    is locked out, every attempt, the right password too, is answered 429 with Retry-After."""

    def authenticate_credentials(self, userid: str, password: str,
                                 request: Request | None = None) -> tuple[Any, None]:
        try:
            return super().authenticate_credentials(userid, password, request)
        except exceptions.AuthenticationFailed:
            # axes flags the request it was given: DRF's, which the axes middleware never sees.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(
                    wait=get_cool_off(request).total_seconds(),
                    detail="Too many failed logins for this user.",
                ) from None
            raise


class HasScope(permissions.BasePermission):
    """An API key needs the view's scope (`read_scope` for safe methods, else `write_scope`).

    Sessions are not scoped: a dashboard user acts with their role only.
    """

    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        safe = request.method in permissions.SAFE_METHODS
        scope = getattr(view, "read_scope" if safe else "write_scope", None)
        if scope is None:
            return False
        self.message = f"This API key lacks the '{scope}' scope."
        return scope in request.auth.scopes


class FailOpenRateThrottle(throttling.SimpleRateThrottle):
    """A rate throttle that lets requests through while the shared cache is unreachable.

    The counters live in Redis: without this, a Redis outage turns every authenticated
    call, GETs included, into a 500. Unthrottled for the outage beats refused; the warning
    goes out at most once a minute per process, not once per request.
    """

    warned_at = float("-inf")

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            now = time.monotonic()
            if now - FailOpenRateThrottle.warned_at >= 60:
                FailOpenRateThrottle.warned_at = now
                logger.warning("API throttles are off: their cache is unreachable (%s: %s)",
                               type(exc).__name__, exc)
            return True


class ApiKeyRateThrottle(FailOpenRateThrottle):
    """Requests per API key (API_THROTTLE_KEY_RATE, default 600/min)."""

    scope = "apikey"

    def get_rate(self) -> str:
        return getattr(settings, "API_THROTTLE_KEY_RATE", "600/min")

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class UserRateThrottle(FailOpenRateThrottle):
    """Requests per user, whatever the credential (API_THROTTLE_USER_RATE, default 1200/min)."""

    scope = "user"

    def get_rate(self) -> str:
        return getattr(settings, "API_THROTTLE_USER_RATE", "1200/min")

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ApiKeyAuthentication."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer",
                "description": "An API key (aigc_…) created in the dashboard, with scopes."}


class BasicScheme(spectacular_authentication.BasicScheme):
    """The schema's basicAuth, for the throttled BasicAuthentication as for DRF's."""

    # A dotted path, as the base class gives DRF's (drf-spectacular imports it when matching).
    target_class = "apps.apikeys.authentication.BasicAuthentication"
