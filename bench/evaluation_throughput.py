"""Evaluation throughput: one job per scoring call against many jobs per call, side by side.

Same model (the packaged all-MiniLM-L6-v2, CPU), same drafts of 80-200 words in jobs of 4
variants, each with keywords, style-guide terms and a reference text, so every metric runs
(relevance, coverage, readability, ROUGE/BLEU/chrF, language checks, safety, novelty
against 32 published pieces, diversity per job). Modes:

- one job per call: `score_drafts` per job, what a solo worker does per message;
- N jobs per call: `score_jobs` over N jobs at once (one embedding batch);
- T threads, one job each: T task threads scoring concurrently (a threads pool without
  the collector);
- T threads through the collector: the worker's path now (`ScoringCollector`).

The embedding cache is emptied before every run so every side encodes every text; the
model is loaded and every metric warmed before timing. Each side runs --repeats times,
taking turns with the others; the median counts. Then one run of the first two modes under
cProfile says where the time goes: the model's forward pass (and its tokenizer),
ROUGE/BLEU/chrF, language detection, readability, the rest. No database here: the worker's
reads and writes per job are the same whichever way it scores.

    .venv/bin/python bench/evaluation_throughput.py [--jobs 16] [--per-call 16] [--threads 4]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a script from anywhere: the repository root holds the `workers` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers.evaluation import novelty
from workers.evaluation.batching import ScoringCollector
from workers.evaluation.embeddings import (
    embed,
    embedding_cache_clear,
    packaged_model_dir,
)
from workers.evaluation.language import language
from workers.evaluation.scorer import score_drafts, score_jobs
from workers.evaluation.types import (
    PublishedIndex,
    PublishedPiece,
    ScoringInput,
    ScoringJob,
)

VARIANTS = 4  # per job
PUBLISHED = 32

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


REFERENCE = " ".join(SENTENCES[:6])


def scoring_jobs(rng: random.Random, jobs: int, published: PublishedIndex) -> list[ScoringJob]:
    inputs = []
    for draft_id in range(1, jobs * VARIANTS + 1):
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
    return [ScoringJob(tuple(inputs[n:n + VARIANTS]), published)
            for n in range(0, len(inputs), VARIANTS)]


def published_pieces(rng: random.Random, model_dir: Path) -> PublishedIndex:
    texts = [" ".join(rng.sample(SENTENCES, 6)) for _ in range(PUBLISHED)]
    return PublishedIndex.of([
        PublishedPiece(piece_id=i, embedding=vector, signature=novelty.signature(text, language("en")))
        for i, (text, vector) in enumerate(zip(texts, embed(texts, model_dir), strict=True))])


Mode = Callable[[list[ScoringJob]], object]


def modes(model_dir: Path, per_call: int, threads: int) -> dict[str, Mode]:
    def one_job_per_call(jobs: list[ScoringJob]) -> None:
        for job in jobs:
            score_drafts(job.inputs, model_dir, job.published)

    def jobs_per_call(jobs: list[ScoringJob]) -> None:
        for start in range(0, len(jobs), per_call):
            score_jobs(jobs[start:start + per_call], model_dir)

    def threads_alone(jobs: list[ScoringJob]) -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda job: score_drafts(job.inputs, model_dir, job.published), jobs))

    collector = ScoringCollector(max_drafts=per_call * VARIANTS)

    def threads_collector(jobs: list[ScoringJob]) -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda job: collector.submit(job, model_dir), jobs))

    return {"one job per call": one_job_per_call,
            f"{per_call} jobs per call": jobs_per_call,
            f"{threads} threads, one job each": threads_alone,
            f"{threads} threads, collector": threads_collector}


def median_seconds(runs: dict[str, Mode], jobs: list[ScoringJob], repeats: int
                   ) -> dict[str, float]:
    """Each mode's median time; the modes take turns within each repeat, so a neighbour's
    load on the shared cores falls on all of them alike."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            embedding_cache_clear()
            started = time.perf_counter()
            run(jobs)
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


# Where a scoring call spends its time: (label, file ending, function); none calls another.
PARTS = (
    ("tokenizer", "tokenization_utils_base.py", "__call__"),
    ("ROUGE/BLEU/chrF vs references", "evaluation/references.py", "reference_overlap"),
    ("language detection", "evaluation/checks.py", "detected_language"),
    ("real-word share", "evaluation/checks.py", "real_word_share"),
    ("readability", "evaluation/metrics.py", "readability"),
    ("diversity (self-BLEU)", "evaluation/diversity.py", "diversity"),
    ("safety", "evaluation/safety.py", "safety"),
    ("novelty (MinHash, nearest)", "evaluation/novelty.py", "signature"),
    ("novelty (MinHash, nearest)", "evaluation/novelty.py", "nearest_published"),
)
ENCODE = ("evaluation/embeddings.py", "_encode")


def cumulative(stats: pstats.Stats, file_end: str, function: str) -> float:
    return sum(row[3] for (file, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
               if file.endswith(file_end) and name == function)


def profile(run: Mode, jobs: list[ScoringJob]) -> dict[str, float]:
    """Seconds per part of one run, the model's forward pass apart from its tokenizer."""
    embedding_cache_clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(run, jobs)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    parts: dict[str, float] = {}
    for label, file_end, function in PARTS:
        parts[label] = parts.get(label, 0.0) + cumulative(stats, file_end, function)
    parts = {"embedding forward": cumulative(stats, *ENCODE) - parts["tokenizer"], **parts}
    parts["other (Python glue, coverage, checks)"] = total - sum(parts.values())
    parts["total"] = total
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=16, help="jobs of 4 variants")
    parser.add_argument("--per-call", type=int, default=16, help="jobs per batched call")
    parser.add_argument("--threads", type=int, default=4, help="the worker's task threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    model_dir = packaged_model_dir()
    rng = random.Random(7)
    published = published_pieces(rng, model_dir)  # also loads and warms the model
    jobs = scoring_jobs(rng, args.jobs, published)
    score_jobs(jobs[:1], model_dir)  # warms every metric's lazy imports and tables
    drafts = [item.draft_text for job in jobs for item in job.inputs]
    # the tokens the model reads: drafts cut at its 256-token window
    tokens = sum(len(ids) for ids in AutoTokenizer.from_pretrained(
        model_dir, local_files_only=True)(drafts, truncation=True, max_length=256)["input_ids"])
    load_before = os.getloadavg()
    runs = modes(model_dir, args.per_call, args.threads)
    timed = median_seconds(runs, jobs, args.repeats)
    load_after = os.getloadavg()
    first, batched = list(runs)[:2]
    profiles = {name: profile(runs[name], jobs) for name in (first, batched)}

    words = [len(text.split()) for text in drafts]
    print(f"evaluation throughput: {len(jobs)} jobs x {VARIANTS} drafts of "
          f"{min(words)}-{max(words)} words ({tokens} tokens), all-MiniLM-L6-v2 on CPU "
          f"({torch.get_num_threads()} torch threads, {os.cpu_count()} cores), "
          f"median of {args.repeats}")
    print(f"{'mode':<32}{'drafts/s':>10}{'tokens/s':>10}{'vs one job':>12}")
    for name, elapsed in timed.items():
        print(f"{name:<32}{len(drafts) / elapsed:>10.1f}{tokens / elapsed:>10.0f}"
              f"{timed[first] / elapsed:>11.2f}x")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print("\nprofile, one run each (cProfile; seconds and share of the run)")
    print(f"{'part':<40}" + "".join(f"{name:>22}" for name in profiles))
    for part in profiles[first]:
        print(f"{part:<40}" + "".join(
            f"{p[part]:>12.2f} s {100 * p[part] / p['total']:>5.1f} %" for p in profiles.values()))
    forward = {name: 1e6 * p["embedding forward"] / tokens for name, p in profiles.items()}
    print("embedding forward per 1,000 draft tokens: " + ", ".join(
        f"{name} {ms:.1f} ms" for name, ms in forward.items()))
    figures = {name: len(drafts) / elapsed for name, elapsed in timed.items()}
    names = list(figures)
    print(json.dumps({
        "one_job_drafts_s": round(figures[names[0]], 1),
        "batched_drafts_s": round(figures[names[1]], 1),
        "threads_drafts_s": round(figures[names[2]], 1),
        "collector_drafts_s": round(figures[names[3]], 1),
        "one_job_tok_s": round(tokens / timed[names[0]]),
        "batched_tok_s": round(tokens / timed[names[1]]),
        "ratio": round(timed[names[0]] / timed[names[1]], 2),
        "collector_ratio": round(timed[names[0]] / timed[names[3]], 2),
        "forward_share_batched": round(profiles[batched]["embedding forward"]
                                       / profiles[batched]["total"], 2),
        "forward_ms_per_1k_tokens": {"one_job": round(forward[first], 1),
                                     "batched": round(forward[batched], 1)},
        "jobs": len(jobs), "per_call": args.per_call, "threads": args.threads,
        "loadavg": [round(load_before[0], 2), round(load_after[0], 2)],
    }))


if __name__ == "__main__":
    main()
