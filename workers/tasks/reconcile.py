"""The reconciler's beat task (aigc_platform/recovery.py says what it finishes)."""

from __future__ import annotations

from celery import shared_task

from aigc_platform import recovery


@shared_task(name="platform.reconcile")
def reconcile() -> dict[str, int]:
    return recovery.reconcile()
