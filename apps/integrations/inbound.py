"""Inbound webhooks: a signed, idempotent push from another system becomes a brief."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.briefs.models import Origin
from apps.briefs.serializers import BriefCreateSerializer
from apps.core import signing
from apps.core.changes import changes_check, changes_save
from apps.core.crypto import secret_decrypt, secret_encrypt
from apps.core.errors import DomainError, NotFound
from apps.core.json_input import JsonRejected, json_checked
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record
from apps.integrations.models import EndpointSecret, InboundDelivery, InboundEndpoint
from apps.workflow.services import brief_create

MAPPABLE_FIELDS = frozenset(BriefCreateSerializer().fields)


class PayloadTooLarge(DomainError):
    status_code = 413


@dataclass(frozen=True)
class InboundAnswer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def mapping_validate(mapping: Mapping[str, Any]) -> None:
    unknown = sorted(set(mapping) - MAPPABLE_FIELDS)
    if unknown:
        raise DomainError(f"Not brief fields: {', '.join(unknown)}.")
    if not all(isinstance(path, str) and path for path in mapping.values()):
        raise DomainError("Each mapping value is a dotted path such as 'article.title'.")


@transaction.atomic
def endpoint_create(*, workspace: Workspace, name: str, slug: str, content_type_id: int,
                    field_mapping: dict[str, str] | None = None,
                    defaults: dict[str, Any] | None = None, actor: Actor = None
                    ) -> tuple[InboundEndpoint, str]:
    """An endpoint with one generated secret, returned once in plaintext."""
    mapping_validate(field_mapping or {})
    try:
        # Slugs are one namespace (the hook's public URL): the unique constraint decides
        # between two concurrent creations, and the loser hears why.
        with transaction.atomic():
            endpoint = InboundEndpoint.objects.create(
                workspace=workspace, name=name, slug=slug, content_type_id=content_type_id,
                field_mapping=field_mapping or {}, defaults=defaults or {},
            )
    except IntegrityError as exc:
        raise DomainError("This slug is taken: choose another.") from exc
    secret = endpoint_secret_rotate(endpoint=endpoint, actor=actor)
    return endpoint, secret


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: InboundEndpoint, keep_old_for: timedelta = timedelta(days=1),
                           actor: Actor = None) -> str:
    """Add a new secret; the current ones stay valid for `keep_old_for` so senders can switch."""
    expires = timezone.now() + keep_old_for
    EndpointSecret.objects.filter(endpoint=endpoint, expires_at__isnull=True).update(
        expires_at=expires)
    secret = signing.secret_generate()
    EndpointSecret.objects.create(endpoint=endpoint, secret_encrypted=secret_encrypt(secret))
    audit_record(workspace_id=endpoint.workspace_id, action="endpoint.secret_rotated",
                 subject=endpoint, actor=actor)
    return secret


# What an API client may change on an endpoint besides its secrets; the slug (the senders'
# URL) stays.
ENDPOINT_FIELDS = ("name", "content_type_id", "field_mapping", "defaults", "max_body_bytes",
                   "enabled")


@transaction.atomic
def endpoint_update(*, endpoint: InboundEndpoint, secret: str | None = None, actor: Actor = None,
                    **changes: Any) -> InboundEndpoint:
    """Change some of ENDPOINT_FIELDS and/or replace the secrets (`endpoint_secret_replace`);
    audited as `endpoint.updated` with what changed. A disabled endpoint answers 404."""
    changes_check(changes, ENDPOINT_FIELDS, rows="Inbound endpoints")
    if "field_mapping" in changes:
        mapping_validate(changes["field_mapping"])
    endpoint = InboundEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = changes_save(endpoint, changes)
    if before:
        audit_record(workspace_id=endpoint.workspace_id, action="endpoint.updated",
                     subject=endpoint, actor=actor, before=before,
                     after={n: changes[n] for n in before})
    if secret is not None:
        endpoint_secret_replace(endpoint=endpoint, secret=secret, actor=actor)
    return endpoint


@transaction.atomic
def endpoint_secret_replace(*, endpoint: InboundEndpoint, secret: str, actor: Actor = None
                            ) -> None:
    """`secret` (whsec_…) becomes the endpoint's only secret at once: every other one stops
    working now, for a leaked secret; `endpoint_secret_rotate` keeps the old ones a while."""
    signing.secret_key(secret)  # refuses a malformed secret with the reason
    EndpointSecret.objects.filter(endpoint=endpoint).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).update(
        expires_at=timezone.now())
    EndpointSecret.objects.create(endpoint=endpoint, secret_encrypted=secret_encrypt(secret))
    audit_record(workspace_id=endpoint.workspace_id, action="endpoint.secret_replaced",
                 subject=endpoint, actor=actor)


def _active_secrets(endpoint: InboundEndpoint, now: datetime) -> list[str]:
    rows = endpoint.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return [secret_decrypt(row.secret_encrypted) for row in rows.order_by("-id")]


def _pluck(payload: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(payload, dict) and part in payload:
            payload = payload[part]
        elif isinstance(payload, list) and part.isdigit() and int(part) < len(payload):
            payload = payload[int(part)]
        else:
            return None
    return payload


def brief_fields_from(endpoint: InboundEndpoint, payload: Any, message_id: str) -> dict[str, Any]:
    """The sender's payload seen through the endpoint's mapping, over its defaults."""
    fields: dict[str, Any] = {"content_type": str(endpoint.content_type_id),
                              "external_id": message_id, **endpoint.defaults}
    for field, path in endpoint.field_mapping.items():
        value = _pluck(payload, path)
        if value not in (None, ""):  # a sender's empty field leaves the default
            fields[field] = value
    return fields


def inbound_receive(*, slug: str, headers: Mapping[str, str], body: bytes) -> InboundAnswer:
    """Verify, deduplicate, map and create: the answer to give, stored for replays.

    Refusals before the signature is checked (unknown endpoint, oversized body,
    bad signature) raise and are not stored; after it, every answer is stored
    under the idempotency key, so a replay gets it again and creates nothing.
    """
    endpoint = InboundEndpoint.objects.select_related("workspace").filter(
        slug=slug, enabled=True).first()
    if endpoint is None:
        raise NotFound(f"No enabled inbound endpoint '{slug}'.")
    if len(body) > endpoint.max_body_bytes:
        raise PayloadTooLarge(f"The body is larger than {endpoint.max_body_bytes} bytes.")
    message_id = signing.verify(secrets_=_active_secrets(endpoint, timezone.now()),
                                headers=headers, body=body)
    key = (headers.get("idempotency-key") or message_id)[:200]
    earlier = InboundDelivery.objects.filter(endpoint=endpoint, message_id=key).first()
    if earlier is not None:
        return InboundAnswer(earlier.response_status, earlier.response_body, replayed=True)
    try:
        with transaction.atomic():
            answer, brief_id = _create_brief(endpoint, body, message_id)
            InboundDelivery.objects.create(endpoint=endpoint, message_id=key, brief_id=brief_id,
                                           response_status=answer.status, response_body=answer.body)
    except IntegrityError:  # the same id raced in: the first one's answer stands
        earlier = InboundDelivery.objects.get(endpoint=endpoint, message_id=key)
        return InboundAnswer(earlier.response_status, earlier.response_body, replayed=True)
    return answer


def _create_brief(endpoint: InboundEndpoint, body: bytes, message_id: str
                  ) -> tuple[InboundAnswer, int | None]:
    try:
        payload = json_checked(body)
    except JsonRejected as exc:
        return InboundAnswer(400, {"detail": str(exc)}), None
    except ValueError as exc:  # json's errors, undecodable bytes included
        return InboundAnswer(400, {"detail": f"The body is not JSON: {exc}."}), None
    fields = BriefCreateSerializer(data=brief_fields_from(endpoint, payload, message_id),
                                   context={"workspace": endpoint.workspace})
    if not fields.is_valid():
        return InboundAnswer(422, {"detail": "The mapped brief is invalid.",
                                   "errors": fields.errors}), None
    try:  # in a savepoint of its own: a refusal leaves nothing written
        brief = brief_create(workspace=endpoint.workspace, origin=Origin.WEBHOOK, submit=True,
                             **fields.validated_data)
    except DomainError as exc:
        return InboundAnswer(409, {"detail": str(exc)}), None
    return InboundAnswer(202, {
        "brief_id": brief.pk, "state": brief.state,
        "status_url": reverse("api:brief-detail", kwargs={"brief_id": brief.pk}),
    }), brief.pk
