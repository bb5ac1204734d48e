"""The scorers on the real all-MiniLM-L6-v2 model and hand-written texts (no database)."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest

from workers.evaluation import embeddings, language, metrics
from workers.evaluation.scorer import score_drafts
from workers.evaluation.types import ScoringInput

EN = language.language("en")

COMPOST_BRIEF = (
    "Composting at home\nhow to start composting kitchen scraps in a small garden\ncompost, garden"
)
COMPOST_DRAFT = (
    "Composting turns kitchen scraps into food for your garden. Pick a shady corner, set up a "
    "small bin, and layer vegetable peelings and coffee grounds with dry leaves or shredded "
    "cardboard. Keep the heap as damp as a wrung-out sponge and turn it every week or two. "
    "Skip meat and dairy, which attract pests. In three to six months you will have dark, "
    "crumbly compost to dig into your beds."
)  # 71 words, 5 sentences
CYCLING_BRIEF = (
    "Getting started with road cycling\nchoosing a first road bike and riding safely in "
    "traffic\ncycling, bike, safety"
)
CYCLING_DRAFT = (
    "Your first road bike should fit before it impresses. Visit a shop, test ride two or three "
    "frames, and have the saddle height set so your knee stays slightly bent at the bottom of "
    "each pedal stroke. Wear a helmet, use lights even by day, ride predictably in a straight "
    "line and signal every turn so drivers know what you will do next."
)
INTEREST_RATES = (
    "The central bank raised its main interest rate by half a percentage point on Tuesday, "
    "citing stubborn inflation in services and a tight labour market. Bond yields climbed "
    "after the announcement and the currency strengthened against the dollar, while "
    "analysts expect at least one more increase before the end of the year."
)
SPONGE_CAKE = (
    "Preheat the oven to 180 degrees. Cream the butter and sugar until pale, beat in the eggs "
    "one at a time, then fold in the flour and a pinch of salt. Pour the batter into a lined "
    "tin and bake for forty minutes, until a skewer comes out clean."
)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return embeddings.packaged_model_dir()


def test_embeddings_equal_sentence_transformers(model_dir: Path) -> None:
    # Given texts of very different lengths, one far past the 256-token limit, one padded
    long_text = " ".join([COMPOST_DRAFT] * 6)
    texts = [COMPOST_BRIEF, COMPOST_DRAFT, "  Bike lights  \n", long_text, SPONGE_CAKE, ""]
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir), device="cpu").encode(texts)
    # When they are embedded in batches of two (so padding differs from the reference's)
    embeddings.embedding_cache_clear()
    ours = embeddings.embed(texts, model_dir, batch_size=2)
    # Then every component matches sentence-transformers, and each vector has unit length
    assert len(ours) == len(texts)
    for vector, expected in zip(ours, reference, strict=True):
        assert len(vector) == 384
        assert max(abs(a - float(b)) for a, b in zip(vector, expected, strict=True)) < 1e-4
        assert math.sqrt(sum(a * a for a in vector)) == pytest.approx(1.0, abs=1e-6)


def test_each_distinct_text_is_encoded_once(model_dir: Path) -> None:
    # Given an empty cache
    embeddings.embedding_cache_clear()
    # When a job's brief is embedded next to each of its drafts
    first = embeddings.embed(
        [COMPOST_BRIEF, COMPOST_DRAFT, COMPOST_BRIEF, INTEREST_RATES], model_dir
    )
    # Then the brief was encoded once and its two places hold the same vector
    assert embeddings.embedding_cache_stats() == embeddings.CacheStats(hits=0, misses=3, entries=3)
    assert first[0] == first[2]
    # And a later call (a redelivered task) takes it from the cache
    again = embeddings.embed([COMPOST_BRIEF], model_dir)
    assert again == [first[0]]
    assert embeddings.embedding_cache_stats() == embeddings.CacheStats(hits=1, misses=3, entries=3)


def test_model_loads_and_runs_without_network(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a process whose every network connection fails
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    embeddings.models_unload()
    embeddings.embedding_cache_clear()
    # When the model is loaded from its folder and used
    (vector,) = embeddings.embed([CYCLING_BRIEF], model_dir)
    # Then it worked
    assert len(vector) == 384


def test_on_topic_draft_is_more_relevant_than_off_topic(model_dir: Path) -> None:
    # Given two briefs, each with an on-topic draft and an off-topic one
    inputs = [
        ScoringInput(draft_id=1, brief_text=COMPOST_BRIEF, draft_text=COMPOST_DRAFT, target_length=60),
        ScoringInput(draft_id=2, brief_text=COMPOST_BRIEF, draft_text=INTEREST_RATES, target_length=60),
        ScoringInput(draft_id=3, brief_text=CYCLING_BRIEF, draft_text=CYCLING_DRAFT, target_length=60),
        ScoringInput(draft_id=4, brief_text=CYCLING_BRIEF, draft_text=SPONGE_CAKE, target_length=60),
    ]
    # When they are scored
    scores = score_drafts(inputs, model_dir)
    # Then results keep the input order and the model's name
    assert [s.draft_id for s in scores] == [1, 2, 3, 4]
    assert {s.embedding_model for s in scores} == {"sentence-transformers/all-MiniLM-L6-v2"}
    relevance = {s.draft_id: s.relevance for s in scores}
    # And each on-topic draft is clearly related, each off-topic one nearly unrelated
    assert relevance[1] > relevance[2]
    assert relevance[3] > relevance[4]
    for on_topic in (relevance[1], relevance[3]):
        assert 0.5 < on_topic < 0.95
    for off_topic in (relevance[2], relevance[4]):
        assert -0.2 < off_topic < 0.25
    # And the overall score ranks on-topic drafts first
    by_score = sorted(scores, key=lambda s: s.score, reverse=True)
    assert [s.draft_id for s in by_score[:2]] in ([1, 3], [3, 1])


def test_score_is_the_documented_combination(model_dir: Path) -> None:
    # Given an on-topic draft of 71 words for a 60-word target
    item = ScoringInput(draft_id=7, brief_text=COMPOST_BRIEF, draft_text=COMPOST_DRAFT,
                        target_length=60)
    # When it is scored
    (result,) = score_drafts([item], model_dir)
    # Then length fit, score and cheap metrics follow their formulas
    assert result.length_fit == 2.0 ** -(math.log2(71 / 60) ** 2)
    assert result.score == 0.7 * result.relevance + 0.3 * result.length_fit
    counts = {name: result.metrics[name] for name in
              ("word_count", "target_length", "char_count", "sentence_count", "distinct_words",
               "repetition", "pii", "keyword_coverage", "duplicate_similarity",
               "variant_similarity")}
    assert counts == {"word_count": 71, "target_length": 60, "char_count": len(COMPOST_DRAFT),
                      "sentence_count": 5, "distinct_words": 61, "repetition": 0.0, "pii": 0,
                      "keyword_coverage": 1.0, "duplicate_similarity": 0.0,
                      "variant_similarity": None}
    assert (result.metrics["reading_ease"], result.metrics["reading_grade"]) == (
        metrics.readability(COMPOST_DRAFT, EN))


def test_length_fit_peaks_at_target() -> None:
    assert metrics.length_fit(200, 200) == 1.0
    assert metrics.length_fit(100, 200) == 0.5
    assert metrics.length_fit(400, 200) == 0.5
    assert metrics.length_fit(50, 200) == 0.0625
    assert metrics.length_fit(0, 200) == 0.0
    # smooth: nearly flat at +-10 %, falling faster further out
    assert metrics.length_fit(160, 200) < metrics.length_fit(180, 200) < 1.0
    assert metrics.length_fit(180, 200) > 0.98
    with pytest.raises(ValueError, match="positive count"):
        metrics.length_fit(10, 0)


def test_relevance_is_cosine_similarity() -> None:
    assert metrics.relevance([1.0, 0.0], [2.0, 0.0]) == 1.0
    assert metrics.relevance([1.0, 0.0], [0.0, 3.0]) == 0.0
    assert metrics.relevance([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(-1.0)
    assert metrics.relevance([0.0, 0.0], [1.0, 0.0]) == 0.0


def test_text_metrics() -> None:
    assert language.tokens("Don't panic -- it's only 42 words… really!", EN) == [
        "Don't", "panic", "it's", "only", "42", "words", "really"]
    assert language.sentence_count("One. Two? Three! And a fourth without an end") == 4
    assert language.sentence_count("Dr. Smith arrived.") == 2  # a known, cheap approximation
    assert language.sentence_count("   ") == 0
    loop = language.tokens("the best compost is the best compost is the best compost", EN)
    assert metrics.repetition(loop) == pytest.approx(5 / 9)
    assert metrics.repetition(language.tokens(COMPOST_DRAFT, EN)) == 0.0
    assert metrics.repetition(["too", "short"]) == 0.0
