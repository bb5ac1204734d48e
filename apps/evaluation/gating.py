"""The quality gate's rules over plain data: findings in plain words, ranking, the decision.

No database here: the service loads gates and scores, calls `decide`, and acts on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.evaluation.checks import REAL_WORD_SHARE_MIN
from workers.evaluation.types import DraftScore

FAIL = "fail"
WARN = "warn"
SEVERITIES = (FAIL, WARN)

AUTO_APPROVE = "auto_approve"
REVIEW = "review"
REGENERATE = "regenerate"

# What a metric means to an editor, for reasons in plain words.
LABELS: dict[str, str] = {
    "relevance": "relevance to the brief",
    "length_fit": "fit to the target length",
    "word_count": "word count",
    "char_count": "character count",
    "length": "length in the language's unit (words, or characters for Chinese and Japanese)",
    "keyword_coverage": "keyword coverage",
    "required_coverage": "coverage of the style guide's required terms",
    "reading_ease": "reading ease (Flesch's formula for the language)",
    "reading_grade": "reading grade level",
    "repetition": "repetition",
    "rouge1": "ROUGE-1 against the reference texts",
    "rouge2": "ROUGE-2 against the reference texts",
    "rougeL": "ROUGE-L against the reference texts",
    "bleu": "BLEU against the reference texts",
    "chrf": "chrF against the reference texts",
    "grounding": "share of sentences supported by the source material",
    "duplicate_similarity": "similarity to an already published piece",
    "duplicate_overlap": "word overlap with an already published piece",
    "variant_similarity": "similarity to another variant",
    "banned_terms_found": "banned terms",
    "required_terms_missing": "missing required terms",
    "keywords_missing": "missing keywords",
    "emails": "email addresses",
    "phone_numbers": "phone numbers",
    "card_numbers": "payment card numbers",
    "pii": "personal data (emails, phone numbers, card numbers)",
    "unsafe_links": "unsafe links",
    "profanity": "profanity",
    "unsupported_sentences": "sentences not supported by the source material",
    "wrong_language": "text in another language than the brief's",
    "real_word_share": "share of real words of the brief's language",
    "truncated": "text cut off mid-sentence",
    "loops": "phrases repeated in a loop",
    "list_markers": "list markers left without an item",
    "unreadable": "broken characters (U+FFFD)",
}

# The short name of the rule a metric's finding breaks, as `manage.py evaluate` and the
# API report it ("banned_term", "not_language"); metrics not listed go by their own name.
RULE_NAMES: dict[str, str] = {
    "banned_terms_found": "banned_term",
    "real_word_share": "not_language",
    "loops": "repetition_loop",
    "list_markers": "list_marker",
    "emails": "pii", "phone_numbers": "pii", "card_numbers": "pii", "pii": "pii",
    "keywords_missing": "keyword_missing",
    "required_terms_missing": "required_term_missing",
    "unsafe_links": "unsafe_link",
    "unreadable": "unreadable_character",
}

# A new gate starts from these; each line is a judgement an editor can change in admin.
DEFAULT_RULES: list[dict[str, Any]] = [
    {"metric": "relevance", "min": 0.3, "severity": FAIL},  # MiniLM: off-topic text is < 0.25
    # text that is not what an editor could publish, whatever its scores (workers/evaluation/
    # checks.py); real-word shares: built-in model babble 0.43-0.86, human prose 0.92-1.00
    {"metric": "wrong_language", "max": 0, "severity": FAIL},
    {"metric": "real_word_share", "min": REAL_WORD_SHARE_MIN, "severity": FAIL},
    {"metric": "loops", "max": 0, "severity": FAIL},
    {"metric": "truncated", "max": 0, "severity": WARN},
    # U+FFFD: a byte-level model's broken character; a warning, as small models write it
    {"metric": "unreadable", "max": 0, "severity": WARN},
    {"metric": "list_markers", "max": 0, "severity": WARN},
    {"metric": "banned_terms_found", "max": 0, "severity": FAIL},
    {"metric": "emails", "max": 0, "severity": FAIL},
    {"metric": "phone_numbers", "max": 0, "severity": FAIL},
    {"metric": "card_numbers", "max": 0, "severity": FAIL},
    {"metric": "profanity", "max": 0, "severity": FAIL},
    # a copy: cosine >= 0.95 is the same text give or take a few words; Jaccard 0.5 of 5-word
    # shingles means half the sentences are shared verbatim
    {"metric": "duplicate_similarity", "max": 0.95, "severity": FAIL},
    {"metric": "duplicate_overlap", "max": 0.5, "severity": FAIL},
    {"metric": "unsafe_links", "max": 0, "severity": WARN},
    {"metric": "required_coverage", "min": 1.0, "severity": WARN},
    {"metric": "keyword_coverage", "min": 0.5, "severity": WARN},
    {"metric": "length_fit", "min": 0.5, "severity": WARN},  # half or double the target
    {"metric": "grounding", "min": 0.6, "severity": WARN},
    {"metric": "reading_ease", "min": 30, "severity": WARN},  # below 30: academic prose
]


def gated_metrics(score: DraftScore) -> dict[str, float]:
    """What the rules and weights read of a draft's scores: its metrics with its relevance,
    length fit and overall score (the default gate fails off-topic text on relevance)."""
    return {"relevance": score.relevance, "length_fit": score.length_fit, "score": score.score,
            **score.metrics}


def default_rules() -> list[dict[str, Any]]:
    return [dict(rule) for rule in DEFAULT_RULES]


# What no revision may break to be approved, a reviewer's edit included: banned terms,
# personal data, a copy of a published piece, another language than the brief's.
HARD_METRICS = frozenset({"banned_terms_found", "emails", "phone_numbers", "card_numbers", "pii",
                          "duplicate_similarity", "duplicate_overlap", "wrong_language"})


@dataclass(frozen=True)
class Rule:
    metric: str
    severity: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class RiskPattern:
    name: str
    pattern: str


@dataclass(frozen=True)
class Policy:
    """What the gates that apply to a draft ask for, merged into one."""

    rules: tuple[Rule, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    max_regenerations: int = 2
    risk_patterns: tuple[RiskPattern, ...] = ()
    risk_group: str = ""
    audit_rate: float = 0.0


@dataclass(frozen=True)
class Finding:
    metric: str
    severity: str
    value: Any
    reason: str

    @property
    def rule(self) -> str:
        return RULE_NAMES.get(self.metric, self.metric)


@dataclass(frozen=True)
class Variant:
    draft_id: int
    text: str
    score: float  # the scorer's default score, used when the policy sets no weights
    metrics: Mapping[str, Any]


@dataclass(frozen=True)
class VariantVerdict:
    draft_id: int
    rank: int  # 1 is shown first
    score: float  # the weighted score the ranking used
    passed: bool  # no hard failure
    findings: tuple[Finding, ...]
    risks: tuple[str, ...]  # names of risk patterns found in the text


@dataclass(frozen=True)
class Decision:
    decision: str  # AUTO_APPROVE, REVIEW or REGENERATE
    best_draft_id: int
    passed: bool
    reasons: tuple[str, ...]  # plain words: hard failures first, then warnings, then risks
    variants: tuple[VariantVerdict, ...]  # ranked
    risks: tuple[str, ...]
    required_group: str
    audit_sampled: bool
    regeneration: int  # 0 for the first generation, n for the n-th automatic regeneration


def rules_from(raw: Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Rules from a gate's JSON, refused in plain words when malformed."""
    rules = []
    for item in raw:
        metric, severity = item.get("metric"), item.get("severity", FAIL)
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"A rule needs a metric name: {dict(item)}.")
        if severity not in SEVERITIES:
            raise ValueError(f"Rule '{metric}': severity must be 'fail' or 'warn', not {severity!r}.")
        low, high = item.get("min"), item.get("max")
        if low is None and high is None:
            raise ValueError(f"Rule '{metric}' needs a min or a max.")
        for bound in (low, high):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
                raise ValueError(f"Rule '{metric}': bounds must be numbers, not {bound!r}.")
        rules.append(Rule(metric=metric, severity=severity, min=low, max=high))
    return tuple(rules)


def risk_patterns_from(raw: Sequence[Mapping[str, Any]]) -> tuple[RiskPattern, ...]:
    patterns = []
    for item in raw:
        name, pattern = item.get("name"), item.get("pattern")
        if not isinstance(name, str) or not name or not isinstance(pattern, str) or not pattern:
            raise ValueError(f"A risk pattern needs a name and a pattern: {dict(item)}.")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"Risk pattern '{name}' is not a valid regular expression: {exc}.") \
                from exc
        patterns.append(RiskPattern(name=name, pattern=pattern))
    return tuple(patterns)


def _shown(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def _reason(rule: Rule, value: Any) -> str | None:
    """Why `value` breaks `rule`, in plain words; None when it keeps to it."""
    label = LABELS.get(rule.metric, rule.metric.replace("_", " "))
    if isinstance(value, list):
        count = len(value)
        items = ", ".join(v["url"] if isinstance(v, dict) else str(v) for v in value)
        if rule.max is not None and count > rule.max:
            allowed = "none allowed" if rule.max == 0 else f"at most {_shown(rule.max)}"
            return f"{label} found ({allowed}): {items}"
        if rule.min is not None and count < rule.min:
            return f"{label}: {count}, fewer than the minimum {_shown(rule.min)}"
        return None
    if rule.min is not None and value < rule.min:
        return f"{label} is {_shown(value)}, below the minimum {_shown(rule.min)}"
    if rule.max is not None and value > rule.max:
        if rule.max == 0:
            return f"{label}: {_shown(value)} found, none allowed"
        return f"{label} is {_shown(value)}, above the maximum {_shown(rule.max)}"
    return None


def hard_rules(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """The hard-failure rules on HARD_METRICS among the gates' `rules`; a brief without a gate
    rule on them is held to the default gate's."""
    chosen = tuple(r for r in rules if r.metric in HARD_METRICS and r.severity == FAIL)
    return chosen or tuple(r for r in rules_from(DEFAULT_RULES)
                           if r.metric in HARD_METRICS and r.severity == FAIL)


def findings(values: Mapping[str, Any], rules: Sequence[Rule]) -> tuple[Finding, ...]:
    """Broken rules, hard failures first; a rule on a metric not measured (no source, no
    reference texts) is skipped."""
    found = []
    for rule in rules:
        value = values.get(rule.metric)
        if value is None or isinstance(value, dict | str | bool):
            continue
        reason = _reason(rule, value)
        if reason is not None:
            found.append(Finding(metric=rule.metric, severity=rule.severity, value=value,
                                 reason=reason))
    return tuple(sorted(found, key=lambda f: SEVERITIES.index(f.severity)))


PASS = "pass"


def verdict(found: Sequence[Finding]) -> str:
    """One draft on its own: FAIL on a hard failure, REVIEW on a warning, else PASS."""
    if any(f.severity == FAIL for f in found):
        return FAIL
    return REVIEW if found else PASS


def weighted_score(variant: Variant, weights: Mapping[str, float]) -> float:
    """Sum of weight x metric over the weighted metrics measured, divided by their weights;
    the scorer's own score when no weight applies."""
    total = weight_sum = 0.0
    for metric, weight in weights.items():
        value = variant.metrics.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            total += weight * value
            weight_sum += weight
    return total / weight_sum if weight_sum else variant.score


def risks(text: str, patterns: Sequence[RiskPattern]) -> tuple[str, ...]:
    return tuple(p.name for p in patterns if re.search(p.pattern, text, re.IGNORECASE))


def decide(
    variants: Sequence[Variant],
    policy: Policy,
    *,
    regenerations_done: int,
    auto_approve: bool,
    audit_draw: float,
) -> Decision:
    """Rank the variants and decide what happens to the brief.

    Passing variants rank above failing ones, each by weighted score. When even the
    best fails a hard rule: REGENERATE while fewer than `max_regenerations` automatic
    regenerations were made, else REVIEW marked as failing. A passing best variant is
    AUTO_APPROVE only where the workspace allows it, nothing warns, no risk pattern fires
    and the audit draw (uniform in [0, 1)) is not below the audit rate; else REVIEW.
    """
    if not variants:
        raise ValueError("A decision needs at least one variant.")
    verdicts = []
    for variant in variants:
        found = findings(variant.metrics, policy.rules)
        verdicts.append(VariantVerdict(
            draft_id=variant.draft_id, rank=0, score=weighted_score(variant, policy.weights),
            passed=not any(f.severity == FAIL for f in found), findings=found,
            risks=risks(variant.text, policy.risk_patterns),
        ))
    verdicts.sort(key=lambda v: (not v.passed, -v.score, v.draft_id))
    ranked = tuple(VariantVerdict(**{**v.__dict__, "rank": i}) for i, v in enumerate(verdicts, 1))
    best = ranked[0]
    all_risks = tuple(dict.fromkeys(r for v in ranked for r in v.risks))
    reasons = [f.reason for f in best.findings]
    if not best.passed:
        # one reason per failing metric across variants, so a regeneration avoids them all
        seen = {f.metric for f in best.findings}
        for verdict in ranked[1:]:
            for finding in verdict.findings:
                if finding.severity == FAIL and finding.metric not in seen:
                    seen.add(finding.metric)
                    reasons.append(finding.reason)
    reasons += [f"needs approval by {policy.risk_group or 'a reviewer'}: {name} detected"
                for name in all_risks]
    audit_sampled = False
    if not best.passed:
        decision = REGENERATE if regenerations_done < policy.max_regenerations else REVIEW
    elif best.findings or all_risks or not auto_approve:
        decision = REVIEW
    elif audit_draw < policy.audit_rate:
        decision, audit_sampled = REVIEW, True
    else:
        decision = AUTO_APPROVE
    return Decision(
        decision=decision, best_draft_id=best.draft_id, passed=best.passed,
        reasons=tuple(reasons), variants=ranked, risks=all_risks,
        required_group=policy.risk_group if all_risks else "", audit_sampled=audit_sampled,
        regeneration=regenerations_done,
    )


def merge(policies: Sequence[Policy]) -> Policy:
    """Several gates apply (content type, then each target): every rule counts, the strictest
    limits win (fewest regenerations, highest audit rate)."""
    if not policies:
        return Policy()
    weights: dict[str, float] = {}
    for policy in policies:
        weights.update(policy.weights)
    return Policy(
        rules=tuple(rule for p in policies for rule in p.rules),
        weights=weights,
        max_regenerations=min(p.max_regenerations for p in policies),
        risk_patterns=tuple(dict.fromkeys(r for p in policies for r in p.risk_patterns)),
        risk_group=next((p.risk_group for p in policies if p.risk_group), ""),
        audit_rate=max(p.audit_rate for p in policies),
    )
