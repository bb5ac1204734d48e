"""The dashboard's status matches the job's real state: no progress bar on finished work,
"scoring…" only while scoring, and the page's static files that make it so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from apps.accounts.models import Role
from apps.generation.services import job_claim, job_record_drafts
from tests import factories
from tests.clients import logged_in
from workers.generation.types import GeneratedText

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "apps" / "dashboard" / "static" / "dashboard"


def _progress(page: str, brief_id: int) -> str:
    card = re.search(rf'<li class="card[^"]*" data-brief-id="{brief_id}".*?</li>', page, re.S)
    assert card is not None
    found = re.search(r'<div class="progress" data-progress[^>]*>.*?</div>', card.group(0), re.S)
    assert found is not None
    return found.group(0)


def test_cards_show_progress_only_while_work_is_under_way(ws, editor):
    # given a brief in review (its job succeeded), one being scored and one queued
    done = factories.brief_in_review(ws, title="Done")
    scoring = factories.brief(ws, title="Scoring", submit=True, variants=1)
    job = scoring.jobs.get()
    job_claim(job_id=job.pk, worker_id="w1")
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=[GeneratedText(
        variant=0, text="Some text.", seed=0, prompt_tokens=3, completion_tokens=3,
        model_name="builtin")])
    queued = factories.brief(ws, title="Queued", submit=True)
    # when the queue is drawn
    page = logged_in(editor).get("/").content.decode()
    # then the finished card's bar is hidden, the scoring one says so, the queued one waits
    assert _progress(page, done.pk).startswith('<div class="progress" data-progress hidden>')
    scoring_bar = _progress(page, scoring.pk)
    assert " hidden" not in scoring_bar.split(">")[0]
    assert '<progress max="100" value="100" data-progress-bar' in scoring_bar
    assert ">scoring…</span>" in scoring_bar
    assert ">waiting for a worker</span>" in _progress(page, queued.pk)


def test_hidden_beats_any_display_rule():
    css = (STATIC / "dashboard.css").read_text()
    assert "[hidden] { display: none !important; }" in css


@pytest.mark.parametrize("path", ["/", "/insights/", "/training/", "/notifications/",
                                  "/profile/"])
def test_every_page_with_a_workspace_opens_the_live_connection(ws, path):
    # every page carries the indicator and the socket script, which starts itself
    admin = factories.member(ws, Role.ADMIN, username="ada")
    page = logged_in(admin).get(path).content.decode()
    assert '<span class="live-status" data-live-status role="status" aria-live="polite">' \
           'connecting…</span>' in page
    assert '<script src="/static/dashboard/workspace_socket.js" defer></script>' in page
    script = (STATIC / "workspace_socket.js").read_text()
    assert 'document.addEventListener("DOMContentLoaded"' in script
