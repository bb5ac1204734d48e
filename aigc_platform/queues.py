"""The one list of Celery queues; every task is routed by its name prefix."""

from enum import StrEnum


class Queue(StrEnum):
    GENERATION = "generation"  # GPU workers: inference and training
    EVALUATION = "evaluation"  # CPU workers: scoring
    PUBLISHING = "publishing"  # I/O workers: CMS and social connectors
    WEBHOOKS = "webhooks"  # I/O workers: outbound webhook deliveries
    DEFAULT = "default"  # relays, sweepers, schedules


# Task names are "<prefix>.<action>"; the prefix decides the queue.
TASK_ROUTES = {
    "generation.*": {"queue": Queue.GENERATION.value},
    "evaluation.*": {"queue": Queue.EVALUATION.value},
    "publishing.*": {"queue": Queue.PUBLISHING.value},
    "webhooks.*": {"queue": Queue.WEBHOOKS.value},
    "*": {"queue": Queue.DEFAULT.value},
}
