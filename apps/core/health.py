"""Probes for orchestrators: /healthz (the process answers) and /readyz (it can serve).

They answer in a middleware ahead of the host and HTTPS checks, because a probe comes
from the orchestrator with the container's address as its Host and over plain HTTP: as
views they would get a 400 (ALLOWED_HOSTS) or a redirect to HTTPS in production.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from apps.core.api_errors import retry_after

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3  # each check's bound, so a hung peer fails the probe instead of hanging it
_migrated = False  # once every migration is applied, it stays so for this process


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _migrations() -> None:
    global _migrated
    if _migrated:
        return
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        raise RuntimeError(f"{len(unapplied)} migrations are not applied")
    _migrated = True


def _broker() -> None:
    with current_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)


async def _group_send_bounded() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    # A message to a group nobody is in: a round trip to the layer's server, delivered to no one.
    await asyncio.wait_for(layer.group_send("readiness", {"type": "readiness.probe"}),
                           CHECK_TIMEOUT_S)


def _channel_layer() -> None:
    async_to_sync(_group_send_bounded)()


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "migrations": _migrations,
    "broker": _broker,
    "channel_layer": _channel_layer,
}


def readiness() -> dict[str, str]:
    """Each check's outcome: "ok", or "failed" and the error's type (the message, which
    may name hosts, goes to the log only: the probe answers anyone)."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results["database"] != "ok":
            results[name] = "not checked: the database is unreachable"
            continue
        try:
            check()
        except Exception as exc:  # any failure means not ready, and which one is the answer
            logger.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = f"failed: {type(exc).__name__}"
        else:
            results[name] = "ok"
    return results


class HealthMiddleware(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path_info == "/healthz":
            return JsonResponse({"status": "alive"})
        if request.path_info != "/readyz":
            return None
        checks = readiness()
        failed = [name for name, outcome in checks.items() if outcome != "ok"]
        if not failed:
            return JsonResponse({"status": "ready", "checks": checks})
        response = JsonResponse({"status": "unavailable", "failed": failed, "checks": checks},
                                status=503)
        response["Retry-After"] = retry_after()
        return response
