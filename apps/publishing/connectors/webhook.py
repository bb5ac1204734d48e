"""Publishing as a signed webhook: one POST per publication, Standard Webhooks headers.

The receiver (a CMS plugin, a Zapier hook, a team's own service) verifies
`webhook-signature` = v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
with the target's `whsec_` secret, and deduplicates by `webhook-id`, which is
the publication's idempotency key, so a retried delivery carries the same id.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from django.utils import timezone

from apps.core import signing
from apps.core.errors import DomainError
from apps.publishing.connectors import base
from apps.publishing.connectors.http import HttpConnector, checked, response_json, send
from apps.publishing.models import PublishingTarget

EVENT_TYPE = "publication.created"
UPDATE_EVENT_TYPE = "publication.updated"
# Sent only by "test connection": the receiver verifies it and publishes nothing.
PING_EVENT_TYPE = "ping"
EXTERNAL_ID_MAX = 500  # Publication.external_id
EXTERNAL_URL_MAX = 1000  # Publication.external_url


def payload(item: base.PublishItem, *, event_type: str = EVENT_TYPE) -> dict[str, Any]:
    """The event body, shaped as Standard Webhooks suggests: type, timestamp, data."""
    return {
        "type": event_type,
        "timestamp": item.published_at.isoformat(),
        "data": {
            "idempotency_key": item.idempotency_key,
            "publication_id": item.publication_id,
            "brief_id": item.brief_id,
            "revision": item.revision,
            "title": item.title,
            "body": item.body,
            "format": "markdown",
            "keywords": list(item.keywords),
            "language": item.language,
            "content_type": item.content_type,
        },
    }


def _signing_secret_refusal(secret: str) -> str | None:
    try:
        signing.secret_key(secret)
    except DomainError as exc:
        return f"{exc} Leave it empty to have one generated."
    return None


@dataclass(frozen=True, kw_only=True)
class WebhookConnector(HttpConnector):
    schema: ClassVar[base.TargetSchema] = base.TargetSchema(
        settings=(base.Setting("url", "the receiver's http(s) URL", required=True, check=base.http_url(
            "A webhook target needs an http(s) 'url' in its config.")),),
        secret="signing secret whsec_… (made when none is given)",
        secret_check=_signing_secret_refusal, secret_generate=signing.secret_generate,
        sends_to=base.config_url)

    url: str
    secret: str = field(repr=False)

    @classmethod
    def from_target(cls, target: PublishingTarget) -> WebhookConnector:
        return cls(url=str(target.config.get("url", "")), secret=base.target_secret(target))

    def validate(self) -> None:
        try:
            url = httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise base.PermanentPublishError(f"The webhook URL is invalid: {exc}.") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise base.PermanentPublishError("The webhook target needs an http(s) URL with a host.")
        self._signed(msg_id="check", body=b"")

    def check(self) -> None:
        """A signed `ping` event (no post): a receiver that verifies it answers 2xx, one
        that refuses the signing secret 401/403, which pauses the target."""
        self.validate()
        event = {"type": PING_EVENT_TYPE, "timestamp": timezone.now().isoformat(), "data": {}}
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"content-type": "application/json",
                   **self._signed(msg_id=f"ping-{uuid.uuid4()}", body=body)}
        with self.http_client() as client:
            checked(send(client, "POST", self.url, content=body, headers=headers),
                    doing="sending a signed ping")

    def publish(self, item: base.PublishItem) -> base.PublishResult:
        return self._deliver(payload(item), msg_id=item.idempotency_key)

    def update(self, external_id: str, item: base.PublishItem) -> base.PublishResult:
        """A `publication.updated` event with the new revision, naming the receiver's post.

        Its `webhook-id` is the key and the revision, so the receiver deduplicates
        retries of this update without taking it for the original delivery.
        """
        event = payload(item, event_type=UPDATE_EVENT_TYPE)
        event["data"]["external_id"] = external_id
        result = self._deliver(event, msg_id=f"{item.idempotency_key}-r{item.revision}")
        # A receiver that answers no id of its own keeps the post's first id.
        return base.PublishResult(external_id=external_id if result.external_id.startswith(
            item.idempotency_key) else result.external_id, external_url=result.external_url)

    def _signed(self, *, msg_id: str, body: bytes) -> dict[str, str]:
        try:
            return signing.signed_headers(secret=self.secret, msg_id=msg_id, body=body)
        except DomainError as exc:  # a malformed secret: replacing it is the only cure
            raise base.PermanentPublishError(f"The webhook target's secret is unusable: {exc}") from exc

    def _deliver(self, event: dict[str, Any], *, msg_id: str) -> base.PublishResult:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", **self._signed(msg_id=msg_id, body=body)}
        with self.http_client() as client:
            response = send(client, "POST", self.url, content=body, headers=headers)
        return _result(response, msg_id)

    def preview(self, item: base.PublishItem) -> base.Preview:
        return base.Preview(format="json", title=item.title,
                            parts=(json.dumps(payload(item), ensure_ascii=False, indent=2),))


def _result(response: httpx.Response, msg_id: str) -> base.PublishResult:
    """The receiver's post, from its 2xx answer; other answers sorted as every target's are
    (`checked`: a refused signing key pauses the target like refused credentials)."""
    data = response_json(checked(response, doing="delivering the post"))
    url = data.get("url")
    return base.PublishResult(
        external_id=_external_id(data.get("id")) or msg_id,
        external_url=url if isinstance(url, str) and url.startswith(("http://", "https://"))
        and len(url) <= EXTERNAL_URL_MAX else "",
    )


def _external_id(value: Any) -> str:
    """The receiver's id for the post, if it answered one (a string or an integer)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)[:EXTERNAL_ID_MAX]


