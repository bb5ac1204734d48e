"""One brief through every stage on real infrastructure.

REST API → outbox relay → broker → a real generation worker process (torch) →
evaluation worker (MiniLM) → review over the API → publishing worker → a
signed webhook verified by a local receiver, and a Markdown file on disk;
a websocket client follows the job live.
"""

from __future__ import annotations

import httpx
import pytest
import yaml
from django.test import Client
from standardwebhooks.webhooks import Webhook

from apps.accounts.models import Role
from apps.generation.models import Backend, ModelProfile
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import wait_until
from tests.http_peers import HttpPeer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
JOB_ORDER = ["job.queued", "job.running", "job.evaluating", "job.succeeded"]


def test_a_brief_from_the_api_is_generated_scored_reviewed_and_published(live_platform, listen):
    # Given a workspace with an editor, a reviewer, the built-in model and two targets
    ws = factories.workspace(name="Garden Weekly")
    editor = factories.member(ws, Role.EDITOR, username="eddie", password=PASSWORD)
    factories.member(ws, Role.REVIEWER, username="rita", password=PASSWORD)
    profile = ModelProfile.objects.create(workspace=ws, name="Built-in", backend=Backend.BUILTIN,
                                          parameters={"max_new_tokens": 24})
    factories.content_type(ws, slug="blog-post", model_profile=profile)
    with HttpPeer(default=Reply(200, {"id": "receiver-post-1"})) as receiver:
        target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
        target_create(workspace=ws, name="Hook", kind="webhook",
                      config={"url": f"{receiver.url}/incoming"}, secret=SECRET)
        # and the editor following the workspace over a websocket
        session = Client()
        session.force_login(editor)
        events = listen(f"{live_platform.ws_url}/ws/workspace/", session.cookies["sessionid"].value,
                        origin=live_platform.url)
        events.wait_for(lambda m: m["type"] == "snapshot", timeout=10)
        editor_api = httpx.Client(base_url=live_platform.url, auth=("eddie", PASSWORD), timeout=30)
        reviewer_api = httpx.Client(base_url=live_platform.url, auth=("rita", PASSWORD), timeout=30)

        # When the editor submits a brief through the REST API
        created = editor_api.post("/api/v1/briefs/", json={
            "title": "Composting in a small garden", "content_type": "blog-post",
            "topic": "starting a compost heap with kitchen scraps", "audience": "beginners",
            "keywords": ["compost", "garden"], "target_length": 20, "variants": 2,
        })
        assert created.status_code == 201, created.text
        brief_id = created.json()["id"]

        # Then a worker generates and another scores, and the brief reaches review
        events.wait_for(lambda m: m["type"] == "brief.in_review"
                        and m["data"]["brief_id"] == brief_id, timeout=240)
        brief = editor_api.get(f"/api/v1/briefs/{brief_id}/").json()
        assert brief["state"] == "in_review"
        [job] = brief["jobs"]
        assert (job["state"], job["attempts"]) == ("succeeded", 1)
        drafts = sorted(brief["drafts"], key=lambda d: -d["evaluation"]["score"])
        assert [d["variant"] for d in sorted(drafts, key=lambda d: d["variant"])] == [0, 1]
        assert all(d["latest_revision"]["text"].strip() for d in drafts)
        assert all(-1 <= d["evaluation"]["relevance"] <= 1 for d in drafts)

        # and the websocket saw the job's lifecycle in order, with live text in between
        job_events = [m for m in events.messages
                      if m["type"].startswith("job.") and m["data"].get("job_id") == job["id"]]
        lifecycle = [m["type"] for m in job_events if m["type"] != "job.progress"]
        assert lifecycle == JOB_ORDER
        types = [m["type"] for m in job_events]
        progress = [m["data"] for m in job_events if m["type"] == "job.progress"]
        assert progress, "no live progress arrived"
        assert types.index("job.running") < types.index("job.progress") < types.index(
            "job.evaluating")
        for variant in (0, 1):
            texts = [p["text"] for p in progress if p["variant"] == variant]
            tokens = [p["tokens"] for p in progress if p["variant"] == variant]
            assert texts and tokens == sorted(tokens)
            assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:],
                                                                           strict=False))

        # When the reviewer approves the best draft through the API
        approved = reviewer_api.post(f"/api/v1/briefs/{brief_id}/approve/",
                                     json={"draft_id": drafts[0]["id"], "comment": "Good."})
        assert approved.status_code == 200, approved.text
        # a second approval is refused, not half-done
        again = reviewer_api.post(f"/api/v1/briefs/{brief_id}/approve/",
                                  json={"draft_id": drafts[0]["id"]})
        assert again.status_code == 409

        # Then the publishing worker publishes to both targets and the brief is published
        brief = wait_until(lambda: editor_api.get(f"/api/v1/briefs/{brief_id}/").json(),
                           lambda b: b["state"] == "published", 120, "published brief")
        publications = {p["target"]["name"]: p for p in brief["publications"]}
        assert {name: p["state"] for name, p in publications.items()} == {
            "Site": "published", "Hook": "published"}
        assert publications["Hook"]["external_id"] == "receiver-post-1"

        # and the receiver got exactly one request, whose signature verifies
        [request] = receiver.requests
        payload = Webhook(SECRET).verify(request.body, request.headers)
        assert payload["data"]["title"] == "Composting in a small garden"
        assert payload["data"]["body"] == drafts[0]["latest_revision"]["text"]

        # and the Markdown file carries front matter and the approved text
        written = live_platform.publish_dir / "site" / publications["Site"]["external_id"]
        _, front, body = written.read_text().split("---\n", 2)
        assert yaml.safe_load(front)["title"] == "Composting in a small garden"
        assert body.strip() == drafts[0]["latest_revision"]["text"].strip()
