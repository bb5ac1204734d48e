"""Drafts scored per second: one batched call for 64 drafts, one call per job (what the
evaluation worker does: a job's variants together), and one call per draft.

Same model (the packaged all-MiniLM-L6-v2, CPU), same 64 drafts of 80-200 words in
16 jobs of 4 variants, each with keywords, style-guide terms and a reference text, so
every metric runs (relevance, coverage, readability, ROUGE/BLEU/chrF, safety, novelty
against 32 published pieces, diversity per job). The embedding cache is emptied before
every run so both sides encode every text (the brief once, as in production: the
sequential side takes it from the cache after its first call); the model is loaded and
warmed before timing. Each side runs REPEATS times; the median counts.

    .venv/bin/python bench/evaluation_throughput.py
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script from anywhere: the repository root holds the `workers` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers.evaluation import novelty  # noqa: E402
from workers.evaluation.embeddings import (  # noqa: E402
    embed,
    embedding_cache_clear,
    packaged_model_dir,
)
from workers.evaluation.language import language  # noqa: E402
from workers.evaluation.scorer import score_drafts  # noqa: E402
from workers.evaluation.types import PublishedPiece, ScoringInput  # noqa: E402

DRAFTS = 64
VARIANTS = 4  # per job
PUBLISHED = 32
REPEATS = 3

BRIEF = "Composting at home\nhow to start composting kitchen scraps in a small garden\ncompost, garden"
SENTENCES = [
    "Composting turns kitchen scraps into food for your garden.",
    "Pick a shady corner and set up a small bin with a lid.",
    "Layer vegetable peelings and coffee grounds with dry leaves or shredded cardboard.",
    "Keep the heap as damp as a wrung-out sponge.",
    "Turn the pile every week or two so air reaches the middle.",
    "Skip meat, fish and dairy, which attract rats and smell as they rot.",
    "Eggshells add calcium, but crush them first so they break down faster.",
    "A heap that smells sour has too much green material; add more browns.",
    "In three to six months you will have dark, crumbly compost to dig into your beds.",
    "Worms arrive on their own once the heap is moist and sheltered.",
    "Grass clippings heat a pile quickly, but spread them thin to avoid a slimy mat.",
    "Sieve the finished compost and return the lumps to the next batch.",
    "A balcony gardener can use a sealed bokashi bucket instead of an open heap.",
    "Autumn leaves stored in a bag become leaf mould, a gentle soil conditioner.",
    "Weeds with seeds or roots that spread are better left out of a cool heap.",
    "Chop large stems so the microbes have more surface to work on.",
]


def job_inputs(rng: random.Random) -> list[ScoringInput]:
    inputs = []
    for draft_id in range(1, DRAFTS + 1):
        sentences: list[str] = []
        while sum(len(s.split()) for s in sentences) < rng.randint(80, 200):
            sentences.append(rng.choice(SENTENCES))
        # a numbered opening makes every draft a distinct text, as real variants are
        text = f"Tip {draft_id}: " + " ".join(sentences)
        inputs.append(ScoringInput(
            draft_id=draft_id, brief_text=BRIEF, draft_text=text, target_length=120,
            keywords=("compost", "garden", "bin"), required_terms=("kitchen scraps",),
            banned_terms=("guaranteed", "miracle"), reference_texts=(REFERENCE,),
            job_id=(draft_id - 1) // VARIANTS,
        ))
    return inputs


def published_pieces(rng: random.Random, model_dir: Path) -> list[PublishedPiece]:
    texts = [" ".join(rng.sample(SENTENCES, 6)) for _ in range(PUBLISHED)]
    return [PublishedPiece(piece_id=i, embedding=vector, signature=novelty.signature(text, language("en")))
            for i, (text, vector) in enumerate(zip(texts, embed(texts, model_dir), strict=True))]


REFERENCE = " ".join(SENTENCES[:6])


def drafts_per_second(run: Callable[[list[ScoringInput]], object],
                      inputs: list[ScoringInput]) -> float:
    timings = []
    for _ in range(REPEATS):
        embedding_cache_clear()
        started = time.perf_counter()
        run(inputs)
        timings.append(time.perf_counter() - started)
    return len(inputs) / statistics.median(timings)


def main() -> None:
    import torch

    model_dir = packaged_model_dir()
    rng = random.Random(7)
    inputs = job_inputs(rng)
    published = published_pieces(rng, model_dir)  # also loads and warms the model

    batched = drafts_per_second(lambda items: score_drafts(items, model_dir, published), inputs)
    sequential = drafts_per_second(
        lambda items: [score_drafts([item], model_dir, published) for item in items], inputs
    )
    # What an evaluation worker does today: one call per job, its variants batched.
    per_job = drafts_per_second(
        lambda items: [score_drafts([i for i in items if i.job_id == job], model_dir, published)
                       for job in sorted({i.job_id for i in items})], inputs
    )
    words = [len(item.draft_text.split()) for item in inputs]
    print(f"evaluation throughput: {DRAFTS} drafts of {min(words)}-{max(words)} words, "
          f"all-MiniLM-L6-v2 on CPU ({torch.get_num_threads()} torch threads), "
          f"median of {REPEATS}")
    print(f"{'mode':<34}{'drafts/s':>10}")
    print(f"{'batched (one call, 16 jobs x 4)':<34}{batched:>10.1f}")
    print(f"{'per job (one call per 4 variants)':<34}{per_job:>10.1f}")
    print(f"{'sequential (one call per draft)':<34}{sequential:>10.1f}")
    print(f"{'ratio batched / sequential':<34}{batched / sequential:>10.2f}")
    print(f"{'ratio per job / sequential':<34}{per_job / sequential:>10.2f}")
    print(json.dumps({"batched_drafts_s": round(batched, 1),
                      "per_job_drafts_s": round(per_job, 1),
                      "sequential_drafts_s": round(sequential, 1),
                      "ratio": round(batched / sequential, 2),
                      "per_job_ratio": round(per_job / sequential, 2)}))


if __name__ == "__main__":
    main()
