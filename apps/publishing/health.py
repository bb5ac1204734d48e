"""Channel health: the "test connection" check of a target's credentials.

Network between short transactions, like `outcomes`: no row is locked while a
target answers.
"""

from __future__ import annotations

from apps.publishing.connectors import CredentialsRejected, PublishError, connector_for
from apps.publishing.models import PublishingTarget
from apps.publishing.targets import target_credentials_accepted, target_credentials_rejected


def target_test_connection(*, target: PublishingTarget) -> tuple[bool, str]:
    """(ok, message): the target's connector validates its config and credentials.

    Refused credentials pause the target exactly as a refused post does;
    accepted ones are stamped `credentials_checked_at`. A paused target stays
    paused until its secret is replaced (`target_secret_set`).
    """
    try:
        connector_for(target).validate()
    except CredentialsRejected as exc:
        target_credentials_rejected(target_id=target.pk, reason=exc.message)
        return False, exc.message
    except PublishError as exc:
        return False, exc.message
    target_credentials_accepted(target_id=target.pk)
    return True, f"{target.name}: connection and credentials work."
