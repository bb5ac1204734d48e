"""Pushing a newer revision to a published post: the service, the task and the admin action."""

from __future__ import annotations

import base64

import pytest
from django.contrib.messages import get_messages
from standardwebhooks.webhooks import Webhook

from apps.core.errors import DomainError
from apps.core.models import AuditEvent, OutboxEvent
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.services import publication_update
from apps.publishing.targets import target_create
from apps.publishing.tasks import publish, update
from apps.reviews.models import DraftRevision
from tests import factories
from tests.http_peers import HttpPeer, Reply
from tests.peers.content import approved_publications

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_" + base64.b64encode(b"update-test-secret-32-bytes-long").decode()
NEW_TEXT = "Compost, revised: two buckets are better than one."


@pytest.fixture
def publish_dir(settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path
    return tmp_path


def _newer(publication: Publication, text: str = NEW_TEXT) -> DraftRevision:
    """A later revision of the published draft (an editor's correction)."""
    current = publication.revision
    return DraftRevision.objects.create(draft_id=current.draft_id, number=current.number + 1,
                                        text=text)


def _published_file(ws) -> Publication:
    target = target_create(workspace=ws, name="Site", kind=TargetKind.FILE,
                           config={"folder": "posts"})
    [publication] = approved_publications(ws, target, title="Compost basics")
    assert publish(publication.pk) == PublicationState.PUBLISHED
    return Publication.objects.select_related("revision").get(pk=publication.pk)


def test_a_newer_revision_is_recorded_audited_announced_and_rewrites_the_same_file(publish_dir):
    ws = factories.workspace()
    publication = _published_file(ws)
    editor = factories.member(ws, "editor")
    revision = _newer(publication)
    previous = publication.revision

    publication_update(publication=publication, revision=revision, actor=editor)
    outcome = update(publication.pk)

    publication.refresh_from_db()
    assert outcome == "done"
    assert (publication.revision_id, publication.state) == (revision.pk, PublicationState.PUBLISHED)
    assert publication.external_id == "compost-basics.md"
    assert [p.name for p in (publish_dir / "posts").iterdir()] == ["compost-basics.md"]
    text = (publish_dir / "posts" / "compost-basics.md").read_text()
    assert f"revision: {revision.number}\n" in text
    assert text.endswith(f"\n{NEW_TEXT}\n")
    audit = AuditEvent.objects.get(action="publication.updated", subject_id=publication.pk)
    assert (audit.actor_id, audit.before, audit.after) == (
        editor.pk, {"revision": revision.number - 1}, {"revision": revision.number})
    event = OutboxEvent.objects.get(type="publication.updated", subject_id=publication.pk)
    assert event.payload == {"publication_id": publication.pk, "brief_id": publication.brief_id,
                             "target_id": publication.target_id, "revision": revision.number,
                             "revision_id": revision.pk, "previous_revision_id": previous.pk}
    # The text out there is the new revision's: duplicate checks compare with it, not the old
    revision.refresh_from_db()
    previous.refresh_from_db()
    assert (revision.went_out, previous.went_out) == (True, False)


def test_the_webhook_receiver_gets_a_verified_publication_updated_event():
    ws = factories.workspace()
    with HttpPeer(Reply(201, {"id": "cms-7"}), Reply(200, {})) as peer:
        target = target_create(workspace=ws, name="CMS", kind=TargetKind.WEBHOOK,
                               config={"url": f"{peer.url}/hooks"}, secret=SECRET)
        [publication] = approved_publications(ws, target)
        publish(publication.pk)
        publication.refresh_from_db()
        revision = _newer(publication)
        publication_update(publication=publication, revision=revision, actor=None)
        update(publication.pk)

    created, updated = peer.requests
    event = Webhook(SECRET).verify(updated.body, updated.headers)
    assert event["type"] == "publication.updated"
    assert (event["data"]["external_id"], event["data"]["revision"], event["data"]["body"]) == (
        "cms-7", revision.number, NEW_TEXT)
    assert updated.headers["webhook-id"] == f"{publication.idempotency_key}-r{revision.number}"
    assert created.headers["webhook-id"] == str(publication.idempotency_key)
    assert Publication.objects.get(pk=publication.pk).external_id == "cms-7"


def test_a_refusal_of_the_target_stays_on_the_publication_for_the_editor():
    ws = factories.workspace()
    with HttpPeer(Reply(201, {"id": "cms-7"}),
                  Reply(422, {"message": "Post cms-7 is locked."})) as peer:
        target = target_create(workspace=ws, name="CMS", kind=TargetKind.WEBHOOK,
                               config={"url": f"{peer.url}/hooks"}, secret=SECRET)
        [publication] = approved_publications(ws, target)
        publish(publication.pk)
        publication.refresh_from_db()
        publication_update(publication=publication, revision=_newer(publication), actor=None)
        outcome = update(publication.pk)

    publication.refresh_from_db()
    assert outcome == "done"
    assert publication.state == PublicationState.PUBLISHED
    assert publication.last_error == ("Updating the post failed: The target refused "
                                      "delivering the post (HTTP 422): Post cms-7 is locked.")


def test_only_a_published_publication_takes_only_a_newer_revision_of_its_own_draft(publish_dir):
    ws = factories.workspace()
    publication = _published_file(ws)
    target = publication.target
    [scheduled] = approved_publications(ws, target, title="Not yet")
    Publication.objects.filter(pk=scheduled.pk).update(state=PublicationState.SCHEDULED)

    with pytest.raises(DomainError) as not_published:
        publication_update(publication=scheduled, revision=_newer(scheduled), actor=None)
    with pytest.raises(DomainError) as not_newer:
        publication_update(publication=publication, revision=publication.revision, actor=None)
    with pytest.raises(DomainError) as other_draft:
        publication_update(publication=publication,
                           revision=DraftRevision.objects.get(pk=scheduled.revision_id),
                           actor=None)

    assert str(not_published.value) == (f"Publication {scheduled.pk} is scheduled: only a "
                                        "published publication can be updated.")
    assert str(not_newer.value) == (
        f"Publication {publication.pk} already has revision {publication.revision.number}; "
        f"revision {publication.revision.number} is not newer.")
    assert str(other_draft.value) == f"Revision {scheduled.revision_id} belongs to another draft."
    assert not AuditEvent.objects.filter(action="publication.updated").exists()


def test_admin_push_latest_revision_updates_published_ones_and_refuses_others(publish_dir, root):
    ws = factories.workspace()
    publication = _published_file(ws)
    revision = _newer(publication)
    [scheduled] = approved_publications(ws, publication.target, title="Not yet")

    response = root.post("/admin/publishing/publication/", {
        "action": "push_latest_revision", "_selected_action": [publication.pk, scheduled.pk]},
        follow=True)

    reported = sorted((m.level_tag, m.message) for m in get_messages(response.wsgi_request))
    state = Publication.objects.get(pk=scheduled.pk).state
    assert reported == [
        ("error", f"{scheduled}: Publication {scheduled.pk} is {state}: only a published "
                  "publication can be updated."),
        ("success", f"{publication}: update sent to the target."),
    ]
    assert Publication.objects.get(pk=publication.pk).revision_id == revision.pk
