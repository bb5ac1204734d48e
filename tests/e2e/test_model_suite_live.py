"""An admin watches a model version run the registry's test briefs live in a real browser:
the version's row says how many test briefs are written, and the page shows the figures when
the run ends, with no reload by hand.

The run goes the way the generation worker runs it (`suite_run_execute`: progress on the
real channel layer), on a thread of the test, once the page is live, so each step is seen
whatever the speed of the machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.generation.models import SuiteRun, TrainingState
from apps.workflow.model_suite import suite_run_execute
from tests import factories
from tests.live import as_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"


def test_a_suite_run_is_followed_live_then_its_figures_shown(
        live_platform, signed_in, screenshot, settings, tiny_models_dir: Path):
    # given a version of the tiny model, queued for the test briefs (no worker sent it)
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.ADMIN, username="ada", password=PASSWORD)
    version = factories.model_version(ws)
    settings.MODELS_DIR = tiny_models_dir
    shutil.copytree(tiny_models_dir / "builtin",
                    tiny_models_dir / "workspaces" / str(ws.pk) / version.folder)
    run = SuiteRun.objects.create(version=version)

    # when an admin opens the Models page and it is live
    page = signed_in("ada", PASSWORD)
    page.goto("/models/")
    expect(page.locator("[data-live-status]")).to_have_text("live")
    page.evaluate("window.__sameDocument = true")
    state = page.locator(f'[data-suite-run="{run.pk}"]')
    expect(state).to_have_text("queued")
    # (what the row says is kept where the page's reload at the end does not wipe it)
    page.evaluate("""(id) => {
      const el = document.querySelector(`[data-suite-run="${id}"]`);
      new MutationObserver(() => {
        const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
        sessionStorage.setItem("seen", JSON.stringify([...seen, el.textContent]));
      }).observe(el, {childList: true, characterData: true, subtree: true});
    }""", run.pk)
    screenshot(page, "queued")

    # and the worker runs it
    assert as_worker(lambda: suite_run_execute(run_id=run.pk, worker_id="e2e-gpu")) == "recorded"

    # then the row followed each test brief, and the page loaded itself again with the
    # run's figures
    expect(page.locator(".state-succeeded")).to_be_visible(timeout=30_000)
    assert not page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    expect(page.get_by_text("% passed")).to_be_visible()
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('seen') || '[]')")
    assert [f"running · {n} of 3 test briefs" for n in range(4)] == [
        text for text in seen if text.startswith("running")], seen
    screenshot(page, "recorded")


def test_a_run_that_ends_before_the_page_is_live_is_read_again(live_platform, signed_in):
    # given a queued run whose end no event will tell: it ends while the page loads, after
    # the page was rendered and before its socket is open
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.ADMIN, username="ada", password=PASSWORD)
    run = SuiteRun.objects.create(version=factories.model_version(ws))

    def end_quietly(route) -> None:  # type: ignore[no-untyped-def]
        as_worker(lambda: SuiteRun.objects.filter(pk=run.pk).update(
            state=TrainingState.SUCCEEDED, finished_at=timezone.now()))
        route.continue_()

    page = signed_in("ada", PASSWORD)
    page.route("**/suite_progress.js", end_quietly)
    # when the admin opens the Models page
    page.goto("/models/")
    # then the snapshot of its first connection has it read the run again, and the page
    # loads itself again to show the run ended
    expect(page.locator(".state-succeeded")).to_have_text("succeeded", timeout=15_000)
    assert page.locator("[data-suite-run]").count() == 0
