"""Connectors to publishing targets, chosen by the target's kind."""

from __future__ import annotations

from apps.core.errors import DomainError
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
    TargetSchema,
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

CONNECTORS: dict[str, type[Connector]] = {
    TargetKind.WEBHOOK: WebhookConnector,
    TargetKind.FILE: FileConnector,
    TargetKind.WORDPRESS: WordPressConnector,
    TargetKind.GHOST: GhostConnector,
    TargetKind.MASTODON: MastodonConnector,
    TargetKind.CHAT: ChatConnector,
}


def connector_for(target: PublishingTarget) -> Connector:
    """The connector for `target`, configured with its decrypted secret."""
    connector = CONNECTORS.get(target.kind)
    if connector is None:
        raise PermanentPublishError(f"No connector publishes to targets of kind '{target.kind}'.")
    return connector.from_target(target)


def target_schema(kind: str) -> TargetSchema:
    """What a target of `kind` holds, as its connector declares it; DomainError for a kind
    no connector publishes to."""
    connector = CONNECTORS.get(kind)
    if connector is None:
        raise DomainError(f"Unknown target kind '{kind}'.")
    return connector.schema


def config_help() -> str:
    """Each kind's config keys, for the admin's help ('*': required)."""
    return "; ".join(f"{kind}: {c.schema.config_help()}" for kind, c in CONNECTORS.items())


def secret_help() -> str:
    """What each kind's secret is, for the admin's help."""
    return "; ".join(f"{kind} {c.schema.secret}" for kind, c in CONNECTORS.items()
                     if c.schema.secret)


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
    "TargetSchema",
    "TransientPublishError",
    "WithdrawableConnector",
    "config_help",
    "connector_for",
    "secret_help",
    "target_schema",
]
