"""Dataset jobs on the default queue: building a version, importing a target's posts, and
the beat's retrain tick."""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task

from apps.datasets.retraining import retrain_policies_tick
from apps.datasets.services import dataset_import_target_run, dataset_version_build


@shared_task(bind=True, name="datasets.build", acks_late=True, reject_on_worker_lost=True)
def build(self: Any, version_id: int) -> str:
    """Clean and split one queued dataset version, reporting progress as `dataset.progress`."""
    worker_id = f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
    return dataset_version_build(version_id=version_id, worker_id=worker_id)


@shared_task(name="datasets.import_target", acks_late=True, reject_on_worker_lost=True)
def import_target(import_id: int) -> str:
    """Read a WordPress or Ghost target's posts into a dataset import."""
    return dataset_import_target_run(import_id=import_id)


@shared_task(name="datasets.retrain_tick", acks_late=True, reject_on_worker_lost=True)
def retrain_tick() -> dict[int, str]:
    """Move each enabled retrain policy on by one phase (apps.datasets.retraining)."""
    return retrain_policies_tick()
