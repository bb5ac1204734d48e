"""Jobs arriving at random: continuous batching vs micro-batching vs one at a time.

64 jobs (one variant each, distinct prompts, sampled at temperature 0.8, each
writing exactly its own token count, drawn between half and 1.5 times --tokens)
arrive as a Poisson process at several rates. A rate is a multiple (--loads) of
what one-at-a-time generation keeps up with on this model and device (measured
first, on the first jobs), so load 1 saturates it and higher loads show what
batching adds. Each rate is run three ways, side by side in one process, on the
same model, jobs and arrival times:

- continuous: the worker's ContinuousBatcher; a job joins the running batch at
  the next decoding step;
- static: today's micro-batching (BatchCollector, 50 ms window): a batch runs
  to its end while later jobs wait;
- one at a time: one `generate` call after another, in arrival order;
- continuous_noninvariant: the continuous batcher with batch_invariant off (the model's
  attention over the padded batch at once, its linear layers over all rows at once), as
  before inference on the CPU was made batch-invariant (workers.generation.rowwise):
  what a row's texts being bit for bit its own costs, and how many texts differ without;
- transformers_cb: transformers' own continuous batching (ContinuousBatchingManager, paged
  attention) on the same weights, the candidate on CUDA. It samples with a generator of
  its own, so its texts are not the jobs' own; --rows caps its batch too, and on the CPU
  its paged cache is sized for the jobs (its default takes a share of free memory, which
  on a CPU host made it some 20 times slower still).

Both batchers get --rows rows. Tokens/s counts every job's tokens over the time
from the first arrival to the last job's end; time to first token runs from a
job's arrival to its first streamed text; `passes` counts the model's forward
passes. The model is the built-in one under AIGC_MODELS_DIR (default ./models)
when it has been trained, else the tiny model the tests train (in a few seconds).
The last line is JSON: the top-level figures are the highest rate's; `rates`
holds every rate's; `loadavg` is the 1, 5 and 15-minute load average at the end
(the figures are only comparable within a run). On a shared host a rate's run of
a few seconds moves by 10-20% from one run to the next: --repeats runs every mode
that many times, in turn, and reports the medians.
Torch runs one intra-op thread unless --threads says otherwise: on a busy 2-core
host two threads spin-wait on each other at every small op, which made one-row
steps 20-40 times slower here and would flatter both batchers.

    .venv/bin/python bench/generation_arrivals.py [--jobs 64] [--loads 1,4,16,64]
        [--tokens 32] [--rows 32] [--device cpu] [--threads N] [--repeats 1]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generation_batching import jobs as batching_jobs
from bench.stats import loadavg, percentile
from tests.tiny_plan import TINY_PLAN, TINY_STEPS
from workers.generation.batching import BatchCollector
from workers.generation.builtin.training import train_builtin_model
from workers.generation.continuous import ContinuousBatcher
from workers.generation.engine import (
    BUILTIN,
    BatchItem,
    generate,
    generate_batch,
    load_model,
    prompt_ids,
)
from workers.generation.types import GeneratedText, GenerationRequest

MODES = ("continuous", "static", "continuous_noninvariant", "transformers_cb",
         "one_at_a_time")  # alone last
# The modes that sample with each job's own generators, so whose texts can match alone's.
SAME_SAMPLER = ("continuous", "static", "continuous_noninvariant")
CAPACITY_JOBS = 4  # jobs timed alone to set the rates
Dispatch = Callable[[BatchItem], Future]


def jobs(count: int, tokens: int, device: str, rng: random.Random) -> list[GenerationRequest]:
    """generation_batching's jobs, each writing a length of its own around `tokens`."""
    lengths = [rng.randint(max(1, tokens // 2), tokens * 3 // 2) for _ in range(count)]
    return [replace(request, max_new_tokens=length, min_new_tokens=length)
            for request, length in zip(batching_jobs(count, tokens, device), lengths, strict=True)]




class PassCounter:
    """Counts the models' forward passes: a measure of the work that a busy host's noise
    does not move (each pass has a fixed cost besides its rows)."""

    def __init__(self, *models: Any) -> None:
        self.passes = 0
        for model in models:
            self._count(model)

    def _count(self, model: Any) -> None:
        forward = model.forward

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.passes += 1
            return forward(*args, **kwargs)

        model.forward = counted


def run(dispatch: Dispatch, requests: list[GenerationRequest], arrivals: list[float],
        counter: PassCounter) -> tuple[dict[str, float], list[str]]:
    """Submit each job at its arrival time; the mode's figures and the jobs' texts."""
    counter.passes = 0
    first_text: dict[int, float] = {}
    lock = threading.Lock()

    def on_text(n: int) -> Callable[[int, str, int], None]:
        def note(variant: int, text: str, tokens: int) -> None:
            with lock:
                first_text.setdefault(n, time.perf_counter())
        return note

    futures: list[Future] = []
    started = time.perf_counter()
    for n, (request, at) in enumerate(zip(requests, arrivals, strict=True)):
        wait = started + at - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        futures.append(dispatch(BatchItem(request, on_text=on_text(n))))
    results: list[list[GeneratedText]] = [f.result() for f in futures]
    ended = time.perf_counter()
    tokens = sum(t.completion_tokens for texts in results for t in texts)
    ttft_ms = [(first_text[n] - started - at) * 1000 for n, at in enumerate(arrivals)]
    figures = {"tok_s": round(tokens / (ended - started), 1), "seconds": round(ended - started, 2),
               "ttft_p50_ms": round(percentile(ttft_ms, 0.5), 1),
               "ttft_p99_ms": round(percentile(ttft_ms, 0.99), 1), "passes": counter.passes}
    return figures, [texts[0].text for texts in results]


class TransformersBatching:
    """transformers' ContinuousBatchingManager behind the bench's dispatch: a job's future
    holds its text, and its streamed tokens tell its first-token time."""

    PAGE = 64  # tokens a cache block holds, on the CPU

    def __init__(self, models_dir: Path, device: str, rows: int, longest: int) -> None:
        from transformers import AutoModelForCausalLM, GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        self.loaded = load_model(BUILTIN, device, models_dir, batch_invariant=False)
        self.model = AutoModelForCausalLM.from_pretrained(
            models_dir / BUILTIN, local_files_only=True, attn_implementation="sdpa",
            dtype=self.loaded.model.dtype).to(self.loaded.device).eval()
        on_cpu = self.loaded.device.type == "cpu"
        blocks = rows * (-(-longest // self.PAGE) + 1)
        # transformers 5.17 (a lent GPU image's) names the page size block_size; 5.25, page_size
        page = ("page_size" if "page_size" in inspect.signature(ContinuousBatchingConfig).parameters
                else "block_size")
        config = ContinuousBatchingConfig(
            max_requests_per_batch=rows,
            **({page: self.PAGE, "num_blocks": blocks, "max_batch_tokens": rows * 16,
                "use_cuda_graph": False} if on_cpu else {}))
        sampling = GenerationConfig(do_sample=True, temperature=0.8, top_p=0.95,
                                    eos_token_id=-1, pad_token_id=self.loaded.tokenizer.eos_token_id)
        self.manager = self.model.init_continuous_batching(
            generation_config=sampling, continuous_batching_config=config)
        self.manager.start()
        self._waiting: dict[str, tuple[BatchItem, Future, int]] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._dead = False  # the manager's loop died: jobs fail at once
        threading.Thread(target=self._route, daemon=True).start()

    def enqueue(self, item: BatchItem) -> Future:
        ids = prompt_ids(self.loaded, item.request)
        future: Future = Future()
        with self._lock:
            if self._dead:
                future.set_exception(RuntimeError("transformers' manager stopped"))
                return future
            request_id, self._count = f"job-{self._count}", self._count + 1
            self._waiting[request_id] = (item, future, len(ids))
        # EOS off: each job writes exactly its token count, as min_new_tokens makes the others
        self.manager.add_request(input_ids=ids, request_id=request_id, streaming=True,
                                 max_new_tokens=item.request.max_new_tokens, eos_token_id=-1)
        return future

    def stop(self) -> None:
        """Its loop's thread is not a daemon: left running, it kept the bench from exiting."""
        self.manager.stop(block=True, timeout=30)

    def _route(self) -> None:
        while True:
            result = self.manager.get_result(timeout=0.1)
            if result is None and not self.manager.is_running():
                # Its loop died (its log says why): fail the waiting jobs rather than hang.
                with self._lock:
                    self._dead = True
                    for _, future, _ in self._waiting.values():
                        future.set_exception(RuntimeError("transformers' manager stopped"))
                    self._waiting.clear()
                return
            if result is None:
                continue
            with self._lock:
                item, future, prompt_tokens = self._waiting[result.request_id]
            if item.on_text is not None and result.generated_tokens:
                item.on_text(0, "", len(result.generated_tokens))
            if result.is_finished():
                with self._lock:
                    del self._waiting[result.request_id]
                if result.error:  # failed: is_finished() is true for that too
                    future.set_exception(RuntimeError(result.error))
                    continue
                tokens = list(result.generated_tokens)
                future.set_result([GeneratedText(
                    variant=0, text=self.loaded.tokenizer.decode(tokens), seed=0,
                    prompt_tokens=prompt_tokens, completion_tokens=len(tokens),
                    model_name="builtin")])


def dispatchers(models_dir: Path, rows: int, jobs_count: int,
                transformers_cb: TransformersBatching | None) -> dict[str, Dispatch]:
    continuous = ContinuousBatcher(models_dir=lambda: models_dir, max_rows=rows)
    noninvariant = ContinuousBatcher(models_dir=lambda: models_dir, max_rows=rows,
                                     batch_invariant=False)
    collector = BatchCollector(lambda items: generate_batch(items, models_dir=models_dir),
                               max_rows=rows, window_s=0.05)
    waiters = ThreadPoolExecutor(max_workers=jobs_count)  # one per job, as prefetched messages
    single = ThreadPoolExecutor(max_workers=1)
    return {
        "continuous": continuous.enqueue,
        "continuous_noninvariant": noninvariant.enqueue,
        **({"transformers_cb": transformers_cb.enqueue} if transformers_cb else {}),
        "static": lambda item: waiters.submit(collector.submit, item),
        "one_at_a_time": lambda item: single.submit(
            generate, item.request, item.on_text, models_dir=models_dir),
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs; texts alike: the fewest of any run."""
    return {key: (min(run[key] for run in runs) if key == "same_text_as_alone"
                  else round(statistics.median(run[key] for run in runs), 1))
            for key in runs[0]}


def model_folder(scratch: Path) -> tuple[Path, str]:
    models_dir = Path(os.environ.get("AIGC_MODELS_DIR", Path(__file__).parent.parent / "models"))
    if (models_dir / BUILTIN / "config.json").is_file():
        return models_dir, "builtin"
    train_builtin_model(scratch / BUILTIN, TINY_STEPS, TINY_PLAN)
    return scratch, "tiny test model"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--loads", default="1,4,16,64",
                        help="arrival rates as multiples of one-at-a-time capacity")
    parser.add_argument("--tokens", type=int, default=32, help="mean tokens per job")
    parser.add_argument("--rows", type=int, default=32, help="rows per batch, both batchers")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of every mode per rate, in turn; medians are reported")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    requests = jobs(args.jobs, args.tokens, args.device, rng)
    with tempfile.TemporaryDirectory() as scratch:
        models_dir, model = model_folder(Path(scratch))
        loaded = load_model(BUILTIN, args.device, models_dir)
        modes = list(MODES)
        transformers_cb: TransformersBatching | None = None
        try:  # a failure is reported, and the other modes still run (on a lent GPU, say)
            transformers_cb = TransformersBatching(
                models_dir, args.device, args.rows,
                longest=max(len(prompt_ids(loaded, r)) + r.max_new_tokens for r in requests))
            for future in [transformers_cb.enqueue(BatchItem(r)) for r in requests[: args.rows]]:
                future.result(timeout=120)  # its warm-up
        except Exception as exc:
            print(f"transformers_cb left out: {type(exc).__name__}: {exc}")
            modes.remove("transformers_cb")
        counter = PassCounter(loaded.model, load_model(BUILTIN, args.device, models_dir,
                                                       batch_invariant=False).model,
                              *([transformers_cb.model] if transformers_cb else []))
        # Warm both paths: a GPU loads kernels and picks GEMM algorithms per new shape.
        generate(requests[0], models_dir=models_dir)
        for invariant in (True, False):
            generate_batch([BatchItem(r) for r in requests[: args.rows]], models_dir=models_dir,
                           batch_invariant=invariant)
        started = time.perf_counter()
        for request in requests[:CAPACITY_JOBS]:
            generate(request, models_dir=models_dir)
        capacity = CAPACITY_JOBS / (time.perf_counter() - started)  # jobs/s, one at a time
        rates = [round(float(load) * capacity, 1) for load in args.loads.split(",")]
        dispatch = dispatchers(models_dir, args.rows, args.jobs,
                               transformers_cb if "transformers_cb" in modes else None)
        table: dict[str, dict[str, dict[str, float]]] = {}
        print(f"{'jobs/s':>8} {'mode':<24}{'seconds':>9}{'tokens/s':>10}"
              f"{'TTFT p50 ms':>13}{'TTFT p99 ms':>13}{'passes':>8}")
        for rate in rates:
            arrivals, at = [], 0.0
            for _ in requests:
                arrivals.append(at)
                at += rng.expovariate(rate)
            rounds: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
            for _ in range(args.repeats):  # the modes in turn, so drift in the host hits all
                texts: dict[str, list[str]] = {}
                for mode in modes:
                    figures, texts[mode] = run(dispatch[mode], requests, arrivals, counter)
                    rounds[mode].append(figures)
                    print(f"{rate:>8g} {mode:<24}{figures['seconds']:>9.2f}"
                          f"{figures['tok_s']:>10.1f}{figures['ttft_p50_ms']:>13.1f}"
                          f"{figures['ttft_p99_ms']:>13.1f}{figures['passes']:>8}")
                for mode in SAME_SAMPLER:
                    rounds[mode][-1]["same_text_as_alone"] = sum(
                        a == b for a, b in zip(texts[mode], texts[MODES[-1]], strict=True))
            table[f"{rate:g}"] = {mode: median_of(runs) for mode, runs in rounds.items()}
            for mode in modes:
                figures = table[f"{rate:g}"][mode]
                if args.repeats > 1:
                    print(f"{'median':>8} {mode:<24}"
                          f"{figures['seconds']:>9.2f}{figures['tok_s']:>10.1f}"
                          f"{figures['ttft_p50_ms']:>13.1f}{figures['ttft_p99_ms']:>13.1f}"
                          f"{figures['passes']:>8}")
                if mode in SAME_SAMPLER:
                    fewest = f" (the fewest of {args.repeats} runs)" if args.repeats > 1 else ""
                    print(f"{'':>8} {mode:<24} writes the same text as alone for "
                          f"{figures['same_text_as_alone']:g}/{args.jobs}{fewest}")
        if transformers_cb is not None:
            transformers_cb.stop()
    top = table[f"{rates[-1]:g}"]
    result: dict[str, object] = {
        "tok_s_continuous": top["continuous"]["tok_s"], "tok_s_static": top["static"]["tok_s"],
        "tok_s_one_at_a_time": top["one_at_a_time"]["tok_s"],
        "tok_s_continuous_noninvariant": top["continuous_noninvariant"]["tok_s"],
        "tok_s_transformers_cb": top.get("transformers_cb", {}).get("tok_s"),
        "ttft_p99_transformers_cb_ms": top.get("transformers_cb", {}).get("ttft_p99_ms"),
        "same_text_as_alone_continuous": top["continuous"]["same_text_as_alone"],
        "same_text_as_alone_continuous_noninvariant":
            top["continuous_noninvariant"]["same_text_as_alone"],
        "ttft_p99_continuous_ms": top["continuous"]["ttft_p99_ms"],
        "ttft_p99_static_ms": top["static"]["ttft_p99_ms"],
        "ttft_p99_one_at_a_time_ms": top["one_at_a_time"]["ttft_p99_ms"],
        "ttft_p50_continuous_ms": top["continuous"]["ttft_p50_ms"],
        "ttft_p50_static_ms": top["static"]["ttft_p50_ms"],
        "ttft_p50_one_at_a_time_ms": top["one_at_a_time"]["ttft_p50_ms"],
        "rate": rates[-1], "load": float(args.loads.split(",")[-1]), "repeats": args.repeats,
        "one_at_a_time_capacity_jobs_s": round(capacity, 2), "jobs": args.jobs,
        "mean_tokens": args.tokens, "rows": args.rows,
        "model": model, "model_revision": loaded.revision, "device": str(loaded.device),
        "torch_threads": torch.get_num_threads(), "rates": table,
        "mean_tokens_per_job": statistics.mean(r.max_new_tokens for r in requests),
        "loadavg": loadavg(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
