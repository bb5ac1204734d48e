"""Micro-batching: jobs sharing forward passes write what they would alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from workers.generation.batching import BatchCollector, OutOfDeviceMemory, run_splitting
from workers.generation.engine import BatchItem, InvalidRequest, generate, generate_batch
from workers.generation.types import GeneratedText, GenerationRequest

PROMPTS = ["Title: Compost\n\n", "A hacker is a person who enjoys exploring the details of "
           "programmable systems and how to stretch their capabilities.\n\n", "Kludge"]


def request(prompt: str, **kwargs: object) -> GenerationRequest:
    values: dict = {"prompt": prompt, "variants": 2, "max_new_tokens": 20, "min_new_tokens": 20,
                    "seed": 5, "temperature": 0.0, "device": "cpu"}
    values.update(kwargs)
    return GenerationRequest(**values)


def test_greedy_batched_output_equals_one_at_a_time(tiny_models_dir: Path) -> None:
    # given three jobs with prompts of different lengths and different token budgets
    requests = [request(p, max_new_tokens=n, min_new_tokens=n)
                for p, n in zip(PROMPTS, (20, 12, 90), strict=True)]
    # when they are written one at a time and then in one shared batch
    alone = [generate(r, models_dir=tiny_models_dir) for r in requests]
    together = generate_batch([BatchItem(r) for r in requests], models_dir=tiny_models_dir)
    # then every variant reads the same, token for token (the 90-token job slid past the
    # tiny model's 64-position window on the way)
    assert [[t.text for t in texts] for texts in together] == [
        [t.text for t in texts] for texts in alone]
    assert [[t.completion_tokens for t in texts] for texts in together] == [
        [20, 20], [12, 12], [90, 90]]


def test_sampled_variants_keep_their_seeds_in_a_batch(tiny_models_dir: Path) -> None:
    sampled = [request(p, temperature=0.9, seed=100 * n) for n, p in enumerate(PROMPTS)]
    alone = [generate(r, models_dir=tiny_models_dir) for r in sampled]
    together = generate_batch([BatchItem(r) for r in sampled], models_dir=tiny_models_dir)
    assert [[t.text for t in texts] for texts in together] == [
        [t.text for t in texts] for texts in alone]


def test_a_cancelled_job_leaves_the_batch_and_the_rest_finish(tiny_models_dir: Path) -> None:
    steps = {"n": 0}

    def stop_after_three() -> bool:
        steps["n"] += 1
        return steps["n"] > 3

    texts = generate_batch([BatchItem(request(PROMPTS[0]), should_stop=stop_after_three),
                            BatchItem(request(PROMPTS[1]))], models_dir=tiny_models_dir)
    assert [t.completion_tokens for t in texts[0]] == [3, 3]
    assert [t.completion_tokens for t in texts[1]] == [20, 20]
    assert all(t.device_s > 0 for t in texts[1])
    assert texts[1][0].device_s > texts[0][0].device_s


def test_the_collector_serves_concurrent_jobs_in_one_batch(tiny_models_dir: Path) -> None:
    # given a collector that records the batches it runs
    batches: list[int] = []

    def run(items: list[BatchItem]) -> list[list[GeneratedText]]:
        batches.append(len(items))
        return generate_batch(items, models_dir=tiny_models_dir)

    collector = BatchCollector(run, max_rows=8, window_s=0.5)
    # when four jobs of two variants arrive together, then a fifth
    requests = [request(PROMPTS[n % 3], seed=n) for n in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda r: collector.submit(BatchItem(r)), requests))
    # then eight rows ran as one batch and the fifth job in the next
    assert sorted(batches) == [1, 4]
    assert [[t.seed for t in texts] for texts in results] == [[n, n + 1] for n in range(5)]


def test_a_bad_request_fails_alone_and_its_neighbours_are_served(
    tiny_models_dir: Path,
) -> None:
    items = [BatchItem(request(PROMPTS[0])), BatchItem(request(PROMPTS[1], top_p=0.0))]
    results = run_splitting(lambda batch: generate_batch(batch, models_dir=tiny_models_dir),
                            items)
    assert [t.completion_tokens for t in results[0]] == [20, 20]  # type: ignore[union-attr]
    assert isinstance(results[1], InvalidRequest)


def test_out_of_device_memory_halves_the_batch_until_it_fits() -> None:
    # given a device that holds at most two jobs' rows at once
    seen: list[int] = []
    lock = threading.Lock()

    def run(items: list[BatchItem]) -> list[list[GeneratedText]]:
        with lock:
            seen.append(len(items))
        if len(items) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [[GeneratedText(variant=0, text=i.request.prompt, seed=i.request.seed,
                               prompt_tokens=1, completion_tokens=1, model_name="m")]
                for i in items]

    items = [BatchItem(request(f"job {n}", seed=n)) for n in range(5)]
    # when five jobs are run
    results = run_splitting(run, items)
    # then 5 → 2 + 3 → 2 + 1 + 2, and every job got its own text
    assert seen == [5, 2, 3, 1, 2]
    assert [r[0].text for r in results] == [f"job {n}" for n in range(5)]  # type: ignore[index]


def test_one_job_too_big_for_the_device_fails_with_advice() -> None:
    def run(items: list[BatchItem]) -> list[list[GeneratedText]]:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    [result] = run_splitting(run, [BatchItem(request("x"))])
    assert isinstance(result, OutOfDeviceMemory)
    assert "fewer variants or fewer tokens" in str(result)


def test_a_batch_serves_one_model() -> None:
    with pytest.raises(InvalidRequest, match="one model on one device"):
        generate_batch([BatchItem(request("a")), BatchItem(request("b", model="other"))])
