"""The Chinese demo end to end: the built-in model, trained on the fixture's Tang poems as
`train_model --corpus` trains it, writes the demo workspace's Chinese poem brief
(literature-zh) in real worker processes; the evaluation worker counts and gates the drafts
as Chinese; the demo reviewer approves the best and it is published, as `demo --once
--chinese` does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from aigc_platform import demo
from aigc_platform.celery import app as celery_app
from aigc_platform.processes import database_url
from aigc_platform.stack import platform_running
from apps.evaluation.models import Evaluation, GateDecision
from workers.evaluation.language import HAN, language, length
from workers.generation.builtin.corpus import text_corpus
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.builtin.training import train_builtin_model

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

POEMS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus_zh" / "tang-quatrains"
# The shipped plan's shape is 4 layers of 128 for minutes; one layer of 64 and 300 steps
# take about 8 s on a busy 2-core machine and already write mostly Han characters, about one
# token each (the tokenizer learns the poems' characters: 651 tokens).
PLAN = TrainingPlan(vocab_size=1024, n_layer=1, n_head=2, n_embd=64, block_size=64,
                    batch_size=8, warmup_steps=5, max_seconds=None, eval_blocks=8, threads=1)
STEPS = 300
_HAN_CHAR = re.compile(f"[{HAN}]")


@pytest.fixture(scope="module")
def chinese_platform(django_db_setup, django_db_blocker, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[Path]:
    """Workers whose built-in model learnt Chinese; yields their publishing folder."""
    root = tmp_path_factory.mktemp("chinese-platform")
    corpus = text_corpus(POEMS, source="forty Tang poems (tests/fixtures/corpus_zh)",
                         licence="public domain (Tang dynasty poems)")
    train_builtin_model(root / "models" / "builtin", STEPS, PLAN, corpus=corpus)
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    env = {**demo.DEMO_ENV, "DATABASE_URL": db_url, "AIGC_MODELS_DIR": str(root / "models"),
           "AIGC_PUBLISH_DIR": str(root / "published")}
    celery_app.control.purge()  # messages of earlier tests name rows that are gone
    assert demo.chinese_model_missing(root / "models" / "builtin") == ""
    with platform_running(env=env, log_dir=root / "logs", timeout=180):
        yield root / "published"


def test_the_chinese_demo_brief_is_written_gated_and_published_in_chinese(chinese_platform: Path
                                                                          ) -> None:
    # Given the demo workspace, whose workers' built-in model learnt Chinese from the poems
    workspace = demo.demo_workspace_ensure()
    # When the Chinese sample brief, a poem of the literature-zh preset, is submitted
    brief = demo.demo_brief_submit(workspace, chinese=True)
    assert (brief.content_type.slug, brief.language) == ("literature-zh", "zh-CN")
    # Then real workers write and score it until it reaches review
    brief = demo.wait_for_state(brief.pk, {"in_review"}, 120)
    decisions = list(GateDecision.objects.filter(brief=brief).order_by("id"))
    assert decisions and decisions[-1].decision == "review"
    evaluations = list(Evaluation.objects.filter(draft__job__brief=brief).select_related("draft"))
    assert len(evaluations) == 3 * len(decisions)
    zh = language("zh-CN")
    han = letters = 0
    for evaluation in evaluations:
        text = evaluation.draft.text
        metrics = evaluation.metrics
        # written in Chinese characters: most of what is not space or punctuation is Han, the
        # rest mostly U+FFFD, where the model wrote part of a character's bytes. One draft's
        # share depends on its seed (the job's id): 66 % to 90 % have been seen.
        draft_letters = sum(1 for c in text if c.isalnum() or c == "\ufffd")
        draft_han = len(_HAN_CHAR.findall(text))
        assert draft_han >= draft_letters / 2 > 0, text
        han, letters = han + draft_han, letters + draft_letters
        # counted in characters, against the brief's 80
        assert (metrics["length_unit"], metrics["target_length"]) == ("characters", 80)
        assert metrics["length"] == length(text, zh) > 0
        # lingua reads it as Chinese: never another language, whatever else the gate finds
        assert metrics["wrong_language"] == [], text
        assert "wrong_language" not in {f["metric"] for f in evaluation.findings}
    # together, at least two characters in three are Han (about 83 %)
    assert han >= 2 / 3 * letters, (han, letters)
    # and each round's verdict is recorded in plain words, none of them "another language"
    assert all(isinstance(reason, str) and "another language" not in reason
               for d in decisions for reason in d.reasons)

    # When the demo reviewer approves the best draft for the static site
    best = demo.demo_approve_best(brief, workspace.file_target)
    demo.wait_for_publications(brief.pk, 60)
    # Then the published page holds the Chinese poem
    [publication] = demo.demo_report(brief.pk)["publications"]
    assert publication["state"] == "published"
    page = (chinese_platform / "demo-site" / publication["external_id"]).read_text()
    assert best.draft.text.strip().splitlines()[0] in page
