"""The WordPress connector and the publish task against a real WordPress on 127.0.0.1.

Debian's `wordpress` package served by `php -S` with MariaDB, installed and
started by tools/wordpress/start.sh; faults come from a pass-through proxy.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from apps.publishing.connectors import CredentialsRejected
from apps.publishing.connectors.base import PublishItem
from apps.publishing.connectors.wordpress import WordPressConnector, slug_for
from apps.publishing.feedback import engagement_pull
from apps.publishing.health import target_test_connection
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.targets import target_create, target_secret_set
from apps.publishing.tasks import dispatch_due, publish
from tests import factories
from tests.peers.content import approved_publications, backoff_elapses
from tests.peers.proxy import FaultyProxy
from tests.wordpress import WordPressSite, wordpress_start

POSTS = "/wp/v2/posts"
BODY = ("# Start small\n\nA **bucket** will do. Read [the guide](https://example.org/guide)."
        "\n\n<script>alert('x')</script>\n")


@pytest.fixture(scope="session")
def wordpress() -> WordPressSite:
    """Started once per run (about 2 s when the packages are installed)."""
    return wordpress_start()


def _item(**changes: object) -> PublishItem:
    item = PublishItem(
        idempotency_key=str(uuid.uuid4()), publication_id=41, brief_id=7, revision=2,
        title="Composting at home", body=BODY, keywords=("compost", "home garden"),
        language="en", content_type="blog-post", published_at=datetime.now(UTC),
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def _connector(site: WordPressSite, url: str | None = None, **kwargs: object) -> WordPressConnector:
    return WordPressConnector(url=url or site.url, username=site.username,
                              password=site.application_password, **kwargs)  # type: ignore[arg-type]


def _terms(site: WordPressSite, taxonomy: str, ids: list[int]) -> list[str]:
    return sorted(site.api("GET", f"{taxonomy}/{i}").json()["name"] for i in ids)


def test_a_post_has_title_sanitized_html_excerpt_marker_slug_and_created_terms(wordpress):
    item = _item(keywords=(f"compost-{uuid.uuid4().hex[:6]}", "home garden"))
    connector = _connector(wordpress, categories=("Guides",))

    connector.validate()
    result = connector.publish(item)

    [post] = wordpress.posts_with_slug(slug_for(item))
    assert result.external_id == str(post["id"])
    assert result.external_url == post["link"]
    assert post["status"] == "publish"
    assert post["title"]["raw"] == "Composting at home"
    assert post["slug"] == slug_for(item)
    assert slug_for(item).endswith("-" + item.idempotency_key.replace("-", "")[:8])
    content = post["content"]["raw"]
    assert "<h1>Start small</h1>" in content
    assert ('<a href="https://example.org/guide" rel="noopener noreferrer">the guide</a>'
            in content)
    assert "<script>" not in content
    assert post["excerpt"]["raw"].startswith("Start small A bucket will do.")
    assert _terms(wordpress, "tags", post["tags"]) == sorted(item.keywords)
    assert _terms(wordpress, "categories", post["categories"]) == ["Guides"]


def test_publishing_the_same_item_again_finds_the_earlier_post(wordpress):
    item = _item()
    first = _connector(wordpress).publish(item)

    again = _connector(wordpress).publish(item)

    assert again == first
    assert len(wordpress.posts_with_slug(slug_for(item))) == 1


def test_a_future_publish_time_makes_a_scheduled_post_and_draft_status_a_draft(wordpress):
    when = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
    scheduled = _item(scheduled_at=when)
    drafted = _item()

    _connector(wordpress).publish(scheduled)
    _connector(wordpress, status="draft").publish(drafted)

    [future] = wordpress.posts_with_slug(slug_for(scheduled))
    assert (future["status"], future["date_gmt"]) == ("future", "2031-05-04T09:30:00")
    assert wordpress.posts_with_slug(slug_for(drafted))[0]["status"] == "draft"


def test_a_wrong_application_password_is_refused_as_credentials(wordpress):
    connector = WordPressConnector(url=wordpress.url, username=wordpress.username,
                                   password="abcd efgh ijkl mnop qrst uvwx")

    with pytest.raises(CredentialsRejected) as refused:
        connector.validate()

    assert refused.value.status == 401
    assert "(HTTP 401)" in refused.value.message


# --- the publish task through faults ------------------------------------------------


def _target(ws, url: str, site: WordPressSite, name: str = "Blog"):
    return target_create(workspace=ws, name=name, kind=TargetKind.WORDPRESS,
                         config={"url": url}, secret=site.secret)


@pytest.mark.django_db(transaction=True)
def test_500_twice_then_success_makes_exactly_one_post(wordpress):
    ws = factories.workspace()
    with FaultyProxy(wordpress.url) as proxy:
        [publication] = approved_publications(ws, _target(ws, proxy.url, wordpress))
        proxy.fail("POST", POSTS, status=500, times=2)

        states = []
        for _ in range(3):
            states.append(publish(publication.pk))
            backoff_elapses(publication)

    publication.refresh_from_db()
    assert states == [PublicationState.SCHEDULED, PublicationState.SCHEDULED,
                      PublicationState.PUBLISHED]
    assert publication.attempts == 3
    [post] = wordpress.posts_with_slug(slug_for(_key_item(publication)))
    assert publication.external_id == str(post["id"])
    assert proxy.calls("POST", POSTS) == 3  # two refused, one made the post


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_after_the_post_was_made_yields_no_second_post(wordpress):
    ws = factories.workspace()
    with FaultyProxy(wordpress.url) as proxy:
        [publication] = approved_publications(ws, _target(ws, proxy.url, wordpress))
        proxy.fail("POST", POSTS, drop=True)  # WordPress makes the post; the answer is lost

        first = publish(publication.pk)
        publication.refresh_from_db()
        error = publication.last_error
        backoff_elapses(publication)
        second = publish(publication.pk)

    publication.refresh_from_db()
    assert (first, second) == (PublicationState.SCHEDULED, PublicationState.PUBLISHED)
    assert error.startswith("The target could not be reached")
    [post] = wordpress.posts_with_slug(slug_for(_key_item(publication)))
    assert publication.external_id == str(post["id"])
    assert proxy.calls("POST", POSTS) == 1  # the retry looked it up instead


@pytest.mark.django_db(transaction=True)
def test_revoked_credentials_fail_with_wordpress_message_and_pause_the_target(wordpress):
    ws = factories.workspace()
    with FaultyProxy(wordpress.url) as proxy:
        target = target_create(workspace=ws, name="Blog", kind=TargetKind.WORDPRESS,
                               config={"url": proxy.url},
                               secret=f"{wordpress.username}:abcd efgh ijkl mnop qrst uvwx")
        first, = approved_publications(ws, target)
        second, = approved_publications(ws, target, title="Worm bins")

        state = publish(first.pk)
        dispatch_due()  # beat runs again: no retry storm
        publish(second.pk)
        requests = len(proxy.requests)
        target.refresh_from_db()
        paused = (target.credentials_rejected, target.pause_reason == first_error(first))
        target_secret_set(target=target, secret=wordpress.secret)
        target.refresh_from_db()
        checked = target_test_connection(target=target)
        target.refresh_from_db()

    first.refresh_from_db()
    second.refresh_from_db()
    assert state == PublicationState.FAILED
    assert first.attempts == 1
    assert first.last_error.startswith(
        "The target refused our credentials while checking the credentials (HTTP 401): ")
    assert first.last_error.endswith("The target is paused until its credentials are replaced.")
    assert paused == (True, True)
    assert target.credentials_rejected is False  # the new secret lifted the pause
    assert target.credentials_checked_at is not None
    assert (second.state, second.attempts) == (PublicationState.SCHEDULED, 0)  # held back
    assert second.scheduled_at > datetime.now(UTC) + timedelta(minutes=4)
    assert requests == 1  # one GET users/me; nothing more was sent

    assert checked == (True, "Blog: connection and credentials work.")


@pytest.mark.django_db(transaction=True)
def test_comment_counts_are_pulled_into_the_publication(wordpress):
    ws = factories.workspace()
    [publication] = approved_publications(ws, _target(ws, wordpress.url, wordpress))
    publish(publication.pk)
    publication.refresh_from_db()
    for text in ("Great tips!", "Trying this weekend."):
        wordpress.api("POST", "comments", json={"post": int(publication.external_id),
                                                "content": text}).raise_for_status()

    assert engagement_pull() == 1

    publication.refresh_from_db()
    assert publication.engagement == {"replies": 2}
    assert publication.engagement_at is not None


@pytest.mark.django_db(transaction=True)
def test_with_schedule_on_target_wordpress_gets_the_post_at_once_as_future(wordpress):
    ws = factories.workspace()
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    target = target_create(workspace=ws, name="Blog", kind=TargetKind.WORDPRESS,
                           config={"url": wordpress.url, "schedule_on_target": True},
                           secret=wordpress.secret)
    [publication] = approved_publications(ws, target, publish_at=when,
                                          title=f"Worm bins {uuid.uuid4().hex[:6]}")

    state = publish(publication.pk)  # the task sent on approval, three days early

    publication.refresh_from_db()
    [post] = wordpress.posts_with_slug(slug_for(_key_item(publication)))
    assert state == PublicationState.PUBLISHED
    assert (post["status"], post["date_gmt"]) == (
        "future", when.astimezone(UTC).replace(tzinfo=None).isoformat())
    assert (publication.external_id, publication.published_at) == (str(post["id"]), when)


def first_error(publication: Publication) -> str:
    publication.refresh_from_db()
    return publication.last_error.removesuffix(
        " The target is paused until its credentials are replaced.")


def _key_item(publication: Publication) -> PublishItem:
    return _item(idempotency_key=str(publication.idempotency_key), title=publication.brief.title)


def test_unpublishing_moves_the_post_to_the_trash_and_tolerates_it_gone(wordpress):
    item = _item()
    connector = _connector(wordpress)
    result = connector.publish(item)

    connector.unpublish(result.external_id)
    connector.unpublish(result.external_id)  # already in the trash: 410, not an error

    post = wordpress.api("GET", f"posts/{result.external_id}", params={"context": "edit"}).json()
    assert post["status"] == "trash"


def test_an_update_changes_the_same_post_in_place_and_makes_no_second_one(wordpress):
    item = _item()
    connector = _connector(wordpress)
    first = connector.publish(item)

    updated = connector.update(first.external_id, replace(
        item, revision=3, title="Composting, revised", body="Two **buckets** are better.",
        keywords=("compost",)))

    [post] = wordpress.posts_with_slug(slug_for(item))
    assert updated == first
    assert str(post["id"]) == first.external_id
    assert post["title"]["raw"] == "Composting, revised"
    assert post["content"]["raw"] == "<p>Two <strong>buckets</strong> are better.</p>"
    assert post["excerpt"]["raw"] == "Two buckets are better."
    assert _terms(wordpress, "tags", post["tags"]) == ["compost"]
    assert post["status"] == "publish"
    assert wordpress.posts_with_slug(slug_for(replace(item, title="Composting, revised"))) == []
