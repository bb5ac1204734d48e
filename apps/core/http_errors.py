"""Errors outside DRF's exception handler: JSON under /api/, the product's page elsewhere.

DRF's handler (apps.core.api_errors) covers exceptions inside API views. This middleware
covers the rest: a body too big to read at all, Django's own 404 for an API path no route
matches (an id below 1), and an unreachable database or broker in a page. `server_error`
(the 500 handler) covers an unreachable database met by a middleware (the session, the
user's time zone), whose exception never reaches a view.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin

from apps.core.api_errors import UNAVAILABLE, retry_after, too_big_body, unavailable_logged

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _declared_too_big(request: HttpRequest) -> bool:
    """A non-multipart body whose Content-Length exceeds DATA_UPLOAD_MAX_MEMORY_SIZE.

    Multipart bodies carry uploads (the brief import takes a 10 MB file); Django limits
    their form fields itself and the import its file.
    """
    declared = request.META.get("CONTENT_LENGTH") or ""
    multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
    return (declared.isdigit() and not multipart
            and int(declared) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _unavailable(exception: Exception) -> HttpResponse:
    unavailable_logged(exception)
    # No request context: the page must render without the database. On an API path
    # ApiErrorMiddleware.process_response makes it JSON, Retry-After kept.
    response = HttpResponse(render_to_string("errors/503.html"), status=503)
    response["Retry-After"] = retry_after()
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler, called while the exception is being handled: an unreachable
    database or broker is a 503 with Retry-After wherever it was met; anything else the
    product's 500 page."""
    exception = sys.exc_info()[1]
    if isinstance(exception, UNAVAILABLE):
        return _unavailable(exception)
    return HttpResponse(render_to_string("500.html"), status=500)


class ApiErrorMiddleware(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if _is_api(request) and _declared_too_big(request):
            return JsonResponse(too_big_body(), status=413)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception
                          ) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        return _unavailable(exception)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """An HTML or empty error on an API path (Django's 404 for an unmatched path, its
        400 or 500 page, a bare 405) becomes a JSON error with the same status."""
        if (_is_api(request) and response.status_code >= 400 and not response.streaming
                and (response.get("Content-Type", "").startswith("text/html")
                     or not response.content)):
            json_response = JsonResponse({"detail": f"{response.reason_phrase}."},
                                         status=response.status_code)
            if response.has_header("Retry-After"):
                json_response["Retry-After"] = response["Retry-After"]
            return json_response
        return response
