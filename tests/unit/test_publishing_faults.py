"""Exactly once when the worker dies half-way, and key rotation of stored credentials."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import timezone

from apps.core.crypto import secret_decrypt
from apps.publishing.connectors import connector_for
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.selectors import publish_item_for
from apps.publishing.services import publication_claim
from apps.publishing.targets import target_create
from apps.publishing.tasks import STALE_AFTER, dispatch_due, publish
from tests import factories
from tests.peers.content import approved_publications
from tests.peers.ghost import GhostPeer


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_post_was_made_leaves_one_post_and_a_published_row():
    ws = factories.workspace()
    with GhostPeer() as ghost:
        target = target_create(workspace=ws, name="Blog", kind=TargetKind.GHOST,
                               config={"url": ghost.url}, secret=ghost.admin_key)
        [publication] = approved_publications(ws, target)
        # a worker claims it and makes the post, then dies before recording it
        claimed = publication_claim(publication_id=publication.pk, worker_id="io-1")
        connector_for(claimed.target).publish(publish_item_for(claimed))
        redelivered = publish(publication.pk)  # acks_late: the task comes back; not claimable
        Publication.objects.filter(pk=publication.pk).update(
            updated_at=timezone.now() - STALE_AFTER * 2)

        dispatch_due()  # beat: the sweeper makes it due again and sends it
        state = publish(publication.pk)

    publication.refresh_from_db()
    [post] = ghost.posts.values()
    assert redelivered is None
    assert state == PublicationState.PUBLISHED
    assert (publication.external_id, publication.attempts) == (post["id"], 2)
    assert ghost.calls("POST", "/ghost/api/admin/posts/") == 1


@pytest.mark.django_db
def test_rotation_re_encrypts_secrets_with_the_newest_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    target = target_create(workspace=factories.workspace(), name="Social",
                           kind=TargetKind.MASTODON, config={"url": "https://s.example"},
                           secret="token-1")
    settings.ENCRYPTION_KEYS = [new, old]
    out = StringIO()

    call_command("rotate_target_secrets", stdout=out)

    settings.ENCRYPTION_KEYS = [new]
    stored = PublishingTarget.objects.get(pk=target.pk).secret_encrypted
    assert out.getvalue().strip() == "Re-encrypted 1 target secrets."
    assert secret_decrypt(stored) == "token-1"
