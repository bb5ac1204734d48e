"""Screenshots of the dashboard's queue, review (brief) and calendar pages at desktop (1280 px)
and phone (390 px) width, for docs/screenshots/.

    python tools/screenshots.py [--out docs/screenshots] [--label after]

A throwaway platform: a fresh SQLite database and embedded Valkey in a temporary folder, the
demo workspace with a few briefs carried through the services (the drafts' texts and scores
are written here, standing for what the workers would produce; no worker runs), and the web
server. Chromium (Debian's) signs in as the demo reviewer. Each picture is a JPEG of at most
MAX_HEIGHT pixels of the page, which keeps it under 200 KB, and as wide as the page (wider than
the screen where the page scrolls sideways). A page the code does not have
(the calendar, before it existed) is left out and said so.

Run from an older checkout (a git worktree) with `--label before` to picture the same data
as the dashboard then showed it: the seeding uses the services both have.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
MAX_HEIGHT = 1600
JPEG_QUALITY = 50


def _setup(var_dir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    # DEBUG: static files straight from the apps (no collectstatic), no production secrets.
    os.environ.update({"AIGC_VAR_DIR": str(var_dir), "DJANGO_DEBUG": "true",
                       "DJANGO_SETTINGS_MODULE": "aigc_platform.settings"})
    import django

    django.setup()


VARIANTS = (
    "Plan the week's meals before you shop, and buy only what the plan needs. Keep herbs in a "
    "glass of water, store apples apart from other fruit, and freeze bread you will not eat "
    "in two days. Leftover rice becomes fried rice; soft vegetables become soup. What is left "
    "goes to the compost, not the bin.",
    "Most food is wasted at home, not in shops. Start with a shopping list built from meals "
    "you have planned, then make leftovers a habit: one evening a week, cook only from what "
    "is already in the fridge. Scraps and peelings make good compost for the garden.",
    "Check the fridge before you shop. Use the oldest food first. Freeze what you cannot eat "
    "in time. Compost the rest.",
)


def _seed() -> dict[str, int]:
    """The demo workspace with briefs in every state the three pages show; the ids pictured."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from aigc_platform.demo import demo_workspace_ensure
    from apps.evaluation.services import evaluation_record
    from apps.generation.services import job_claim, job_record_drafts
    from apps.publishing.services import publication_claim, publication_succeed
    from workers.evaluation.types import DraftScore
    from workers.generation.types import GeneratedText

    try:  # the pipeline's one owner since apps.workflow; before it, each app's services
        from apps.workflow.services import brief_create, review_approve
    except ImportError:
        from apps.briefs.services import brief_create
        from apps.reviews.services import review_approve

    demo = demo_workspace_ensure()
    reviewer = get_user_model().objects.get(username="reviewer")

    def brief(title: str, topic: str, submit: bool = True, variants: int = 3):  # type: ignore[no-untyped-def]
        return brief_create(workspace=demo.workspace, content_type=demo.content_type, title=title,
                            topic=topic, audience="busy families", keywords=["garden", "home"],
                            submit=submit, variants=variants)

    def in_review(title: str, topic: str, scores: tuple[float, ...]):  # type: ignore[no-untyped-def]
        created = brief(title, topic, variants=len(scores))
        job = created.jobs.get()
        job_claim(job_id=job.pk, worker_id="screenshots")
        job_record_drafts(job_id=job.pk, worker_id="screenshots", texts=[
            GeneratedText(variant=v, text=VARIANTS[v % len(VARIANTS)], seed=v, prompt_tokens=48,
                          completion_tokens=110, model_name="builtin")
            for v in range(len(scores))])
        evaluation_record(job_id=job.pk, audit_draw=0.99, scores=[
            DraftScore(draft_id=d.pk, relevance=scores[d.variant], length_fit=0.9,
                       score=scores[d.variant], embedding_model="minilm")
            for d in job.drafts.all()])
        created.refresh_from_db()
        return created

    def approved(title: str, topic: str, publish_at):  # type: ignore[no-untyped-def]
        created = in_review(title, topic, (0.84, 0.71))
        review_approve(brief=created, draft_id=created.drafts.order_by("variant").first().pk,
                       reviewer=reviewer, target_ids=[demo.file_target.pk], publish_at=publish_at)
        return created

    now = timezone.now()
    review = in_review("Five ways to cut food waste at home",
                       "practical ways households can reduce food waste", (0.86, 0.74, 0.61))
    in_review("Spring planting on a balcony", "what to sow in pots in March and April", (0.78, 0.69))
    brief("Rainwater barrels: a beginner's guide", "collecting rainwater for the garden")
    brief("Why mulch matters", "mulching beds to keep moisture in", submit=False)
    approved("Composting in a small flat", "bokashi and worm bins indoors",
             now + timedelta(days=1))
    approved("Saving seeds from tomatoes", "fermenting and drying tomato seeds",
             now + timedelta(days=3))
    published = approved("A winter herb garden indoors", "herbs on a windowsill", None)
    for publication in published.publications.all():
        claimed = publication_claim(publication_id=publication.pk, worker_id="screenshots")
        if claimed is not None:
            publication_succeed(publication=claimed, external_id=f"post-{publication.pk}")
    return {"review": review.pk}


def _shoot(base_url: str, out: Path, label: str, ids: dict[str, int]) -> list[str]:
    from playwright.sync_api import sync_playwright

    from aigc_platform.demo import DEMO_PASSWORD

    pages = {"queue": "/", "review": f"/briefs/{ids['review']}/", "calendar": "/calendar/"}
    notes = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        for screen, viewport in SCREENS.items():
            context = browser.new_context(base_url=base_url, viewport=viewport)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill("reviewer")
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base_url}/")
            for name, path in pages.items():
                response = page.goto(path)
                if response is None or response.status == 404:
                    notes.append(f"{name}: no such page in this version")
                    continue
                page.wait_for_load_state("load")
                page.wait_for_timeout(800)  # the live connection's first refresh
                # As wide as the page is: a page wider than the screen shows what scrolls off.
                width, height = page.evaluate("[document.documentElement.scrollWidth, "
                                              "document.documentElement.scrollHeight]")
                path_out = out / f"{name}-{screen}-{label}.jpg"
                page.screenshot(path=str(path_out), type="jpeg", quality=JPEG_QUALITY,
                                full_page=True, clip={"x": 0, "y": 0, "width": width,
                                                      "height": min(MAX_HEIGHT, height)})
                notes.append(f"{path_out.name}: {path_out.stat().st_size // 1024} KB")
            context.close()
        browser.close()
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shots-") as tmp:
        var_dir = Path(tmp)
        _setup(var_dir)
        from django.core.management import call_command

        from aigc_platform.embedded import running_valkey
        from aigc_platform.processes import ManagedProcess, free_port, web_command

        with running_valkey(var_dir):
            call_command("migrate", verbosity=0)
            ids = _seed()
            port = free_port()
            web = ManagedProcess("web", web_command("127.0.0.1", port), {},
                                 var_dir / "web.log").start()
            try:
                web.wait_for_port("127.0.0.1", port, timeout=60)
                for note in _shoot(f"http://127.0.0.1:{port}", args.out, args.label, ids):
                    print(note)
            finally:
                web.stop()


if __name__ == "__main__":
    main()
