"""Browser fixtures: Debian's Chromium driven by Playwright against the live platform
(tests/live.py: web server, real workers, the tiny trained model). Screenshots go to
test-artifacts/e2e/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing
from tests.live import LivePlatform

# Playwright's sync API runs an event loop in the test's thread, and Django then
# refuses ORM calls from it; the test code itself is synchronous, so this is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """screenshot(page, name): a full-page PNG named after the test and the screen."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []

    def take(page, name: str) -> Path:  # type: ignore[no-untyped-def]
        path = ARTIFACTS / f"{request.node.name}--{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


@pytest.fixture
def signed_in(browser, live_platform: LivePlatform):  # type: ignore[no-untyped-def]
    """signed_in(username, password) -> a page of a fresh browser context, logged in."""
    contexts = []

    def sign_in(username: str, password: str):  # type: ignore[no-untyped-def]
        context = browser.new_context(base_url=live_platform.url, viewport={"width": 1400,
                                                                             "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_platform.url}/")
        return page

    yield sign_in
    for context in contexts:
        context.close()
