"""Mastodon (and servers speaking its API: GoToSocial, Pleroma, Akkoma…).

A post is the brief's title, the text as plain text and hashtags from its
keywords. Text longer than the server's limit (`configuration.statuses.
max_characters` from `/api/v2/instance`; 500 on mastodon.social, other servers
differ) becomes a numbered reply thread. Each status carries an
`Idempotency-Key` (the publication's key and the part's number): the server
answers a repeated key with the status it already made (for an hour), so a
retry after a lost answer never posts twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from apps.publishing.connectors import base
from apps.publishing.connectors.http import HttpConnector, base_url, checked, response_json, send
from apps.publishing.formatting import hashtags, plain_text, thread_split
from apps.publishing.models import PublishingTarget

VISIBILITIES = ("public", "unlisted", "private", "direct")
DEFAULT_MAX_CHARACTERS = 500  # Mastodon's own default, when a server does not say
DEFAULT_URL_LENGTH = 23
# A thread of 20 parts is ~10,000 characters, already more than anyone reads
# on a timeline; and 20 ids fit Publication.external_id (500 characters).
MAX_PARTS = 20
MIN_ROOM = 50  # below this a numbered part holds a word or two, and thread splitting may not settle
MAX_CHARACTERS_MAX = 100_000


def status_text(item: base.PublishItem) -> str:
    tags = " ".join(hashtags(item.keywords))
    return "\n\n".join(p for p in (item.title.strip(), plain_text(item.body), tags) if p)


@dataclass(frozen=True, kw_only=True)
class MastodonConnector(HttpConnector):
    schema: ClassVar[base.TargetSchema] = base.TargetSchema(
        settings=(base.site_url("mastodon"), base.Setting("visibility", "|".join(VISIBILITIES)),
                  base.Setting("spoiler_text", "content warning"),
                  base.Setting("language", "language tag"),
                  # Previews split a thread at this length: a few characters leave no room
                  # for the " (i/n)" numbering, and below about 10 the split never settles.
                  base.Setting("max_characters", f"{MIN_ROOM}-{MAX_CHARACTERS_MAX} (previews)",
                               check=base.whole_number(
                                   MIN_ROOM, MAX_CHARACTERS_MAX,
                                   "A Mastodon target's 'max_characters' is a whole number from "
                                   f"{MIN_ROOM} to {MAX_CHARACTERS_MAX}."))),
        secret="access token", sends_to=base.config_url)

    url: str
    token: str = field(repr=False)
    visibility: str = "public"
    spoiler_text: str = ""
    language: str = ""
    max_characters: int = DEFAULT_MAX_CHARACTERS  # for previews; publishing asks the server

    @classmethod
    def from_target(cls, target: PublishingTarget) -> MastodonConnector:
        config = target.config
        max_characters = config.get("max_characters", DEFAULT_MAX_CHARACTERS)
        if type(max_characters) is not int:  # a config edited around the schema's check
            raise base.PermanentPublishError("The target's 'max_characters' is not a whole number.")
        return cls(url=str(config.get("url", "")), token=base.target_secret(target),
                   visibility=str(config.get("visibility", "public")),
                   spoiler_text=str(config.get("spoiler_text", "")),
                   language=str(config.get("language", "")),
                   max_characters=max_characters)

    def validate(self) -> None:
        """The token is valid (one GET of the account it belongs to)."""
        if self.visibility not in VISIBILITIES:
            raise base.PermanentPublishError(
                f"A Mastodon target's visibility is one of {', '.join(VISIBILITIES)}, "
                f"not '{self.visibility}'."
            )
        if not self.token:
            raise base.PermanentPublishError("A Mastodon target needs an access token as its secret.")
        with self._client() as client:
            checked(send(client, "GET", self._api("v1/accounts/verify_credentials")),
                    doing="checking the access token")

    def publish(self, item: base.PublishItem) -> base.PublishResult:
        with self._client() as client:
            limit, url_length = self._limits(client)
            parts = self._parts(item, limit, url_length)
            statuses = self._post_replies(client, item, parts, start=1, after=None,
                                          key=item.idempotency_key)
        return _result(statuses)

    def update(self, external_id: str, item: base.PublishItem) -> base.PublishResult:
        """Edits every status of the thread in place (`PUT /api/v1/statuses/:id`), in order,
        to the new text's parts. A text needing more parts gets the extra ones posted as
        replies to the last status; one needing fewer has the surplus statuses deleted,
        the last first. The result's external id lists the thread as it now stands.

        Safe to repeat: edits and deletes are idempotent, and the extra replies carry an
        Idempotency-Key of the publication's key, the revision and the part's number
        (the server keeps those an hour; the update task's retries take minutes)."""
        ids = external_id.split(",")
        with self._client() as client:
            limit, url_length = self._limits(client)
            parts = self._parts(item, limit, url_length)
            statuses = []
            for number, (status_id, text) in enumerate(zip(ids, parts, strict=False), 1):
                statuses.append(response_json(checked(
                    send(client, "PUT", self._api(f"v1/statuses/{status_id}"),
                         json=self._body(item, text)),
                    doing=f"editing part {number} of {len(parts)}")))
            statuses += self._post_replies(client, item, parts[len(ids):], start=len(ids) + 1,
                                           after=str(statuses[-1]["id"]),
                                           key=f"{item.idempotency_key}-r{item.revision}")
            for status_id in reversed(ids[len(parts):]):
                self._delete(client, status_id)
        return _result(statuses)

    def unpublish(self, external_id: str) -> None:
        """Deletes every status of the thread, the replies first."""
        with self._client() as client:
            for status_id in reversed(external_id.split(",")):
                self._delete(client, status_id)

    def engagement(self, external_id: str) -> base.Engagement:
        """Favourites, boosts and replies of the thread's first status; our own
        continuation of the thread is not counted as a reply."""
        ids = external_id.split(",")
        with self._client() as client:
            status = response_json(checked(send(client, "GET", self._api(f"v1/statuses/{ids[0]}")),
                                           doing="reading the status"))
        own_replies = 1 if len(ids) > 1 else 0
        return base.Engagement(likes=int(status.get("favourites_count", 0)),
                               shares=int(status.get("reblogs_count", 0)),
                               replies=max(int(status.get("replies_count", 0)) - own_replies, 0))

    def preview(self, item: base.PublishItem) -> base.Preview:
        parts = thread_split(status_text(item), limit=self._room(self.max_characters))
        warnings = (f"Split into a thread of {len(parts)} posts.",) if len(parts) > 1 else ()
        return base.Preview(format="text", title=item.title, parts=tuple(parts), warnings=warnings)

    def _client(self) -> httpx.Client:
        return self.http_client(headers={"authorization": f"Bearer {self.token}"})

    def _body(self, item: base.PublishItem, text: str) -> dict[str, Any]:
        """A status's text, language and content warning (what an edit may change too)."""
        body: dict[str, Any] = {"status": text, "language": self.language or item.language}
        if self.spoiler_text:
            body["spoiler_text"] = self.spoiler_text
        return body

    def _post_replies(self, client: httpx.Client, item: base.PublishItem, parts: list[str], *,
                      start: int, after: str | None, key: str) -> list[dict[str, Any]]:
        """`parts` posted as a chain of replies to `after` (None: the first starts a thread),
        part `start` first; each with the Idempotency-Key `<key>-<part number>`."""
        statuses: list[dict[str, Any]] = []
        total = start + len(parts) - 1
        for number, text in enumerate(parts, start):
            body = self._body(item, text) | {"visibility": self.visibility}
            if after is not None:
                body["in_reply_to_id"] = after
            response = send(client, "POST", self._api("v1/statuses"), json=body,
                            headers={"idempotency-key": f"{key}-{number}"})
            statuses.append(response_json(checked(
                response, doing=f"posting part {number} of {total}")))
            after = str(statuses[-1]["id"])
        return statuses

    def _delete(self, client: httpx.Client, status_id: str) -> None:
        response = send(client, "DELETE", self._api(f"v1/statuses/{status_id}"))
        if response.status_code != 404:  # already gone is what we wanted
            checked(response, doing="deleting the status")

    def _api(self, path: str) -> str:
        return f"{base_url(self.url)}/api/{path}"

    def _limits(self, client: httpx.Client) -> tuple[int, int]:
        """The server's character limit and the length it counts per URL."""
        instance = response_json(checked(send(client, "GET", self._api("v2/instance")),
                                         doing="reading the server's limits"))
        statuses = (instance.get("configuration") or {}).get("statuses") or {}
        return (int(statuses.get("max_characters", DEFAULT_MAX_CHARACTERS)),
                int(statuses.get("characters_reserved_per_url", DEFAULT_URL_LENGTH)))

    def _room(self, limit: int) -> int:
        """Characters a part may use: the content warning counts on every part."""
        room = limit - len(self.spoiler_text)
        if room < MIN_ROOM:
            raise base.PermanentPublishError(
                f"The server allows {limit} characters; the content warning leaves too few."
            )
        return room

    def _parts(self, item: base.PublishItem, limit: int, url_length: int) -> list[str]:
        parts = thread_split(status_text(item), limit=self._room(limit), url_length=url_length)
        if len(parts) > MAX_PARTS:
            raise base.PermanentPublishError(
                f"The text needs a thread of {len(parts)} posts at this server's limit of "
                f"{limit} characters; at most {MAX_PARTS} are posted. Shorten it."
            )
        return parts


def _result(statuses: list[dict[str, Any]]) -> base.PublishResult:
    """The thread as one post: its status ids in order, the first status's URL."""
    url = statuses[0].get("url")
    return base.PublishResult(external_id=",".join(str(s["id"]) for s in statuses),
                              external_url=url if isinstance(url, str) else "")
