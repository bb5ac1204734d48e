"""Channel health: the "test connection" check of a target's credentials.

Network between short transactions, like `outcomes`: no row is locked while a
target answers.
"""

from __future__ import annotations

from apps.publishing.connectors import CredentialsRejected, PublishError, connector_for
from apps.publishing.connectors.base import CheckableConnector
from apps.publishing.models import PublishingTarget
from apps.publishing.targets import (
    target_check_failed,
    target_credentials_accepted,
    target_credentials_rejected,
)


def target_test_connection(*, target: PublishingTarget) -> tuple[bool, str]:
    """(ok, message): the target's connector validates its config and credentials with
    one authenticated request.

    Refused credentials pause the target exactly as a refused post does; accepted ones
    are stamped `credentials_checked_at`. Every outcome is the target's last check
    (`last_check_at`, `last_check_ok`, `last_check_message`). A paused target stays
    paused until its secret is replaced (`target_secret_set`).
    """
    connector = connector_for(target)
    try:
        if isinstance(connector, CheckableConnector):
            connector.check()
        else:
            connector.validate()
    except CredentialsRejected as exc:
        target_credentials_rejected(target_id=target.pk, reason=exc.message)
        return False, exc.message
    except PublishError as exc:
        target_check_failed(target_id=target.pk, message=exc.message)
        return False, exc.message
    target_credentials_accepted(target_id=target.pk)
    return True, f"{target.name}: connection and credentials work."
