"""Tokens per second: 32 concurrent jobs micro-batched vs the same jobs one at a time.

Same model (the built-in one under AIGC_MODELS_DIR, default ./models; trained by
`python manage.py train_model`), same 32 jobs (one variant each, distinct
prompts, sampled at temperature 0.8 with min_new_tokens = max_new_tokens so
every job writes exactly TOKENS tokens). Batched: 32 threads submit at once to
the worker's BatchCollector, as 32 prefetched Celery messages would.
Sequential: one `generate` call after another. The model is loaded and warmed
first. `--threads N` sets torch's intra-op threads for both sides: on a busy
2-core host the default two threads spin-wait on each other at every small op,
which slows one-row steps far more than 32-row ones and inflates the ratio.

    .venv/bin/python bench/generation_batching.py [--jobs 32] [--tokens 64] [--device auto]
                                                  [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import loadavg
from workers.generation.batching import BatchCollector
from workers.generation.engine import BatchItem, generate, generate_batch, load_model
from workers.generation.types import GenerationRequest

TOPICS = ["compost", "hackers", "kernels", "the printer", "a mailing list", "bugs", "the net",
          "wizards", "a terminal", "the source"]


def jobs(count: int, tokens: int, device: str) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"Title: Notes {n} on {TOPICS[n % len(TOPICS)]}\n\n",
                              variants=1, max_new_tokens=tokens, min_new_tokens=tokens,
                              seed=1000 * n, temperature=0.8, device=device)
            for n in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    models_dir = Path(os.environ.get("AIGC_MODELS_DIR", Path(__file__).parent.parent / "models"))
    requests = jobs(args.jobs, args.tokens, args.device)
    loaded = load_model("builtin", args.device, models_dir)
    # Warm both sides: a GPU loads kernels and picks GEMM algorithms per new shape (seen
    # taking seconds on an H200 the first time a batch width ran).
    generate(requests[0], models_dir=models_dir)
    generate_batch([BatchItem(r) for r in requests], models_dir=models_dir)

    started = time.perf_counter()
    sequential = [generate(r, models_dir=models_dir) for r in requests]
    sequential_s = time.perf_counter() - started

    collector = BatchCollector(lambda items: generate_batch(items, models_dir=models_dir),
                               max_rows=args.jobs, window_s=0.05)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        batched = list(pool.map(lambda r: collector.submit(BatchItem(r)), requests))
    batched_s = time.perf_counter() - started

    tokens = sum(t.completion_tokens for texts in sequential for t in texts)
    assert tokens == sum(t.completion_tokens for texts in batched for t in texts)
    same = sum(a[0].text == b[0].text for a, b in zip(sequential, batched, strict=True))
    import torch

    figures = {"jobs": args.jobs, "tokens_per_job": args.tokens, "device": str(loaded.device),
               "torch_threads": torch.get_num_threads(),
               "model_revision": loaded.revision,
               "sequential_tok_s": round(tokens / sequential_s, 1),
               "batched_tok_s": round(tokens / batched_s, 1),
               "ratio": round(sequential_s / batched_s, 2),
               "same_text": f"{same}/{args.jobs}",
               "loadavg": loadavg()}
    print(f"{'mode':<12}{'seconds':>10}{'tokens/s':>12}")
    print(f"{'sequential':<12}{sequential_s:>10.2f}{figures['sequential_tok_s']:>12}")
    print(f"{'batched':<12}{batched_s:>10.2f}{figures['batched_tok_s']:>12}")
    print("load average {} {} {} on {} cores".format(*figures["loadavg"], os.cpu_count()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
