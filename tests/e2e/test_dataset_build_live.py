"""An admin watches a dataset version build live in a real browser: the bar follows the
build's progress, and the page shows the version's statistics when the build ends.

The build runs the way the worker runs it (`dataset_version_build`: progress on the real
channel layer, its end through the outbox relay), on a thread of the test, once the page is
live, so the bar is seen moving whatever the speed of the machine.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.datasets.models import DatasetVersion
from apps.datasets.services import (
    cleaning_options,
    dataset_create,
    dataset_import_upload,
    dataset_version_build,
)
from tests import factories
from tests.live import as_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"


def test_the_build_progress_is_followed_live_then_the_statistics_shown(live_platform,
                                                                       signed_in, screenshot):
    # given a queued build of 600 notes (a progress report every 50), no worker sent it
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.ADMIN, username="ada", password=PASSWORD)
    dataset = dataset_create(workspace=ws, name="Notes")
    notes = [json.dumps({"text": f"Garden note {n}: the {n % 7} beds by wall {n % 13} want "
                                 f"mulch and water at dawn; look for slugs under leaf {n}, "
                                 f"then rake path {n % 5} before rain {n} comes in."})
             for n in range(600)]
    dataset_import_upload(dataset=dataset, filename="notes.jsonl",
                          data="\n".join(notes).encode())
    version = DatasetVersion.objects.create(dataset=dataset, workspace=ws, number=1,
                                            options=cleaning_options({"min_chars": 50}).to_json(),
                                            import_ids=[dataset.imports.get().pk])

    # when the admin opens the version's page and it is live
    page = signed_in("ada", PASSWORD)
    page.goto(f"/datasets/versions/{version.pk}/")
    expect(page.locator("[data-live-status]")).to_have_text("live")
    page.evaluate("window.__sameDocument = true")
    text = page.locator("[data-build-text]")
    expect(text).to_have_text("0%")
    # (what the bar says is kept where the page's reload at the end does not wipe it)
    page.evaluate("""() => {
      const el = document.querySelector("[data-build-text]");
      new MutationObserver(() => {
        const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
        sessionStorage.setItem("seen", JSON.stringify([...seen, el.textContent]));
      }).observe(el, {childList: true, characterData: true, subtree: true});
    }""")
    screenshot(page, "queued")

    # and the worker builds it
    assert as_worker(lambda: dataset_version_build(version_id=version.pk,
                                                   worker_id="e2e-builder")) == "built"

    # then the page showed the progress and loaded itself again with the statistics
    expect(page.get_by_role("heading", name="Statistics")).to_be_visible(timeout=30_000)
    assert not page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    expect(page.locator(".page-head .state")).to_have_text("succeeded")
    expect(page.locator("dd", has_text="of 600")).to_be_visible()
    assert page.locator("[data-build-progress]").count() == 0
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('seen') || '[]')")
    assert "50 of 600 documents cleaned" in seen and "600 of 600 documents cleaned" in seen, seen
    screenshot(page, "built")
