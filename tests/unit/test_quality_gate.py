"""The quality gate's rules and decisions over plain data (no database, no model)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.evaluation import gating
from apps.evaluation.gating import Policy, RiskPattern, Rule, Variant

RULES = gating.rules_from(gating.DEFAULT_RULES)


def clean_metrics(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "relevance": 0.7, "length_fit": 0.9, "keyword_coverage": 1.0, "required_coverage": 1.0,
        "banned_terms_found": [], "emails": [], "phone_numbers": [], "card_numbers": [],
        "profanity": [], "unsafe_links": [], "duplicate_similarity": 0.2,
        "duplicate_overlap": 0.0, "reading_ease": 65.0, "diversity": {"variants": 2},
    }
    values.update(changes)
    return values


def decide(variants: list[Variant], policy: Policy | None = None, *, done: int = 0,
           auto_approve: bool = False, draw: float = 0.5) -> gating.Decision:
    return gating.decide(variants, policy or Policy(rules=RULES, max_regenerations=2),
                         regenerations_done=done, auto_approve=auto_approve, audit_draw=draw)


def test_findings_say_why_in_plain_words() -> None:
    values = clean_metrics(relevance=0.12, banned_terms_found=["synergy", "leverage"],
                           card_numbers=["4111 1111 1111 1111"], length_fit=0.25,
                           unsafe_links=[{"url": "http://x.example", "reason": "no https"}])
    found = gating.findings(values, RULES)
    assert [(f.metric, f.severity, f.reason) for f in found] == [
        ("relevance", "fail", "relevance to the brief is 0.12, below the minimum 0.30"),
        ("banned_terms_found", "fail", "banned terms found (none allowed): synergy, leverage"),
        ("card_numbers", "fail",
         "payment card numbers found (none allowed): 4111 1111 1111 1111"),
        ("unsafe_links", "warn", "unsafe links found (none allowed): http://x.example"),
        ("length_fit", "warn", "fit to the target length is 0.25, below the minimum 0.50"),
    ]
    # a metric not measured (no source material: no grounding) is not judged
    assert "grounding" not in values and gating.findings(clean_metrics(), RULES) == ()


def test_banned_term_in_every_variant_regenerates_with_the_reason() -> None:
    variants = [
        Variant(draft_id=1, text="a", score=0.8,
                metrics=clean_metrics(banned_terms_found=["synergy"])),
        Variant(draft_id=2, text="b", score=0.6,
                metrics=clean_metrics(banned_terms_found=["synergy"], relevance=0.1)),
    ]
    decision = decide(variants)
    assert decision.decision == gating.REGENERATE and not decision.passed
    assert decision.reasons == (
        "banned terms found (none allowed): synergy",
        "relevance to the brief is 0.10, below the minimum 0.30",
    )
    assert [(v.draft_id, v.rank, v.passed) for v in decision.variants] == [
        (1, 1, False), (2, 2, False)]
    # after max_regenerations automatic regenerations it goes to review, marked failing
    final = decide(variants, done=2)
    assert (final.decision, final.passed, final.regeneration) == (gating.REVIEW, False, 2)


def test_a_passing_variant_ranks_first_and_goes_to_review_by_default() -> None:
    variants = [
        Variant(draft_id=1, text="a", score=0.9, metrics=clean_metrics(emails=["a@b.example"])),
        Variant(draft_id=2, text="b", score=0.5, metrics=clean_metrics()),
    ]
    decision = decide(variants)
    assert decision.best_draft_id == 2 and decision.passed
    assert decision.decision == gating.REVIEW  # the workspace did not turn on auto-approval
    assert decision.reasons == ()
    assert [v.draft_id for v in decision.variants] == [2, 1]


def test_auto_approval_only_when_enabled_clean_and_not_sampled_for_audit() -> None:
    clean = [Variant(draft_id=1, text="a", score=0.8, metrics=clean_metrics())]
    policy = Policy(rules=RULES, audit_rate=0.1)
    approved = decide(clean, policy, auto_approve=True, draw=0.1)
    assert (approved.decision, approved.audit_sampled) == (gating.AUTO_APPROVE, False)
    audited = decide(clean, policy, auto_approve=True, draw=0.099)
    assert (audited.decision, audited.audit_sampled) == (gating.REVIEW, True)
    warned = [Variant(draft_id=1, text="a", score=0.8, metrics=clean_metrics(length_fit=0.3))]
    warning = decide(warned, policy, auto_approve=True, draw=0.9)
    assert warning.decision == gating.REVIEW
    assert warning.reasons == ("fit to the target length is 0.30, below the minimum 0.50",)


def test_risk_patterns_route_to_the_named_group() -> None:
    policy = Policy(rules=RULES, risk_group="Compliance",
                    risk_patterns=(RiskPattern("health claim", r"\bcures?\b"),
                                   RiskPattern("competitor", r"\bAcme\b")))
    variants = [Variant(draft_id=1, text="Compost cures everything.", score=0.8,
                        metrics=clean_metrics()),
                Variant(draft_id=2, text="Plain text.", score=0.7, metrics=clean_metrics())]
    decision = decide(variants, policy, auto_approve=True, draw=0.9)
    assert decision.decision == gating.REVIEW
    assert decision.risks == ("health claim",) and decision.required_group == "Compliance"
    assert decision.reasons == ("needs approval by Compliance: health claim detected",)
    assert decision.variants[0].risks == ("health claim",)


def test_weights_rank_variants() -> None:
    policy = Policy(rules=RULES, weights={"relevance": 1.0, "keyword_coverage": 3.0})
    variants = [
        Variant(draft_id=1, text="a", score=0.9, metrics=clean_metrics(keyword_coverage=0.0)),
        Variant(draft_id=2, text="b", score=0.5, metrics=clean_metrics(relevance=0.4)),
    ]
    decision = decide(variants, policy)
    assert [(v.draft_id, v.score) for v in decision.variants] == [
        (2, pytest.approx((0.4 + 3.0) / 4)), (1, pytest.approx(0.7 / 4))]


def test_gates_merge_strictly() -> None:
    general = Policy(rules=(Rule("relevance", "fail", min=0.3),), max_regenerations=3,
                     audit_rate=0.05, weights={"relevance": 1.0})
    social = Policy(rules=(Rule("char_count", "fail", max=280),), max_regenerations=1,
                    audit_rate=0.2, risk_group="Legal")
    merged = gating.merge([general, social])
    assert merged.rules == general.rules + social.rules
    assert (merged.max_regenerations, merged.audit_rate, merged.risk_group) == (1, 0.2, "Legal")
    assert gating.merge([]) == Policy()


@pytest.mark.parametrize(("raw", "message"), [
    ([{"min": 1}], "A rule needs a metric name"),
    ([{"metric": "relevance", "min": 0.3, "severity": "block"}], "severity must be"),
    ([{"metric": "relevance"}], "needs a min or a max"),
    ([{"metric": "relevance", "min": "high"}], "bounds must be numbers"),
])
def test_malformed_rules_are_refused(raw: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gating.rules_from(raw)


def test_malformed_risk_patterns_are_refused() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        gating.risk_patterns_from([{"name": "bad", "pattern": "(unclosed"}])
    assert gating.risk_patterns_from([{"name": "n", "pattern": r"\d+%"}]) == (
        RiskPattern("n", r"\d+%"),)
