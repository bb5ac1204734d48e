"""Connectors to publishing targets, chosen by the target's kind."""

from __future__ import annotations

from collections.abc import Callable

from apps.publishing.connectors.base import (
    Connector,
    PermanentPublishError,
    PublishError,
    PublishItem,
    PublishResult,
    TransientPublishError,
)
from apps.publishing.connectors.file import FileConnector
from apps.publishing.connectors.webhook import WebhookConnector
from apps.publishing.models import PublishingTarget, TargetKind

CONNECTORS: dict[str, Callable[[PublishingTarget], Connector]] = {
    TargetKind.WEBHOOK: WebhookConnector.from_target,
    TargetKind.FILE: FileConnector.from_target,
}


def connector_for(target: PublishingTarget) -> Connector:
    """The connector for `target`, configured with its decrypted secret."""
    factory = CONNECTORS.get(target.kind)
    if factory is None:
        raise PermanentPublishError(f"No connector publishes to targets of kind '{target.kind}'.")
    return factory(target)


__all__ = [
    "Connector",
    "PermanentPublishError",
    "PublishError",
    "PublishItem",
    "PublishResult",
    "TransientPublishError",
    "connector_for",
]
