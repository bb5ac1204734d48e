"""Slack and Discord incoming webhooks: a short announcement in a team channel.

The webhook URL is the credential (either service lets anyone holding it
post), so it is the target's encrypted secret, never its public config.
Neither service takes an idempotency key or can be searched with the webhook
alone, so a connection dropped after the service accepted a message can
repeat it once on retry: for a channel notice we accept that rather than
risk never announcing (at-least-once, unlike the CMS and social connectors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import httpx

from apps.publishing.connectors import base
from apps.publishing.connectors.http import HttpConnector, base_url, checked, response_json, send
from apps.publishing.formatting import hashtags, plain_text, truncate
from apps.publishing.models import PublishingTarget

FLAVORS = ("slack", "discord")
DISCORD_CONTENT_MAX = 2000  # Discord refuses longer `content`
# Slack accepts 40,000 characters but truncates a message's display long
# before; an announcement links to the full post instead.
SLACK_TEXT_MAX = 3000
# Slack's answers to a message without text from a webhook URL it accepts: the check
# sends `{}`, which passes the URL's checks and shows nothing in the channel.
SLACK_NO_TEXT = ("no_text", "invalid_payload", "missing_text_or_fallback_or_attachments")


def message_text(item: base.PublishItem, *, limit: int, bold: str) -> str:
    tags = " ".join(hashtags(item.keywords))
    head = f"{bold}{item.title.strip()}{bold}"
    room = limit - len(head) - len(tags) - 4
    return "\n\n".join(p for p in (head, truncate(plain_text(item.body), room), tags) if p)


@dataclass(frozen=True, kw_only=True)
class ChatConnector(HttpConnector):
    schema: ClassVar[base.TargetSchema] = base.TargetSchema(
        settings=(base.Setting("flavor", "|".join(FLAVORS), check=base.one_of(
            FLAVORS, "A chat target's config 'flavor' is 'slack' or 'discord'.")),),
        secret="Slack/Discord incoming-webhook URL",
        secret_check=base.http_url("A chat target's secret is its incoming-webhook URL."),
        sends_to=base.secret_url)

    flavor: str
    webhook_url: str = field(repr=False)  # the credential

    @classmethod
    def from_target(cls, target: PublishingTarget) -> ChatConnector:
        return cls(flavor=str(target.config.get("flavor", "slack")),
                   webhook_url=base.target_secret(target))

    def validate(self) -> None:
        """One request the webhook URL (the credential) must pass, posting nothing: Discord
        answers a GET of its webhook (401/404 once revoked); Slack answers a message
        without text with 400 `no_text` while the URL works, and 403 `invalid_token`,
        404 `no_service` or 410 `channel_is_archived` once it does not."""
        if self.flavor not in FLAVORS:
            raise base.PermanentPublishError(f"A chat target's flavor is slack or discord, not "
                                             f"'{self.flavor}'.")
        base_url(self.webhook_url)
        with self.http_client() as client:
            if self.flavor == "discord":
                self._checked(send(client, "GET", self.webhook_url), doing="checking the webhook")
                return
            response = send(client, "POST", self.webhook_url, json={})
        if response.status_code == 400 and response.text.strip() in SLACK_NO_TEXT:
            return
        self._checked(response, doing="checking the webhook")

    def publish(self, item: base.PublishItem) -> base.PublishResult:
        with self.http_client() as client:
            if self.flavor == "discord":
                # wait=true: Discord answers the message it made, with its id.
                response = send(client, "POST", self.webhook_url, params={"wait": "true"},
                                json={"content": self._text(item)})
                message = response_json(self._checked(response, doing="posting the message"))
                return base.PublishResult(external_id=str(message.get("id", item.idempotency_key)))
            response = send(client, "POST", self.webhook_url, json={"text": self._text(item)})
            self._checked(response, doing="posting the message")
        return base.PublishResult(external_id=item.idempotency_key)

    def update(self, external_id: str, item: base.PublishItem) -> base.PublishResult:
        raise base.PermanentPublishError(
            f"A {self.flavor} incoming webhook can only post new messages, not edit one; "
            "announce the new revision as a new publication instead.")

    def preview(self, item: base.PublishItem) -> base.Preview:
        return base.Preview(format="text", title=item.title, parts=(self._text(item),))

    def _text(self, item: base.PublishItem) -> str:
        if self.flavor == "discord":
            return message_text(item, limit=DISCORD_CONTENT_MAX, bold="**")
        return message_text(item, limit=SLACK_TEXT_MAX, bold="*")

    def _checked(self, response: httpx.Response, *, doing: str) -> httpx.Response:
        # A deleted webhook answers 404 (Discord "Unknown Webhook", Slack
        # "no_service") and an archived Slack channel 410: the URL no longer works.
        if response.status_code in (404, 410):
            raise base.CredentialsRejected(
                f"The {self.flavor} webhook no longer exists (HTTP {response.status_code}: "
                f"{response.text.strip()[:200]}); replace its URL.", status=response.status_code)
        return checked(response, doing=doing)
