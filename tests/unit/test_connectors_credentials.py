"""Connection checks make an authenticated request, and refused credentials are sorted the
same way on every connector (one rule, in `checked`), against local peers."""

from __future__ import annotations

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from apps.core.crypto import secret_decrypt
from apps.publishing.connectors import CredentialsRejected, PermanentPublishError
from apps.publishing.connectors.chat import ChatConnector
from apps.publishing.connectors.ghost import GhostConnector
from apps.publishing.connectors.http import checked
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.health import target_test_connection
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.targets import target_create
from apps.publishing.tasks import publish
from tests import factories
from tests.http_peers import HttpPeer, Reply
from tests.peers.content import approved_publications
from tests.peers.ghost import GhostPeer
from tests.peers.mastodon import MastodonPeer


def test_ghost_answers_its_site_to_anyone_so_the_check_asks_for_posts_with_the_key():
    with GhostPeer() as ghost:
        # given a key Ghost does not know (another site's)
        wrong = GhostConnector(url=ghost.url, key=f"{'ab' * 12}:{'cd' * 32}")
        # when it is checked, and the public site is read without any key
        with pytest.raises(CredentialsRejected) as refused:
            wrong.validate()
        public = httpx.get(f"{ghost.url}/ghost/api/admin/site/")
        # and a working key is checked
        GhostConnector(url=ghost.url, key=ghost.admin_key).validate()

    # then the wrong key fails the check although the site answers anyone
    assert refused.value.message == ("The target refused our credentials while checking the "
                                     "Admin API key (HTTP 401): Unknown Admin API Key")
    assert public.status_code == 200
    checks = [(r.path, r.query, "authorization" in r.headers) for r in ghost.requests
              if r.path != "/ghost/api/admin/site/"]
    assert checks == [("/ghost/api/admin/posts/", {"limit": "1", "fields": "id"}, True)] * 2


def test_mastodon_refusing_a_token_with_a_400_is_refused_credentials():
    with MastodonPeer(bad_token_status=400) as peer, pytest.raises(CredentialsRejected) as refused:
        MastodonConnector(url=peer.url, token="revoked").validate()

    assert refused.value.status == 400
    assert refused.value.message == ("The target refused our credentials while checking the "
                                     "access token (HTTP 400): invalid_grant")


@pytest.mark.django_db
def test_a_post_refused_with_a_400_for_its_token_pauses_the_target_as_a_401_does():
    # given a publication to a Mastodon server that answers a revoked token with a 400
    ws = factories.workspace()
    with MastodonPeer(bad_token_status=400) as peer:
        target = target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                               config={"url": peer.url}, secret="revoked")
        [publication] = approved_publications(ws, target)
        # when it is published
        state = publish(publication.pk)
    # then it fails saying why, and the target waits for a new token
    target = PublishingTarget.objects.get(pk=target.pk)
    assert state == PublicationState.FAILED
    assert Publication.objects.get(pk=publication.pk).last_error == (
        "The target refused our credentials while checking the access token (HTTP 400): "
        "invalid_grant The target is paused until its credentials are replaced.")
    assert (target.credentials_rejected, target.last_check_ok) == (True, False)


def _answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers,
                          request=httpx.Request("GET", "https://target.example/api"))


@pytest.mark.parametrize(("response", "refused"), [
    (_answer(400, {"error": "invalid_token"}), True),
    (_answer(400, {"error": "The access token was revoked"}), True),
    (_answer(400, {"message": "Invalid token"}), True),
    (_answer(400, {}, {"WWW-Authenticate": 'Bearer realm="x", error="invalid_token"'}), True),
    (_answer(401, {"code": "rest_not_logged_in"}), True),
    (_answer(403, {"errors": [{"message": "Permission denied"}]}), True),
    (_answer(400, {"error": "Validation failed: Text can't be blank"}), False),
    (_answer(400, {"error": "invalid_request"}), False),
    (_answer(422, {"error": "invalid_token"}), False),
])
def test_credentials_are_refused_by_401_403_or_a_400_about_the_token(response, refused):
    with pytest.raises(PermanentPublishError) as caught:
        checked(response, doing="checking")

    assert isinstance(caught.value, CredentialsRejected) is refused
    assert caught.value.status == response.status_code


@pytest.mark.parametrize(("reply", "refused"), [
    (Reply(400, "no_text"), None),
    (Reply(403, "invalid_token"), "The target refused our credentials while checking the "
                                  "webhook (HTTP 403): invalid_token"),
    (Reply(404, "no_service"), "The slack webhook no longer exists (HTTP 404: no_service); "
                               "replace its URL."),
    (Reply(410, "channel_is_archived"), "The slack webhook no longer exists (HTTP 410: "
                                        "channel_is_archived); replace its URL."),
])
def test_slacks_check_sends_a_message_without_text_which_only_a_working_url_answers_no_text(
    reply, refused
):
    with HttpPeer(reply) as slack:
        connector = ChatConnector(flavor="slack", webhook_url=f"{slack.url}/services/T/B/x")
        if refused is None:
            connector.validate()
        else:
            with pytest.raises(CredentialsRejected) as caught:
                connector.validate()
            assert caught.value.message == refused

    [check] = slack.requests
    assert (check.method, check.path, check.json()) == ("POST", "/services/T/B/x", {})


@pytest.mark.django_db
def test_a_webhook_targets_check_sends_one_signed_ping_and_a_refusal_pauses_it():
    ws = factories.workspace()
    with HttpPeer(Reply(204), Reply(401, {"error": "bad signature"})) as receiver:
        target = target_create(workspace=ws, name="Hook", kind=TargetKind.WEBHOOK,
                               config={"url": f"{receiver.url}/in"})
        secret = secret_decrypt(target.secret_encrypted)
        accepted = target_test_connection(target=target)
        refused = target_test_connection(target=PublishingTarget.objects.get(pk=target.pk))
    [first, _] = receiver.requests
    # the ping verifies with the target's secret, and is a ping, not a post
    event = Webhook(secret).verify(first.body, first.headers)
    assert (event["type"], event["data"], first.headers["webhook-id"][:5]) == ("ping", {}, "ping-")
    assert accepted == (True, "Hook: connection and credentials work.")
    assert refused[0] is False and "401" in refused[1]
    assert PublishingTarget.objects.get(pk=target.pk).credentials_rejected is True
