"""An admin watches a training run's loss chart grow live in a real browser.

The losses go out the way the worker sends them (`loss_sender`: stored through
the service, then broadcast on the real channel layer), and the run's end goes
out through the outbox relay, as the worker's `training_run_fail` does. The
page is not reloaded and does not read the run again after its first load: the
points arrive over the websocket.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.generation.models import TrainingKind, TrainingRun
from apps.generation.running import loss_sender
from apps.generation.training import training_run_claim, training_run_fail
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
WORKER = "e2e-trainer"


@pytest.fixture
def running(live_platform):  # type: ignore[no-untyped-def]
    """A fine-tuning run a trainer claimed (no worker gets its message) and its reporter."""
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.ADMIN, username="ada", password=PASSWORD)
    run = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE)
    run = as_worker(training_run_claim, run_id=run.pk, worker_id=WORKER)
    return run, loss_sender(run, WORKER)


def as_worker(report: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `report` on a thread of its own, as the worker's: the browser's event loop runs in
    the test's thread, where the channel layer's sync calls refuse to run."""

    def call() -> Any:
        try:
            return report(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def report(on_loss: Callable[[int, float], None], flush: Callable[[], None],
           *points: tuple[int, float]) -> None:
    for step, loss in points:
        on_loss(step, loss)
    flush()


def plotted(page) -> list[str]:  # type: ignore[no-untyped-def]
    return (page.locator("[data-loss-line]").get_attribute("points") or "").split()


def test_the_loss_chart_draws_stored_points_then_gains_points_live(running, signed_in, screenshot):
    run, (on_loss, flush) = running
    # given two losses reported before anyone looks
    as_worker(report, on_loss, flush, (10, 3.2), (20, 3.0))

    # when the admin opens the Training page from the nav
    page = signed_in("ada", PASSWORD)
    api_reads: list[str] = []
    page.on("request", lambda r: api_reads.append(r.url) if "/api/v1/training-runs/" in r.url
            else None)
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/training-runs/{run.pk}/")):
        page.get_by_role("link", name="Training").click()  # the socket's snapshot re-reads it
    expect(page.locator("[data-live-status]")).to_have_text("live")
    page.evaluate("window.__sameDocument = true")

    # then the chart shows the stored points
    chart = page.locator("[data-training-chart]")
    expect(chart).to_have_attribute("data-points", "2")
    assert len(plotted(page)) == 2
    screenshot(page, "stored-points")

    # when the trainer reports more losses
    as_worker(report, on_loss, flush, (30, 2.8))
    # then the polyline gains the point, live
    expect(chart).to_have_attribute("data-points", "3")
    # (each report ends with a flush: the throttle keeps only the latest of losses reported
    # less than 0.1 s apart, and the chart draws what is sent)
    as_worker(report, on_loss, flush, (40, 2.5))
    as_worker(report, on_loss, flush, (50, 2.3))
    expect(chart).to_have_attribute("data-points", "5")
    expect(chart.locator("[data-loss-latest]")).to_have_text("step 50: loss 2.3000")
    assert len(plotted(page)) == 5
    screenshot(page, "live-points")

    # and when the run ends, its state changes on the page too
    as_worker(training_run_fail, run_id=run.pk, error="stopped by the test")
    expect(chart.locator("[data-run-state]")).to_have_text("failed", timeout=30_000)

    # without a reload, and without reading the run again
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert len(api_reads) == 1, api_reads
    assert [step for step, _ in TrainingRun.objects.get(pk=run.pk).loss_curve] == [
        10, 20, 30, 40, 50]
