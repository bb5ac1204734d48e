"""Times on pages in the signed-in user's zone (`apps.accounts.profiles.user_time_zone`).

Django then shows every aware datetime in that zone and reads every time typed into a
form in it. The API is left in UTC: it reads a time only with an offset or a `timezone`
(`apps.core.api_time`), so no request's zone can change what an API call means.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apps.accounts.profiles import user_time_zone

API_PREFIX = "/api/"


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated or request.path.startswith(API_PREFIX):
            return self.get_response(request)
        zone = user_time_zone(user=request.user, workspace_id=request.session.get("workspace_id"))
        request.time_zone = zone  # type: ignore[attr-defined]  # for the page's templates
        with timezone.override(ZoneInfo(zone.name)):
            return self.get_response(request)
