"""The generation engine's CUDA paths, measured on a GPU: dtype, batched vs one at a time,
out-of-memory halving with a real CUDA OOM, and training the built-in model on the GPU.

Needs a CUDA GPU and the built-in model under AIGC_MODELS_DIR (default ./models). The
OOM check builds a wider random GPT-2 (same tokenizer) whose KV cache grows with every
token, measures what 4 rows take, caps the process's GPU memory at what 10 rows need
(torch.cuda.set_per_process_memory_fraction) and submits 32 jobs: the batch must halve
until it fits and still return every job's text.

    python bench/generation_cuda.py [--jobs 32] [--tokens 64] [--train-steps 2400]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generation_batching import jobs
from bench.stats import loadavg
from workers.generation.batching import run_splitting
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.builtin.training import train_builtin_model
from workers.generation.engine import BatchItem, generate, generate_batch, load_model
from workers.generation.types import GenerationRequest


def requests(count: int, tokens: int, model: str = "builtin", backend: str = "builtin"
             ) -> list[GenerationRequest]:
    return [replace(r, temperature=0.0, model=model, backend=backend)
            for r in jobs(count, tokens, "cuda")]


def greedy_batched_vs_sequential(models_dir: Path, jobs: int, tokens: int) -> dict:
    batch = requests(jobs, tokens)
    generate(batch[0], models_dir=models_dir)  # load and warm up both shapes
    generate_batch([BatchItem(r) for r in batch], models_dir=models_dir)
    started = time.perf_counter()
    sequential = [generate(r, models_dir=models_dir)[0] for r in batch]
    sequential_s = time.perf_counter() - started
    started = time.perf_counter()
    batched = [texts[0] for texts in generate_batch([BatchItem(r) for r in batch],
                                                     models_dir=models_dir)]
    batched_s = time.perf_counter() - started
    written = sum(t.completion_tokens for t in sequential)
    same = sum(a.text == b.text for a, b in zip(sequential, batched, strict=True))
    return {"greedy_sequential_tok_s": round(written / sequential_s, 1),
            "greedy_batched_tok_s": round(written / batched_s, 1),
            "greedy_ratio": round(sequential_s / batched_s, 2),
            "greedy_same_text": f"{same}/{jobs}"}


def wide_model(models_dir: Path, folder: Path) -> str:
    """A random 8-layer, 512-wide GPT-2 with the built-in tokenizer: a KV cache that weighs."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tokenizer = AutoTokenizer.from_pretrained(models_dir / "builtin", local_files_only=True)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=512, n_layer=8,
                        n_head=8, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def out_of_memory_halving(models_dir: Path, tokens: int = 384) -> dict:
    import torch

    with tempfile.TemporaryDirectory() as scratch:
        model = wide_model(models_dir, Path(scratch))
        batch = requests(32, tokens, model=model, backend="transformers")
        sizes: list[int] = []

        def run(items: list[BatchItem]) -> list:
            sizes.append(len(items))
            return generate_batch(items)

        generate_batch([BatchItem(r) for r in batch[:1]])  # load
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        generate_batch([BatchItem(r) for r in batch[:4]])
        per_row = (torch.cuda.max_memory_allocated() - base) / 4
        torch.cuda.empty_cache()
        total = torch.cuda.get_device_properties(0).total_memory
        cap = torch.cuda.memory_reserved() + 10 * per_row
        torch.cuda.set_per_process_memory_fraction(cap / total)
        try:
            started = time.perf_counter()
            results = run_splitting(run, [BatchItem(r) for r in batch])
            seconds = time.perf_counter() - started
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
        texts = [r for r in results if not isinstance(r, Exception)]
        return {"oom_per_row_mib": round(per_row / 2**20, 1),
                "oom_cap_mib": round(cap / 2**20, 1),
                "oom_batch_sizes_tried": sizes,
                "oom_jobs_written": f"{len(texts)}/32",
                "oom_errors": sorted({type(r).__name__ for r in results if isinstance(r, Exception)}),
                "oom_seconds": round(seconds, 1)}


def training_on_gpu(steps: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        report = train_builtin_model(Path(scratch) / "builtin", steps,
                                     TrainingPlan(max_seconds=240.0, device="cuda"))
    return {"train_steps": report.steps, "train_seconds": report.train_seconds,
            "train_heldout_perplexity": report.heldout_perplexity}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=2400)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU here: this bench measures the engine's GPU paths.")
    models_dir = Path(os.environ.get("AIGC_MODELS_DIR", Path(__file__).parent.parent / "models"))
    loaded = load_model("builtin", "cuda", models_dir)
    figures: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                     "dtype": str(next(loaded.model.parameters()).dtype)}
    checks = [lambda: greedy_batched_vs_sequential(models_dir, args.jobs, args.tokens),
              lambda: out_of_memory_halving(models_dir), lambda: training_on_gpu(args.train_steps)]

    def show(found: dict) -> None:  # each check's rows as it ends: kept if a later one is cut
        for name, value in found.items():
            print(f"{name:<28}{value}", flush=True)
        figures.update(found)

    show(dict(figures))
    for check in checks:
        try:
            show(check())
        except Exception as exc:  # report every check's outcome from one run on a lent GPU
            figures.setdefault("errors", []).append(f"{type(exc).__name__}: {exc}")
    show({"errors": figures.get("errors", []), "loadavg": loadavg()})  # the CPUs feed the GPU
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
