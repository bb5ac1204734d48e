"""What one signed webhook brief costs the database, and the relay that follows it.

The statements are pinned, so a change that adds a round trip to the ingest path shows here
(bench/api_ingest.py measures the rate it gives).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from apps.briefs.models import BRIEF_MACHINE, BriefState, ContentBrief
from apps.core.errors import IllegalTransition
from apps.core.models import AuditEvent, OutboxEvent
from apps.core.relay import relay_in_background
from apps.core.services import _pending_ids, transition
from apps.integrations.inbound import endpoint_create
from apps.workflow.services import brief_create
from tests import factories

BODY = json.dumps({"title": "Rain gardens", "topic": "How to plan a rain garden",
                   "keywords": ["rain", "garden"]}).encode()


def _push(secret: str, msg_id: str) -> int:
    at = datetime.now(tz=UTC)
    response = APIClient().post(
        "/api/v1/hooks/cms/", BODY, content_type="application/json",
        HTTP_WEBHOOK_ID=msg_id, HTTP_WEBHOOK_TIMESTAMP=str(int(at.timestamp())),
        HTTP_WEBHOOK_SIGNATURE=Webhook(secret).sign(msg_id, at, BODY.decode()))
    return response.status_code


@pytest.mark.django_db
def test_one_inbound_brief_costs_a_pinned_number_of_statements(
        ws, django_capture_on_commit_callbacks) -> None:
    # Given an endpoint that took a first push (its template version exists)
    ct = factories.content_type(ws, slug="news")
    _, secret = endpoint_create(workspace=ws, name="CMS", slug="cms", content_type_id=ct.pk,
                                field_mapping={"title": "title", "topic": "topic",
                                               "keywords": "keywords"})
    with django_capture_on_commit_callbacks(execute=True):
        assert _push(secret, "msg_1") == 202
    # When the next one arrives and its transaction commits (the relay runs in this thread)
    with CaptureQueriesContext(connection) as queries, \
            django_capture_on_commit_callbacks(execute=True):
        assert _push(secret, "msg_2") == 202
    # Then it took 21 statements and 3 savepoints (the test's transaction turns the hook's
    # own into one). SELECT: endpoint, secrets, earlier delivery, content type, style guide,
    # quota, model profile, template version; the relay's events and subscriptions.
    # INSERT: brief, job, delivery, an audit row and an outbox row for each of brief.created,
    # brief.queued and job.queued. UPDATE: the brief's state (from the state in hand, no
    # read first), the events' relayed_at.
    kinds = Counter(q["sql"].split()[0] for q in queries.captured_queries)
    assert kinds == {"SELECT": 10, "INSERT": 9, "UPDATE": 2, "SAVEPOINT": 3, "RELEASE": 3}
    assert list(OutboxEvent.objects.filter(subject_id__in=ContentBrief.objects.filter(
        external_id="msg_2").values("pk"), subject_type="contentbrief").values_list(
        "type", flat=True).order_by("id")) == ["brief.created", "brief.queued"]


@pytest.mark.django_db
def test_a_stale_state_in_hand_moves_from_the_state_the_row_holds(ws) -> None:
    # Given a brief queued in the database, held as a draft by a stale copy
    brief = brief_create(workspace=ws, content_type=factories.content_type(ws), title="Leaf",
                         topic="mould")
    stale = ContentBrief.objects.get(pk=brief.pk)
    stale.state = BriefState.DRAFT
    # When the stale copy is cancelled (an edge from queued too)
    transition(stale, machine=BRIEF_MACHINE, to=BriefState.CANCELLED, workspace_id=ws.pk,
               event_type="brief.cancelled", payload={})
    # Then the audit and the event record the state the row really left
    audit = AuditEvent.objects.get(action="brief.cancelled")
    event = OutboxEvent.objects.get(type="brief.cancelled")
    assert (audit.before, event.payload["previous_state"]) == ({"state": "queued"}, "queued")


@pytest.mark.django_db
def test_a_refused_edge_leaves_the_callers_transaction_usable(ws) -> None:
    # Given a cancelled brief held by a copy that still thinks it is queued
    brief = brief_create(workspace=ws, content_type=factories.content_type(ws), title="Leaf",
                         topic="mould")
    held = ContentBrief.objects.get(pk=brief.pk)
    ContentBrief.objects.filter(pk=brief.pk).update(state=BriefState.CANCELLED)
    with transaction.atomic():
        # When a caller catches the refusal inside its own transaction
        with pytest.raises(IllegalTransition, match="cancelled"):
            transition(held, machine=BRIEF_MACHINE, to=BriefState.GENERATING,
                       workspace_id=ws.pk, event_type="brief.generating", payload={})
        # Then it goes on in that transaction, and nothing of the edge was written
        assert ContentBrief.objects.get(pk=brief.pk).state == BriefState.CANCELLED
    assert not OutboxEvent.objects.filter(type="brief.generating").exists()


@pytest.mark.django_db(transaction=True)
def test_the_web_tier_relays_committed_events_in_a_thread_of_its_own(ws) -> None:
    # Given a process that relays in the background (as aigc_platform/asgi.py sets up)
    relay_in_background()
    try:
        # When a brief is created and submitted
        brief = brief_create(workspace=ws, content_type=factories.content_type(ws),
                             title="Leaf", topic="mould")
        # Then its three events are relayed soon after the commit, by the relay's thread
        deadline = time.monotonic() + 10
        while OutboxEvent.objects.filter(relayed_at__isnull=True).exists():
            assert time.monotonic() < deadline, "events left unrelayed"
            time.sleep(0.05)
    finally:
        relay_in_background(False)
    assert OutboxEvent.objects.filter(relayed_at__isnull=False).count() == 3
    assert ContentBrief.objects.get(pk=brief.pk).state == BriefState.QUEUED


def test_each_thread_relays_only_its_own_transactions_events() -> None:
    # Given a thread whose open transaction has an event waiting for its commit
    _pending_ids().append(-1)
    try:
        # When another thread (another request) looks at what its own commit relays
        seen: list[list[int]] = []
        other = threading.Thread(target=lambda: seen.append(list(_pending_ids())))
        other.start()
        other.join()
    finally:
        _pending_ids().remove(-1)
    # Then it finds none of the first thread's (it would relay them before they commit,
    # unseen, and drop them)
    assert seen == [[]]
