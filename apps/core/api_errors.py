"""API errors are JSON: domain errors become 4xx with the domain's message, an unreachable
database or broker a 503 with Retry-After, an oversized body a 413."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError
from django.db import OperationalError as DatabaseUnavailable
from kombu.exceptions import OperationalError as BrokerUnavailable
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError

logger = logging.getLogger(__name__)

# What a request cannot help: the database refuses connections (down, restarting, out of
# slots) or the broker does not take the message. The client should come back shortly.
UNAVAILABLE = (DatabaseUnavailable, InterfaceError, BrokerUnavailable)
UNAVAILABLE_DETAIL = "The service is briefly unavailable; retry after the time in Retry-After."


def unavailable_logged(exc: Exception) -> dict[str, str]:
    """The JSON body of a 503, after logging the cause once for the operator."""
    logger.warning("answering 503: %s: %s", type(exc).__name__, exc)
    return {"detail": UNAVAILABLE_DETAIL}


def retry_after() -> str:
    return str(settings.UNAVAILABLE_RETRY_AFTER_S)


def too_big_body() -> dict[str, str]:
    return {"detail": f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"detail": str(exc)}, status=exc.status_code)
    if isinstance(exc, UNAVAILABLE):
        return Response(unavailable_logged(exc), status=503, headers={"Retry-After": retry_after()})
    if isinstance(exc, RequestDataTooBig):
        return Response(too_big_body(), status=413)
    return drf_exception_handler(exc, context)
