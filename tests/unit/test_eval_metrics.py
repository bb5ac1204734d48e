"""Metric functions on real texts: hand-derived values, the reference libraries, the real model."""

from __future__ import annotations

from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from workers.evaluation import diversity, embeddings, language, metrics, novelty, references
from workers.evaluation.safety import luhn_valid, safety
from workers.evaluation.scorer import score_drafts
from workers.evaluation.types import PublishedIndex, PublishedPiece, ScoringInput

EN = language.language("en")

COMPOST_SOURCE = (
    "Compost needs a mix of green material such as vegetable scraps and brown material such as "
    "dry leaves. A compost heap should be kept moist but not wet. Turning the heap every one or "
    "two weeks adds air and speeds up decay. Meat and dairy products attract pests and should "
    "not be composted. Finished compost is dark and crumbly and usually takes three to six months."
)
GROUNDED_DRAFT = (
    "Mix green scraps like vegetable peelings with brown material such as dry leaves. Keep the "
    "heap moist, but never soaking wet. Turn it every week or two so air gets in. Compost cures "
    "baldness and doubles your income within a month."
)
PUBLISHED = (
    "Composting turns kitchen scraps into food for your garden. Pick a shady corner and set up a "
    "small bin with a lid. Layer vegetable peelings and coffee grounds with dry leaves or shredded "
    "cardboard. Keep the heap as damp as a wrung-out sponge and turn it every week or two. In "
    "three to six months you will have dark, crumbly compost to dig into your beds."
)
FRESH = (
    "A road bike should fit before it impresses. Test ride two or three frames, have the saddle "
    "set so your knee stays slightly bent, and always wear a helmet and use lights by day."
)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return embeddings.packaged_model_dir()


def test_rouge_equals_hand_count_and_rouge_score() -> None:
    # Given the rouge-score README pair
    target = "The quick brown fox jumps over the lazy dog"
    draft = "The quick brown dog jumps on the log."
    # When the draft is scored against the target
    scores = references.rouge(draft, [target], EN)
    # Then ROUGE-1: 6 shared words of 8 and 9 -> F = 12/17; ROUGE-2: 2 bigrams of 7 and 8 -> 4/15;
    # ROUGE-L: the longest common subsequence "the quick brown jumps the" (5) -> 10/17
    assert scores == {"rouge1": pytest.approx(12 / 17), "rouge2": pytest.approx(4 / 15),
                      "rougeL": pytest.approx(10 / 17)}
    # And each equals rouge-score's own scorer with the stemmer
    reference = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = reference.score(target, draft)
    assert scores == {name: expected[name].fmeasure for name in scores}
    # And with several references the best one counts
    assert references.rouge(draft, ["Unrelated words entirely.", target], EN) == scores


def test_bleu_and_chrf_equal_hand_count_and_sacrebleu() -> None:
    # Given a sentence of sacrebleu's README example and its two references
    draft = "The man had just bitten him."
    refs = ["The man bit him first.", "The man had bitten the dog."]
    # When it is scored
    bleu, chrf = references.bleu(draft, refs, EN), references.chrf(draft, refs)
    # Then BLEU = (6/7 * 2/6 * 1/5 * 1/8) ** (1/4) * 100: clipped n-gram precisions, the empty
    # 4-gram count smoothed by sacrebleu's "exp" method to 1/(2*4), brevity penalty 1 (7 = 7)
    assert bleu == pytest.approx(100 * (1 / 140) ** 0.25)
    assert round(bleu, 2) == 29.07
    # And both equal sacrebleu's functional API
    assert bleu == pytest.approx(sacrebleu.sentence_bleu(draft, refs).score)
    assert chrf == pytest.approx(sacrebleu.sentence_chrf(draft, refs).score)
    assert round(chrf, 2) == 51.88
    # And a draft equal to a reference scores 100 everywhere; no reference gives no scores
    assert references.reference_overlap(refs[0], refs, EN) == {
        "rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0, "bleu": pytest.approx(100.0),
        "chrf": pytest.approx(100.0)}
    assert references.reference_overlap(draft, ["  "], EN) == {}


def test_terms_coverage_and_readability() -> None:
    text = "Our Kitchen  Scraps guide: compost is guaranteed to work. Composting is fun."
    assert language.terms_found(text, ["kitchen scraps", "garden", "compost", "Compost", " "]) == [
        "kitchen scraps", "compost"]
    assert language.coverage(text, ["compost", "garden", "bin", "kitchen scraps"]) == 0.5
    assert language.coverage(text, []) == 1.0
    assert language.terms_found(text, ["guarantee"]) == []  # whole words only
    # 6 words, 1 sentence, 6 syllables: 206.835 - 1.015 * 6 - 84.6 * 1 and 0.39 * 6 + 11.8 - 15.59
    assert metrics.readability("The cat sat on the mat.", EN) == (
        pytest.approx(116.145), pytest.approx(-1.45))
    assert metrics.readability("", EN) == (0.0, 0.0)
    assert metrics.syllables("composting") == 3


def test_diversity_of_variants() -> None:
    first, second = "The cat sat on the mat.", "The cat lay on the mat."
    # 12 words, 6 distinct; 10 bigrams, 7 distinct
    assert diversity.distinct_n([first, second], 1, EN) == 0.5
    assert diversity.distinct_n([first, second], 2, EN) == 0.7
    assert diversity.distinct_n([""], 2, EN) == 0.0
    texts = [first, second, "A dog ran in the park."]
    expected = sum(sacrebleu.sentence_bleu(t, [o for o in texts if o is not t]).score
                   for t in texts) / 3
    assert diversity.self_bleu(texts, EN) == pytest.approx(expected)
    assert diversity.self_bleu([first], EN) is None
    assert diversity.mean_pairwise_similarity([(1.0, 0.0), (0.0, 1.0), (1.0, 0.0)]) == (
        pytest.approx(1 / 3))
    assert diversity.mean_pairwise_similarity([(1.0, 0.0)]) is None


def test_minhash_estimates_shingle_overlap() -> None:
    edited = PUBLISHED.replace("shady", "sunny")
    exact = len(novelty.shingles(PUBLISHED, EN) & novelty.shingles(edited, EN)) / len(
        novelty.shingles(PUBLISHED, EN) | novelty.shingles(edited, EN))
    estimate = novelty.jaccard_estimate(novelty.signature(PUBLISHED, EN), novelty.signature(edited, EN))
    assert abs(estimate - exact) < 0.15
    assert novelty.jaccard_estimate(novelty.signature(PUBLISHED, EN), novelty.signature(PUBLISHED, EN)) == 1
    assert novelty.jaccard_estimate(novelty.signature(PUBLISHED, EN), novelty.signature(FRESH, EN)) < 0.1
    assert len(novelty.signature("", EN)) == novelty.PERMUTATIONS


def test_a_copy_of_a_published_piece_is_caught(model_dir: Path) -> None:
    # Given one published piece, stored as its fingerprint
    (vector,) = embeddings.embed([PUBLISHED], model_dir)
    published = PublishedIndex.of([PublishedPiece(piece_id=41, embedding=vector,
                                                  signature=novelty.signature(PUBLISHED, EN))])
    brief = "Composting at home\nhow to start composting kitchen scraps\ncompost"
    # When a lightly edited copy and a fresh text are scored
    copy, fresh = score_drafts([
        ScoringInput(draft_id=1, brief_text=brief, target_length=80, job_id=1,
                     draft_text=PUBLISHED.replace("Pick a shady", "Choose a shady")),
        ScoringInput(draft_id=2, brief_text=brief, draft_text=FRESH, target_length=80, job_id=1),
    ], model_dir, published)
    # Then the copy is nearly the same in meaning and in words, and points at the piece
    assert copy.metrics["duplicate_similarity"] > 0.97
    assert copy.metrics["duplicate_overlap"] > 0.6
    assert copy.metrics["duplicate_similarity_of"] == copy.metrics["duplicate_overlap_of"] == 41
    # And the fresh text is neither
    assert fresh.metrics["duplicate_similarity"] < 0.3
    assert fresh.metrics["duplicate_overlap"] < 0.1
    # And the job's diversity is measured over both variants
    assert copy.metrics["diversity"] == fresh.metrics["diversity"]
    assert copy.metrics["diversity"]["variants"] == 2
    assert copy.metrics["variant_similarity"] == pytest.approx(fresh.metrics["variant_similarity"])


def test_grounding_lists_the_unsupported_claim(model_dir: Path) -> None:
    # Given source material and a draft with three faithful sentences and one made-up claim
    item = ScoringInput(draft_id=1, brief_text="Composting", draft_text=GROUNDED_DRAFT,
                        target_length=40, source_material=COMPOST_SOURCE)
    # When it is scored
    (result,) = score_drafts([item], model_dir)
    # Then three sentences of four are supported and the claim is listed
    assert result.metrics["grounding"] == 0.75
    assert result.metrics["unsupported_sentences"] == [
        "Compost cures baldness and doubles your income within a month."]
    # a break needs a capital or digit after it; a fragment without letters is no sentence
    assert language.sentences("First one. second part? Third!\n\n42.") == [
        "First one. second part?", "Third!"]


def test_safety_flags_personal_data_links_and_profanity() -> None:
    text = (
        "Write to jane.doe@example.com or call +44 20 7946 0958. Pay with 4111 1111 1111 1111, "
        "not 4111 1111 1111 1112. In 2024 we sold 1,200 bins at $35.99 (order 12345678). "
        "Details: https://example.com/guide, http://example.com/old, https://bit.ly/x1 and "
        "https://192.168.0.1/admin. This shit works. A class trip to Scunthorpe."
    )
    assert safety(text) == {
        "emails": ["jane.doe@example.com"],
        "phone_numbers": ["+44 20 7946 0958"],
        "card_numbers": ["4111 1111 1111 1111"],
        "unsafe_links": [
            {"url": "http://example.com/old", "reason": "not encrypted (no https)"},
            {"url": "https://bit.ly/x1", "reason": "a link shortener hides the destination"},
            {"url": "https://192.168.0.1/admin", "reason": "a bare IP address instead of a domain"},
        ],
        "profanity": ["shit"],
    }
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert safety("javascript:alert(1)")["unsafe_links"][0]["reason"] == (
        "javascript: links can run code or hide content")


def test_scorer_reports_every_text_metric(model_dir: Path) -> None:
    # Given a draft with a banned term, a missing required term, personal data and a reference
    item = ScoringInput(
        draft_id=3, brief_text="Composting at home\ncompost, garden",
        draft_text="Composting is guaranteed to work. Mail ann@example.org for a free bin.",
        target_length=13, keywords=("compost", "garden", "bin"),
        required_terms=("kitchen scraps",), banned_terms=("guaranteed", "free"),
        reference_texts=("Composting works. Ask us for a bin.",),
    )
    # When it is scored
    (result,) = score_drafts([item], model_dir)
    values = result.metrics
    # Then the findings name the words
    assert values["keyword_coverage"] == pytest.approx(1 / 3)
    assert values["keywords_missing"] == ["compost", "garden"]
    assert values["required_terms_missing"] == ["kitchen scraps"]
    assert values["required_coverage"] == 0.0
    assert values["banned_terms_found"] == ["guaranteed", "free"]
    assert values["emails"] == ["ann@example.org"] and values["pii"] == 1
    assert values["word_count"] == 13 and values["char_count"] == 70
    assert values["bleu"] == pytest.approx(references.bleu(item.draft_text, item.reference_texts, EN))
    assert set(values) >= {"rouge1", "rouge2", "rougeL", "chrf", "reading_ease", "reading_grade"}
    assert "grounding" not in values  # no source material: not measured
    assert len(result.embedding) == 384 and len(result.signature) == novelty.PERMUTATIONS
