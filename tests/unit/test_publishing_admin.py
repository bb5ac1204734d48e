"""Target admin: write-only credentials, "test connection", cancelling and withdrawing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from apps.core.crypto import secret_decrypt
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.targets import target_create, target_credentials_rejected
from apps.publishing.tasks import publish
from tests import factories
from tests.peers.content import approved_publications
from tests.peers.mastodon import MastodonPeer

pytestmark = pytest.mark.django_db(transaction=True)
TARGETS = "/admin/publishing/publishingtarget/"


def _act(client: Client, path: str, action: str, ids: list[int]) -> list[tuple[str, str]]:
    response = client.post(path, {"action": action, "_selected_action": ids}, follow=True)
    assert response.status_code == 200
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_test_connection_reports_good_and_refused_credentials(root):
    ws = factories.workspace()
    with MastodonPeer() as peer:
        good = target_create(workspace=ws, name="Good", kind=TargetKind.MASTODON,
                             config={"url": peer.url}, secret="peer-token")
        revoked = target_create(workspace=ws, name="Revoked", kind=TargetKind.MASTODON,
                                config={"url": peer.url}, secret="old-token")

        reported = _act(root, TARGETS, "test_connection", [good.pk, revoked.pk])

    revoked.refresh_from_db()
    assert sorted(reported) == [
        ("error", "Revoked (mastodon): The target refused our credentials while checking the "
                  "access token (HTTP 401): The access token is invalid"),
        ("success", "Good: connection and credentials work."),
    ]
    assert revoked.credentials_rejected is True
    assert PublishingTarget.objects.get(pk=good.pk).credentials_checked_at is not None


def test_a_new_secret_is_stored_encrypted_never_shown_and_lifts_the_pause(root):
    ws = factories.workspace()
    target = target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                           config={"url": "https://social.example"}, secret="old-token")
    target_credentials_rejected(target_id=target.pk, reason="HTTP 401")

    response = root.post(f"{TARGETS}{target.pk}/change/", {
        "name": "Social", "kind": "mastodon", "config": '{"url": "https://social.example"}',
        "enabled": "on", "auto_publish": "on", "min_interval_s": "0", "secret": "new-token",
    })

    target.refresh_from_db()
    assert response.status_code == 302
    assert secret_decrypt(target.secret_encrypted) == "new-token"
    assert (target.credentials_rejected, target.pause_reason) == (False, "")
    page = root.get(f"{TARGETS}{target.pk}/change/").content.decode()
    assert "new-token" not in page and target.secret_encrypted not in page


def test_cancel_action_cancels_a_scheduled_publication(root):
    ws = factories.workspace()
    target = target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                           config={"url": "https://social.example"}, secret="token")
    [publication] = approved_publications(ws, target)

    reported = _act(root, "/admin/publishing/publication/", "cancel_publications",
                    [publication.pk])

    assert reported == [("success", f"{publication}: cancelled.")]
    assert Publication.objects.get(pk=publication.pk).state == PublicationState.CANCELLED


def test_withdraw_takes_the_post_down_and_refuses_what_cannot_be_withdrawn(root):
    ws = factories.workspace()
    with MastodonPeer() as peer:
        target = target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                               config={"url": peer.url}, secret="peer-token")
        [published] = approved_publications(ws, target)
        publish(published.pk)
        [scheduled] = approved_publications(ws, target, title="Later",
                                            publish_at=timezone.now() + timedelta(days=1))

        reported = _act(root, "/admin/publishing/publication/", "withdraw_publications",
                        [published.pk, scheduled.pk])

    assert sorted(reported) == [
        ("error", f"{scheduled}: Only a published publication can be withdrawn (this one "
                  "is scheduled)."),
        ("success", f"{published}: withdrawn."),
    ]
    assert peer.statuses == {}
    assert Publication.objects.get(pk=published.pk).state == PublicationState.WITHDRAWN
