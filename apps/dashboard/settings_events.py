"""Settings pages follow one another's changes live.

Every change to a workspace's settings goes through a service that audits it, whether it
came from the dashboard, the REST API or the Django admin; so the audit entry of a settings
row is what is told, after commit, to the workspace's admins' sockets as the live-only
`settings.changed`, and their settings pages read themselves again (live.js). Only admins'
sockets hear it: settings are theirs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import models, transaction

from apps.accounts.models import Membership
from apps.apikeys.models import ApiKey
from apps.briefs.models import ContentType
from apps.core.models import AuditEvent, Workspace
from apps.core.realtime import consumers_tell, progress_send
from apps.dashboard.consumers import member_group
from apps.evaluation.models import QualityGate
from apps.generation.models import ModelProfile
from apps.integrations.models import Delivery, InboundEndpoint, Subscription
from apps.publishing.models import PublishingTarget
from apps.reviews.models import ApprovalPolicy

SETTINGS_MODELS: tuple[type[models.Model], ...] = (
    Workspace, Membership, ApiKey, PublishingTarget, ContentType, QualityGate, ApprovalPolicy,
    ModelProfile, InboundEndpoint, Subscription, Delivery)
SETTINGS_SUBJECTS = frozenset(model._meta.model_name for model in SETTINGS_MODELS)


def settings_change_announce(sender: type[AuditEvent], instance: AuditEvent, created: bool,
                             **_: Any) -> None:
    """post_save of AuditEvent: a new entry about a settings row is sent once it commits."""
    if not created or instance.subject_type not in SETTINGS_SUBJECTS:
        return
    transaction.on_commit(partial(
        progress_send, workspace_id=instance.workspace_id, type="settings.changed",
        subject=instance, admins_only=True,
        payload={"action": instance.action, "subject_type": instance.subject_type,
                 "subject_id": instance.subject_id, "by": instance.actor_label}))


def membership_change_announce(sender: type[Membership], instance: Membership, **_: Any) -> None:
    """post_save and post_delete of Membership: once it commits, the user's sockets on the
    workspace check their role again (apps.dashboard.consumers), whichever way it changed."""
    transaction.on_commit(partial(
        consumers_tell, member_group(user_id=instance.user_id, workspace_id=instance.workspace_id),
        "membership.changed"))
