"""The Celery app: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aigc_platform.settings")

app = Celery("aigc_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Compute tasks live in workers/tasks, I/O tasks in apps/<domain>/tasks.py.
# The web tier never imports these: it enqueues by task name (apps.core.pipeline).
app.conf.imports = (
    "apps.publishing.tasks",
    "apps.reviews.tasks",
    "apps.notifications.tasks",
    "apps.integrations.tasks",
    "apps.datasets.tasks",
    "workers.tasks.generation",
    "workers.tasks.evaluation",
    "workers.tasks.reconcile",
)
