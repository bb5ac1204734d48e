"""Gate rules that catch unpublishable text, on the bundled built-in model drafts and human
texts, through the evaluation task, and through `manage.py evaluate`."""

from __future__ import annotations

import json
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.briefs.models import BriefState
from apps.evaluation import gating
from apps.evaluation.models import GateDecision
from apps.evaluation.standalone import evaluate
from apps.generation.models import JobState
from tests import factories
from tests.unit.test_quality_gate_flow import evaluated, gated_brief
from workers.evaluation import checks, embeddings, language

EN = language.language("en")
NEW_RULES = {"wrong_language", "not_language", "repetition_loop", "truncated", "list_marker"}
FRENCH = ("Le compost transforme les déchets de cuisine en nourriture pour le jardin. Choisissez "
          "un coin ombragé, installez un petit bac et gardez le tas humide.")


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return embeddings.packaged_model_dir()


def _judged(item: dict[str, str], model_dir: Path) -> dict:
    brief = {"title": item["title"], "language": "en", "target_length": 120}
    (draft,) = evaluate({"brief": brief, "drafts": [item["text"]]}, model_dir)["drafts"]
    return draft


def _rules(draft: dict) -> set[str]:
    return {reason.split(":")[0] for reason in draft["reasons"]}


def test_the_default_gate_fails_every_builtin_draft_and_no_human_text_on_language(
        gate_texts: dict, model_dir: Path) -> None:
    # Given 20 built-in model drafts and 20 human texts, each with the title its brief carries
    # When each is judged by the default gate
    builtin = [_judged(item, model_dir) for item in gate_texts["builtin"]]
    human = [_judged(item, model_dir) for item in gate_texts["human"]]
    # Then every built-in draft fails, and not being language is among the reasons of each
    assert Counter(d["decision"] for d in builtin) == {"fail": 20}
    assert all("not_language" in _rules(d) for d in builtin)
    assert max(d["metrics"]["real_word_share"] for d in builtin) < 0.89
    # And no human text breaks a language rule; two fail on the profanity word list
    # ("screw", "wank": Jargon File entries) and one is sent to review for an http link
    assert not any(_rules(d) & NEW_RULES for d in human)
    assert min(d["metrics"]["real_word_share"] for d in human) >= 0.89
    assert Counter(d["decision"] for d in human) == {"pass": 17, "review": 1, "fail": 2}
    assert {rule for d in human for rule in _rules(d)} == {"profanity", "unsafe_link"}


@pytest.mark.django_db(transaction=True)
def test_wrong_language_and_babble_are_flagged_and_the_next_prompt_carries_why(
        gate_texts: dict) -> None:
    # Given an English brief with a gate allowing one regeneration
    brief = gated_brief(factories.workspace(), max_regenerations=1)
    babble = gate_texts["builtin"][0]["text"]
    # When its job writes a French variant and a babbling one
    job = evaluated(brief, [FRENCH, babble])
    # Then both fail, and the gate sends the brief back with both reasons
    assert job.state == JobState.SUCCEEDED
    card = GateDecision.objects.get(job=job)
    assert (card.decision, card.passed) == ("regenerate", False)
    assert "text in another language than the brief's found (none allowed): French" in card.reasons
    share = [r for r in card.reasons if r.startswith("share of real words")]
    assert len(share) == 1 and share[0].endswith("below the minimum 0.89")
    brief.refresh_from_db()
    assert brief.state == BriefState.QUEUED
    prompt = brief.jobs.get(state=JobState.QUEUED).prompt
    assert "text in another language than the brief's found (none allowed): French" in prompt
    assert share[0] in prompt


def test_loops_list_markers_and_cut_off_text() -> None:
    loop = language.tokens("Compost is great. the best compost is the best compost is the best "
                           "compost is the best. very very very very good", EN)
    assert checks.loops(loop) == ["very", "the best compost is"]
    assert checks.loops(language.tokens("very, very, very good", EN)) == []
    assert checks.list_markers("Steps:\n1. Dig a hole.\n2.\n-\nDone. 3.") == ["2.", "-", "3."]
    assert checks.list_markers("Steps:\n1. Dig a hole.\n2. Fill it.") == []
    assert checks.truncated("Dig a hole. Then fill it with the") == ["…Then fill it with the"]
    assert checks.truncated("Dig a hole.\n- fill it") == []  # a list item needs no full stop
    assert checks.truncated("# Compost\n\nDig a hole!") == []


def test_a_broken_character_is_a_warning_of_the_default_gate() -> None:
    # given a Chinese draft a byte-level model cut mid-character, and a clean one
    broken = "堆肥是把厨房的果皮和落叶变成肥料的好办法。先在阴凉处放一个小箱\ufffd"
    assert checks.unreadable(broken) == ["…法。先在阴凉处放一个小箱\ufffd"]
    assert checks.unreadable("堆肥是好办法。") == []
    # when the default gate's rules read them
    rules = gating.rules_from(gating.default_rules())
    found = gating.findings({"unreadable": checks.unreadable(broken)}, rules)
    # then the broken one is sent to review with a warning that says where, not failed: an
    # editor mends one character; the clean one passes
    assert [(f.metric, f.severity) for f in found] == [("unreadable", gating.WARN)]
    assert found[0].reason == (
        "broken characters (U+FFFD) found (none allowed): …法。先在阴凉处放一个小箱\ufffd")
    assert gating.verdict(found) == gating.REVIEW
    assert gating.findings({"unreadable": []}, rules) == ()


def test_evaluate_command_scores_drafts_from_a_file(tmp_path: Path) -> None:
    # Given a Chinese brief with a banned term and three drafts: good, wrong language, banned
    good = "堆肥可以减少厨余垃圾，还能改善土壤。在家里做堆肥并不难，只需要一个有盖的桶。"
    payload = {"brief": {"title": "在家堆肥入门", "topic": "用厨余垃圾做堆肥", "language": "zh-CN",
                         "target_length": 36, "keywords": ["堆肥", "厨余垃圾"],
                         "banned_terms": ["保证"], "reference_texts": [good]},
               "drafts": [good, FRENCH, good.replace("并不难", "保证不难")]}
    source = tmp_path / "brief.json"
    source.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    out = StringIO()
    # When the command scores them (a failing draft makes it exit 1, for CI)
    with pytest.raises(SystemExit) as exit_status:
        call_command("evaluate", str(source), stdout=out)
    assert exit_status.value.code == 1
    result = json.loads(out.getvalue())
    # Then the drafts come back in order, measured in characters
    assert (result["language"], result["unit"]) == ("zh", "characters")
    first, french, banned = result["drafts"]
    assert first["metrics"]["length"] == 34 and first["metrics"]["keyword_coverage"] == 1.0
    assert (first["metrics"]["rouge_1"], first["metrics"]["rouge_l"]) == (1.0, 1.0)
    assert (first["decision"], first["reasons"]) == ("pass", [])
    assert french["decision"] == "fail"
    assert "wrong_language: text in another language than the brief's found (none allowed): " \
           "French" in french["reasons"]
    assert banned["decision"] == "fail"
    assert banned["reasons"] == ["banned_term: banned terms found (none allowed): 保证"]


def test_evaluate_command_refuses_malformed_input(tmp_path: Path) -> None:
    source = tmp_path / "bad.json"
    for text, message in (
        ("{", "The input is not JSON"),
        ("[]", "The input must be a JSON object"),
        ('{"brief": {"keywords": "compost"}, "drafts": ["x"]}',
         "brief.keywords must be a list of strings."),
        ('{"brief": {"target_length": 0}, "drafts": ["x"]}',
         "brief.target_length must be a positive whole number."),
        ('{"brief": {}, "drafts": []}', "drafts must be a non-empty list of strings."),
    ):
        source.write_text(text)
        with pytest.raises(CommandError, match=message):
            call_command("evaluate", str(source), stdout=StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("evaluate", str(tmp_path / "missing.json"), stdout=StringIO())
