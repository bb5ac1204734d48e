"""Publishing targets: their settings checked, their secrets stored encrypted and rotated,
and their health (refused credentials, a circuit breaker over transient failures, the rate
limit's next slot) deciding when a post to them may start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.breaker import BREAKER_FIELDS, Breaker, breaker_open
from apps.core.changes import changes_check, changes_save
from apps.core.crypto import secret_encrypt, secret_rotate
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record, event_emit
from apps.publishing.connectors import target_schema
from apps.publishing.models import PublishingTarget


def target_config_validate(kind: str, config: dict[str, Any], secret: str = "") -> None:
    """DomainError when `kind` has no connector, or its connector's schema refuses `config`
    or `secret` (an empty secret: the stored one is kept)."""
    target_schema(kind).check(config, secret)


@transaction.atomic
def target_create(*, workspace: Workspace, name: str, kind: str, config: dict[str, Any],
                  secret: str = "", enabled: bool = True, auto_publish: bool = True,
                  min_interval_s: int = 0, actor: Actor = None) -> PublishingTarget:
    schema = target_schema(kind)
    schema.check(config, secret)
    if not secret and schema.secret_generate is not None:
        secret = schema.secret_generate()
    target = PublishingTarget.objects.create(
        workspace=workspace, name=name, kind=kind, config=config,
        secret_encrypted=secret_encrypt(secret), enabled=enabled, auto_publish=auto_publish,
        min_interval_s=min_interval_s,
    )
    audit_record(workspace_id=workspace.pk, action="target.created", subject=target, actor=actor,
                 after={"name": name, "kind": kind})
    return target


# What may change on a target besides its secret; `kind` stays (another kind is another target).
TARGET_FIELDS = ("name", "config", "enabled", "auto_publish", "min_interval_s")


@transaction.atomic
def target_update(*, target: PublishingTarget, secret: str | None = None, actor: Actor = None,
                  **changes: Any) -> PublishingTarget:
    """Change some of TARGET_FIELDS and/or replace the secret, checked together against the
    target's kind. Audited (`target.updated`, public fields only) and emitted as
    `target.updated` naming what changed; a new secret goes through `target_secret_set`.
    Disabling a target keeps it out of new publications (and engagement pulls)."""
    changes_check(changes, TARGET_FIELDS, rows="Targets")
    target_config_validate(target.kind, changes.get("config", target.config), secret or "")
    target = PublishingTarget.objects.select_for_update().get(pk=target.pk)
    before = changes_save(target, changes)
    if before:
        audit_record(workspace_id=target.workspace_id, action="target.updated", subject=target,
                     actor=actor, before=before, after={name: changes[name] for name in before})
    changed = list(before)
    if secret is not None:
        target_secret_set(target=target, secret=secret, actor=actor)
        changed.append("secret")
    if changed:
        event_emit(workspace_id=target.workspace_id, type="target.updated", subject=target,
                   payload={"target_id": target.pk, "name": target.name, "changed": changed,
                            "enabled": target.enabled})
    return target


@transaction.atomic
def target_secret_set(*, target: PublishingTarget, secret: str, actor: Actor = None
                      ) -> PublishingTarget:
    """Replace the target's credentials (stored encrypted, never shown again) and lift a
    pause for rejected credentials (`target.resumed`): the next attempt tries the new ones,
    and publications held by the pause go out within CREDENTIALS_RECHECK."""
    if not secret:
        raise DomainError("Send the new secret; a target's secret cannot be made empty.")
    target_config_validate(target.kind, target.config, secret)
    resumed = PublishingTarget.objects.select_for_update().values_list(
        "credentials_rejected", flat=True).get(pk=target.pk)
    target.secret_encrypted = secret_encrypt(secret)
    fields = ["secret_encrypted", "updated_at"]
    if resumed:  # a pause of the circuit breaker keeps its own reason
        target.credentials_rejected, target.pause_reason = False, ""
        fields += ["credentials_rejected", "pause_reason"]
    target.save(update_fields=fields)
    audit_record(workspace_id=target.workspace_id, action="target.secret_set", subject=target,
                 actor=actor)
    if resumed:
        audit_record(workspace_id=target.workspace_id, action="target.resumed", subject=target,
                     actor=actor, after={"cause": "credentials"})
        event_emit(workspace_id=target.workspace_id, type="target.resumed", subject=target,
                   payload={"target_id": target.pk, "name": target.name,
                            "cause": "credentials"})
    return target


def target_secrets_rotate() -> int:
    """Re-encrypt every target's secret with the newest key (AIGC_ENCRYPTION_KEYS[0]), so
    an old key can then be removed; returns how many were rewritten. Row by row, so a
    long run never holds one big transaction."""
    rotated = 0
    for target_id, token in PublishingTarget.objects.exclude(secret_encrypted="").values_list(
            "id", "secret_encrypted").iterator():
        fresh = secret_rotate(token)
        rotated += PublishingTarget.objects.filter(pk=target_id, secret_encrypted=token).update(
            secret_encrypted=fresh)
    return rotated


@transaction.atomic
def target_credentials_rejected(*, target_id: int, reason: str) -> None:
    """Pause the target until its secret is replaced, and tell the workspace's editors
    (`target.paused`, cause "credentials"); recorded as the last check either way."""
    target = PublishingTarget.objects.select_for_update().get(pk=target_id)
    already = target.credentials_rejected
    target.credentials_rejected = True
    target.pause_reason = reason[:5000]
    target.last_check_at, target.last_check_ok = timezone.now(), False
    target.last_check_message = reason[:5000]
    target.save(update_fields=["credentials_rejected", "pause_reason", "last_check_at",
                               "last_check_ok", "last_check_message", "updated_at"])
    if already:
        return
    audit_record(workspace_id=target.workspace_id, action="target.paused", subject=target,
                 actor_label="publishing", after={"reason": reason[:500]})
    event_emit(workspace_id=target.workspace_id, type="target.paused", subject=target,
               payload={"target_id": target.pk, "name": target.name, "reason": reason[:500],
                        "cause": "credentials", "until": None})


def target_credentials_accepted(*, target_id: int) -> None:
    now = timezone.now()
    PublishingTarget.objects.filter(pk=target_id).update(
        credentials_checked_at=now, last_check_at=now, last_check_ok=True, last_check_message="")


def target_check_failed(*, target_id: int, message: str) -> None:
    """A connection check that failed for another reason than the credentials (the target
    unreachable, a configuration it refuses): recorded, nothing paused."""
    PublishingTarget.objects.filter(pk=target_id).update(
        last_check_at=timezone.now(), last_check_ok=False, last_check_message=message[:5000])


# Circuit breaker: 5 transient failures in a row (a target down for a few
# minutes yields about 2 per publication) pause the target for 10 minutes,
# so a dead CMS is not hammered by every queued publication's retries.
BREAKER_THRESHOLD = 5
BREAKER_PAUSE = timedelta(minutes=10)
TARGET_BREAKER = Breaker(threshold=BREAKER_THRESHOLD, pause=BREAKER_PAUSE)


@transaction.atomic
def target_failure_record(*, target_id: int, error: str) -> bool:
    """Count a transient failure; True when it opened the circuit (the target pauses)."""
    target = PublishingTarget.objects.select_for_update().get(pk=target_id)
    opened = TARGET_BREAKER.failure(target, now=timezone.now())
    fields = ["consecutive_failures", "updated_at"]
    if opened:
        target.pause_reason = f"{target.consecutive_failures} failures in a row; last: {error}"
        fields += ["paused_until", "pause_reason"]
    target.save(update_fields=fields)
    if opened:
        assert target.paused_until is not None  # the breaker set it as it opened
        audit_record(workspace_id=target.workspace_id, action="target.paused", subject=target,
                     actor_label="publishing", after={"reason": target.pause_reason[:500]})
        event_emit(workspace_id=target.workspace_id, type="target.paused", subject=target,
                   payload={"target_id": target.pk, "name": target.name,
                            "reason": target.pause_reason[:500], "cause": "failures",
                            "until": target.paused_until.isoformat()})
    return opened


@transaction.atomic
def target_success_record(*, target_id: int) -> None:
    """Close the circuit: a success resets the failure count, and the first one after a
    pause of the breaker ends it (`target.resumed`, cause "failures")."""
    target = PublishingTarget.objects.select_for_update().filter(pk=target_id).exclude(
        consecutive_failures=0, paused_until=None).first()
    if target is None:
        return
    resumed = TARGET_BREAKER.success(target)
    fields = [*BREAKER_FIELDS, "updated_at"]
    if resumed and not target.credentials_rejected:
        target.pause_reason = ""
        fields.append("pause_reason")
    target.save(update_fields=fields)
    if resumed:
        audit_record(workspace_id=target.workspace_id, action="target.resumed", subject=target,
                     actor_label="publishing", after={"cause": "failures"})
        event_emit(workspace_id=target.workspace_id, type="target.resumed", subject=target,
                   payload={"target_id": target.pk, "name": target.name, "cause": "failures"})


# A target paused for its credentials is looked at again this often (its
# publications wait, scheduled, until an editor replaces the secret).
CREDENTIALS_RECHECK = timedelta(minutes=5)


def target_hold_until(target: PublishingTarget, now: datetime) -> datetime | None:
    """When a post to `target` may start, if not now: a pause, or the rate limit's next slot."""
    if target.credentials_rejected:
        return now + CREDENTIALS_RECHECK
    if breaker_open(target, now):
        return target.paused_until
    if target.next_slot_at and target.next_slot_at > now:
        return target.next_slot_at
    return None
