"""Engagement pulled from the targets into publications (beat), for the evaluation
report and for choosing fine-tuning data."""

from __future__ import annotations

import logging

from apps.publishing.connectors import (
    CredentialsRejected,
    PublishError,
    RemoteConnector,
    connector_for,
)
from apps.publishing.selectors import publications_for_engagement
from apps.publishing.services import publication_engagement_record
from apps.publishing.targets import target_credentials_rejected

logger = logging.getLogger(__name__)


def engagement_pull(*, limit: int = 500) -> int:
    """Refresh the engagement of recent posts; returns how many were updated.

    One failing target does not stop the others: its posts keep their last
    counts and are asked again next time (they sort first, least recent).
    """
    updated = 0
    failed_targets: set[int] = set()
    for publication in publications_for_engagement(limit=limit):
        if publication.target_id in failed_targets:
            continue
        try:
            connector = connector_for(publication.target)
            if not isinstance(connector, RemoteConnector):  # the selector asks remote kinds only
                continue
            engagement = connector.engagement(publication.external_id)
        except CredentialsRejected as exc:
            target_credentials_rejected(target_id=publication.target_id, reason=exc.message)
            failed_targets.add(publication.target_id)
            continue
        except PublishError as exc:
            logger.warning("engagement of publication %s: %s", publication.pk, exc.message)
            failed_targets.add(publication.target_id)
            continue
        publication_engagement_record(publication_id=publication.pk,
                                      engagement=engagement.as_dict())
        updated += 1
    return updated
