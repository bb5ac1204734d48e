"""A workspace's archive, cleaned and learnt: cleaning throughput, training tokens/s, and
held-out perplexity before and after fine-tuning.

The base model is the built-in architecture trained briefly on the first BASE_DOCUMENTS
entries of the bundled Jargon File. The "workspace archive" is every later entry, as a CMS
would hand it over: each an HTML page with navigation, a footer and a share line, plus
exact copies (10 %), lightly edited copies (5 %) and pages with an email address and a
phone number (5 %). The cleaning pipeline (workers/datasets/cleaning.py, English only,
PII scrubbed) builds the dataset; the base model is then fine-tuned on its train split
and measured on its test split, on the CPU (or the GPU with --device cuda). The figures
are printed side by side, then as one JSON line, with the load average at the end (other
work on the machine slows both).

    .venv/bin/python bench/dataset_training.py [--device cpu|cuda] [--steps 200] [--lora-rank 8]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

# Run as a script from anywhere: the repository root holds the `workers` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import loadavg
from workers.datasets.cleaning import clean
from workers.datasets.types import HTML, CleaningOptions, RawDocument
from workers.generation.builtin.corpus import corpus_documents
from workers.generation.builtin.finetune import FineTunePlan, finetune_model
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.builtin.training import train_builtin_model

BASE_DOCUMENTS = 1000
BASE_STEPS = 300
SEED = 20261205


def archive(documents: list[str], rng: random.Random) -> list[RawDocument]:
    pages = []
    for n, text in enumerate(documents):
        title, _, body = text.partition("\n\n")
        paragraphs = "".join(f"<p>{p}</p>" for p in (body or title).split("\n\n"))
        if rng.random() < 0.05:
            paragraphs += (f"<p>Questions about this entry go to editor{n}@example.com or "
                           f"+44 20 7946 {n % 10000:04d} on weekdays.</p>")
        pages.append(RawDocument(id=f"page-{n}", format=HTML, title=title, text=(
            "<html><body><nav><a href='/'>Home</a> | <a href='/a'>Archive</a></nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article>"
            "<p>Share this entry with a friend.</p><footer>The Archive, all rights reserved."
            "</footer></body></html>")))
    copies = [replace(p, id=f"{p.id}-copy") for p in rng.sample(pages, len(pages) // 10)]
    edited = [replace(p, id=f"{p.id}-edit", text=p.text.replace(" the ", " this ", 1))
              for p in rng.sample(pages, len(pages) // 20)]
    mixed = pages + copies + edited
    rng.shuffle(mixed)
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lora-rank", type=int, default=None,
                        help="learn LoRA adapters of this rank instead of every weight")
    args = parser.parse_args()
    rng = random.Random(SEED)
    documents = corpus_documents()
    raw = archive(documents[BASE_DOCUMENTS:], rng)

    started = time.perf_counter()
    result = clean(raw, CleaningOptions(min_chars=200, languages=("en",), scrub_pii=True,
                                        seed=SEED))
    cleaning_s = time.perf_counter() - started
    stats = result.stats

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base"
        base_plan = replace(TrainingPlan(), max_documents=BASE_DOCUMENTS, max_seconds=None,
                            threads=1, device=args.device)
        train_builtin_model(base, BASE_STEPS, base_plan)
        plan = FineTunePlan(steps=args.steps, learning_rate=1e-3, batch_size=8,
                            max_seconds=None, threads=1, device=args.device,
                            lora_rank=args.lora_rank)
        started = time.perf_counter()
        report = finetune_model(base, Path(folder) / "tuned",
                                [d.text for d in result.splits["train"]], plan,
                                heldout=[d.text for d in result.splits["test"]])
        tuning_s = time.perf_counter() - started
    tokens_seen = report.steps * plan.batch_size * report.block_size
    load = loadavg()

    rows = [
        ("archive pages in (with copies)", f"{len(raw):,}"),
        ("kept / exact / near duplicates", f"{stats['documents']:,} / "
         f"{stats['dropped']['exact_duplicates']} / {stats['dropped']['near_duplicates']}"),
        ("PII replaced (emails, phones)", f"{stats['pii_removed']['emails']}, "
         f"{stats['pii_removed']['phone_numbers']}"),
        ("boilerplate lines removed", f"{stats['boilerplate_lines_removed']:,}"),
        ("cleaning", f"{cleaning_s:.1f} s, {len(raw) / cleaning_s:,.0f} documents/s"),
        ("train / test documents", f"{stats['splits']['train']['documents']:,} / "
         f"{stats['splits']['test']['documents']:,}"),
        (f"fine-tuning on {args.device}"
         + (f", LoRA rank {args.lora_rank}" if args.lora_rank else ""),
         f"{report.steps} steps of {plan.batch_size} x "
         f"{report.block_size} tokens in {tuning_s:.1f} s, {tokens_seen / tuning_s:,.0f} "
         "tokens/s (evaluation included)"),
        ("held-out perplexity", f"{report.heldout_perplexity_before} before, "
         f"{report.heldout_perplexity_after} after"),
        ("load average (1, 5, 15 min)", ", ".join(f"{x:g}" for x in load)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps({
        "documents_in": len(raw), "documents_kept": stats["documents"],
        "cleaning_docs_per_s": round(len(raw) / cleaning_s, 1),
        "device": args.device, "lora_rank": args.lora_rank,
        "train_tokens_per_s": round(tokens_seen / tuning_s),
        "heldout_perplexity_before": report.heldout_perplexity_before,
        "heldout_perplexity_after": report.heldout_perplexity_after, "loadavg": load,
    }))


if __name__ == "__main__":
    main()
