"""Connectors to publishing targets, chosen by the target's kind."""

from __future__ import annotations

from collections.abc import Callable

from apps.publishing.connectors.base import (
    Connector,
    CredentialsRejected,
    Engagement,
    PermanentPublishError,
    Preview,
    PublishError,
    PublishItem,
    PublishResult,
    RemoteConnector,
    TransientPublishError,
    WithdrawableConnector,
)
from apps.publishing.connectors.chat import ChatConnector
from apps.publishing.connectors.file import FileConnector
from apps.publishing.connectors.ghost import GhostConnector
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.connectors.webhook import WebhookConnector
from apps.publishing.connectors.wordpress import WordPressConnector
from apps.publishing.models import PublishingTarget, TargetKind

CONNECTORS: dict[str, Callable[[PublishingTarget], Connector]] = {
    TargetKind.WEBHOOK: WebhookConnector.from_target,
    TargetKind.FILE: FileConnector.from_target,
    TargetKind.WORDPRESS: WordPressConnector.from_target,
    TargetKind.GHOST: GhostConnector.from_target,
    TargetKind.MASTODON: MastodonConnector.from_target,
    TargetKind.CHAT: ChatConnector.from_target,
}


def connector_for(target: PublishingTarget) -> Connector:
    """The connector for `target`, configured with its decrypted secret."""
    factory = CONNECTORS.get(target.kind)
    if factory is None:
        raise PermanentPublishError(f"No connector publishes to targets of kind '{target.kind}'.")
    return factory(target)


__all__ = [
    "Connector",
    "CredentialsRejected",
    "Engagement",
    "PermanentPublishError",
    "PublishError",
    "PublishItem",
    "Preview",
    "PublishResult",
    "RemoteConnector",
    "TransientPublishError",
    "WithdrawableConnector",
    "connector_for",
]
