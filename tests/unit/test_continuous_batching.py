"""Continuous batching: jobs join a running batch at the next step and write what they would alone.

Arrivals are placed in decoding steps, not wall time: a job is enqueued from the
running job's own progress callback (the scheduler thread) when that job has
written a given number of tokens, so it waits for the next step's admission.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import pytest
import torch

from apps.generation.running import job_watch
from workers.generation.batching import OutOfDeviceMemory
from workers.generation.continuous import ContinuousBatcher
from workers.generation.engine import BatchItem, InvalidRequest, generate, load_model
from workers.generation.types import GeneratedText, GenerationRequest

PROMPTS = ["Title: Compost\n\n", "A hacker is a person who enjoys exploring the details of "
           "programmable systems and how to stretch their capabilities.\n\n", "Kludge"]
WAIT_S = 60  # every future here resolves in well under a second on the tiny model


def request(prompt: str, **kwargs: object) -> GenerationRequest:
    values: dict = {"prompt": prompt, "variants": 2, "max_new_tokens": 20, "min_new_tokens": 20,
                    "seed": 5, "temperature": 0.0, "device": "cpu"}
    values.update(kwargs)
    return GenerationRequest(**values)


class Arrivals:
    """The first job's progress callback: enqueues job n when the first has written at[n] tokens,
    and notes the first job's token count whenever something of interest happens."""

    def __init__(self, batcher: ContinuousBatcher, later: list[BatchItem], at: list[int]) -> None:
        self.batcher, self.later, self.at = batcher, later, at
        self.futures: list[Future] = []
        self.tokens = 0

    def on_text(self, variant: int, text: str, tokens: int) -> None:
        if variant != 0:
            return
        self.tokens = tokens
        while len(self.futures) < len(self.later) and tokens >= self.at[len(self.futures)]:
            self.futures.append(self.batcher.enqueue(self.later[len(self.futures)]))


class Joins:
    """A step count that a running job's should_stop advances, and should_stop callbacks for
    jobs that never stop but note the step each was first asked at: the step it joined."""

    def __init__(self) -> None:
        self.step = 0
        self.joined: dict[object, int] = {}

    def asker(self, job: object) -> Callable[[], bool]:
        def ask() -> bool:
            self.joined.setdefault(job, self.step)
            return False
        return ask


def texts_of(results: list[list[GeneratedText]]) -> list[list[str]]:
    return [[t.text for t in texts] for texts in results]


def run_staggered(models_dir: Path, requests: list[GenerationRequest],
                  at: list[int]) -> list[list[GeneratedText]]:
    batcher = ContinuousBatcher(models_dir=lambda: models_dir, max_rows=16)
    arrivals = Arrivals(batcher, [BatchItem(r) for r in requests[1:]], at)
    first = batcher.enqueue(BatchItem(requests[0], on_text=arrivals.on_text)).result(WAIT_S)
    assert len(arrivals.futures) == len(requests) - 1
    return [first] + [f.result(WAIT_S) for f in arrivals.futures]


def test_greedy_jobs_joining_mid_batch_write_what_they_write_alone(
    tiny_models_dir: Path,
) -> None:
    # given a 90-token job (it slides past the tiny model's 64 positions) and two jobs
    # arriving after its 3rd and 7th tokens, with prompts of different lengths
    requests = [request(p, max_new_tokens=n, min_new_tokens=n)
                for p, n in zip(PROMPTS, (90, 20, 12), strict=True)]
    # when they are written one at a time, and then joining one running batch
    alone = [generate(r, models_dir=tiny_models_dir) for r in requests]
    together = run_staggered(tiny_models_dir, requests, at=[3, 7])
    # then every variant reads the same, token for token
    assert texts_of(together) == texts_of(alone)
    assert [[t.completion_tokens for t in texts] for texts in together] == [
        [90, 90], [20, 20], [12, 12]]


def test_seeded_sampled_jobs_joining_mid_batch_keep_their_texts(
    tiny_models_dir: Path,
) -> None:
    requests = [request(p, temperature=0.9, seed=100 * n, max_new_tokens=40, min_new_tokens=0)
                for n, p in enumerate(PROMPTS)]
    alone = [generate(r, models_dir=tiny_models_dir) for r in requests]
    together = run_staggered(tiny_models_dir, requests, at=[1, 5])
    assert texts_of(together) == texts_of(alone)
    assert len({t.text for texts in together for t in texts}) == 6  # the seeds did differ


def test_a_late_job_starts_at_the_next_step_and_leaves_when_done(
    tiny_models_dir: Path,
) -> None:
    # given a 60-token job running, and a 5-token job arriving after its 5th token
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=16)
    seen: dict[str, int] = {}
    early_tokens = {"n": 0}

    def early_text(variant: int, text: str, tokens: int) -> None:
        early_tokens["n"] = tokens
        if tokens == 5 and variant == 0:
            late = batcher.enqueue(BatchItem(request(PROMPTS[1], max_new_tokens=5,
                                                     min_new_tokens=5), on_text=late_text))
            late.add_done_callback(lambda _: seen.setdefault("late_done", early_tokens["n"]))

    def late_text(variant: int, text: str, tokens: int) -> None:
        seen.setdefault("late_first", early_tokens["n"])

    early = batcher.enqueue(BatchItem(request(PROMPTS[0], max_new_tokens=60, min_new_tokens=60),
                                      on_text=early_text))
    assert [t.completion_tokens for t in early.result(WAIT_S)] == [60, 60]
    # then the late job's first token came in the running job's 6th step, not after its 60th,
    # and the late job was handed back after 5 steps, while the other ran on
    assert seen == {"late_first": 6, "late_done": 10}


def test_a_cancelled_job_leaves_and_its_neighbours_write_what_they_write_alone(
    tiny_models_dir: Path,
) -> None:
    asked = {"n": 0}

    def stop_after_three() -> bool:
        asked["n"] += 1
        return asked["n"] > 3

    requests = [request(p, max_new_tokens=30, min_new_tokens=30) for p in PROMPTS]
    alone = [generate(r, models_dir=tiny_models_dir) for r in (requests[0], requests[2])]
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=16)
    arrivals = Arrivals(batcher, [BatchItem(requests[1], should_stop=stop_after_three),
                                  BatchItem(requests[2])], at=[2, 4])
    first = batcher.enqueue(BatchItem(requests[0], on_text=arrivals.on_text)).result(WAIT_S)
    cancelled, third = (f.result(WAIT_S) for f in arrivals.futures)
    # the cancelled job keeps the 3 tokens it wrote; the others are untouched by its leaving
    assert [t.completion_tokens for t in cancelled] == [3, 3]
    assert texts_of([first, third]) == texts_of(alone)


def test_a_timed_out_job_leaves_and_the_others_finish(tiny_models_dir: Path) -> None:
    # given a worker's watch on a job with a 0.35 s timeout, on a clock that moves 0.1 s a step
    ticks = iter(n / 10 for n in range(1000))
    watch = job_watch(1, "worker", timeout_s=0.35, clock=lambda: next(ticks))
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=16)
    steady = request(PROMPTS[0], max_new_tokens=25, min_new_tokens=25)
    arrivals = Arrivals(batcher, [BatchItem(request(PROMPTS[1]), should_stop=watch.should_stop)],
                        at=[1])
    first = batcher.enqueue(BatchItem(steady, on_text=arrivals.on_text)).result(WAIT_S)
    [timed_out] = (f.result(WAIT_S) for f in arrivals.futures)
    # then the watched job stopped after three steps (0.1, 0.2, 0.3 s) and said it timed out
    assert watch.timed_out
    assert [t.completion_tokens for t in timed_out] == [3, 3]
    assert texts_of([first]) == texts_of([generate(steady, models_dir=tiny_models_dir)])


def test_a_bad_request_fails_alone_and_the_batch_runs_on(tiny_models_dir: Path) -> None:
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=16)
    arrivals = Arrivals(batcher, [BatchItem(request(PROMPTS[1], top_p=0.0))], at=[2])
    first = batcher.enqueue(BatchItem(request(PROMPTS[0]), on_text=arrivals.on_text))
    assert [t.completion_tokens for t in first.result(WAIT_S)] == [20, 20]
    with pytest.raises(InvalidRequest, match="top_p"):
        arrivals.futures[0].result(WAIT_S)


def test_jobs_beyond_the_row_budget_wait_for_rows_to_leave(
    tiny_models_dir: Path,
) -> None:
    # given room for four rows, a 30-token job of two variants running, and after its first
    # token a 10-token job and a third job of two variants each arriving together
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=4)
    joined: dict[str, int] = {}
    later = [BatchItem(request(PROMPTS[1], max_new_tokens=10, min_new_tokens=10)),
             BatchItem(request(PROMPTS[2]),
                       on_text=lambda variant, text, tokens: joined.setdefault(
                           "third", arrivals.tokens))]
    arrivals = Arrivals(batcher, later, at=[1, 1])
    first = batcher.enqueue(BatchItem(request(PROMPTS[0], max_new_tokens=30, min_new_tokens=30),
                                      on_text=arrivals.on_text))
    assert [t.completion_tokens for t in first.result(WAIT_S)] == [30, 30]
    assert [[t.completion_tokens for t in f.result(WAIT_S)] for f in arrivals.futures] == [
        [10, 10], [20, 20]]
    # then the short job joined at step 2 and the third once its rows had left (after step 11)
    assert joined == {"third": 12}


def test_a_transformers_model_serves_jobs_joining_mid_batch_as_alone(
    tiny_transformers_model: Path,
) -> None:
    # given a Qwen2 folder, all full attention or with a sliding-window layer, and three
    # greedy jobs, the first sliding past the model's 64 positions
    requests = [request(p, max_new_tokens=n, min_new_tokens=n, model=str(tiny_transformers_model),
                        backend="transformers", chat=False)
                for p, n in zip(PROMPTS, (90, 20, 12), strict=True)]
    alone = [generate(r) for r in requests]
    # when the second and third arrive in the first's 3rd and 7th steps (its should_stop is
    # asked once a step: a random model's text streams irregularly, half characters wait)
    batcher = ContinuousBatcher(models_dir=lambda: None, max_rows=16)
    joins = Joins()  # the first job's steps
    futures: list[Future] = []

    def first_stop() -> bool:
        joins.step += 1
        if joins.step in (3, 7):
            job = len(futures) + 1
            futures.append(batcher.enqueue(BatchItem(requests[job], should_stop=joins.asker(job))))
        return False

    first = batcher.enqueue(BatchItem(requests[0], should_stop=first_stop)).result(WAIT_S)
    together = [first] + [f.result(WAIT_S) for f in futures]
    # then every text is the one written alone; with full attention the late jobs joined at
    # the next step, while a sliding-window cache, which cannot be stacked, made them wait
    # for the running job's 90 steps
    assert texts_of(together) == texts_of(alone)
    sliding = tiny_transformers_model.name.startswith("qwen2-sliding")
    assert joins.joined == ({1: 90, 2: 90} if sliding else {1: 4, 2: 8})


@pytest.fixture
def device_of_two_rows(tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tiny model on a pretend device that runs out of memory above two rows a pass;
    the list counts the passes refused."""
    model = load_model("builtin", "cpu", tiny_models_dir).model
    forward = model.forward
    refused: list[int] = []

    def limited(*args: object, input_ids: torch.Tensor, **kwargs: object) -> object:
        if input_ids.shape[0] > 2:
            refused.append(input_ids.shape[0])
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(model, "forward", limited)
    return refused


def test_out_of_device_memory_restarts_the_batch_smaller_with_the_same_texts(
    tiny_models_dir: Path, device_of_two_rows: list[int],
) -> None:
    # given three jobs of two variants, the last two joining the first together
    requests = [request(p, temperature=0.9, seed=10 * n) for n, p in enumerate(PROMPTS)]
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=16)
    arrivals = Arrivals(batcher, [BatchItem(r) for r in requests[1:]], at=[2, 2])
    first = batcher.enqueue(BatchItem(requests[0], on_text=arrivals.on_text)).result(WAIT_S)
    together = [first] + [f.result(WAIT_S) for f in arrivals.futures]
    # then the four joining rows' prefill ran out of memory once, and all three jobs were
    # written again from their first token in smaller batches, as they are alone
    assert device_of_two_rows == [4]
    assert texts_of(together) == texts_of([generate(r, models_dir=tiny_models_dir)
                                           for r in requests])


def test_a_job_too_big_for_the_device_alone_fails_with_advice(
    tiny_models_dir: Path, device_of_two_rows: list[int],
) -> None:
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=16)
    with pytest.raises(OutOfDeviceMemory, match="fewer variants or fewer tokens"):
        batcher.submit(BatchItem(request(PROMPTS[0], variants=3)))
    assert [t.completion_tokens for t in batcher.submit(BatchItem(request(PROMPTS[1])))] == [
        20, 20]


@pytest.mark.parametrize(("b_tokens", "d_joined", "e_joined"), [(12, 13, 13), (30, 14, 31)])
def test_a_full_batch_lets_newcomers_join_a_quarter_of_its_rows_at_a_time(
    tiny_models_dir: Path, b_tokens: int, d_joined: int, e_joined: int,
) -> None:
    # given a budget of 8 rows: job A (1 row, 10 tokens) running, and in its first step
    # B (1 row), C (6 rows, 40 tokens), then D and E (1 row each) arriving
    batcher = ContinuousBatcher(models_dir=lambda: tiny_models_dir, max_rows=8)
    joins = Joins()  # C's steps: it is asked once a step, from global step 2 on
    futures: list[Future] = []

    def c_step() -> bool:
        joins.step += 1
        return False

    def job(name: str, variants: int, tokens: int) -> BatchItem:
        return BatchItem(request(PROMPTS[len(futures) % 3], variants=variants,
                                 max_new_tokens=tokens, min_new_tokens=tokens),
                         should_stop=c_step if name == "C" else joins.asker(name))

    def a_step() -> bool:
        if not futures:
            futures.extend(batcher.enqueue(job(name, variants, tokens)) for name, variants, tokens
                           in (("B", 1, b_tokens), ("C", 6, 40), ("D", 1, 20), ("E", 1, 20)))
        return False

    a = batcher.enqueue(BatchItem(request(PROMPTS[0], variants=1, max_new_tokens=10,
                                          min_new_tokens=10), should_stop=a_step))
    a.result(WAIT_S)
    assert [len(f.result(WAIT_S)) for f in futures] == [1, 6, 1, 1]
    # then B and C joined at step 2 (B asked before C's first); when A left after step 10,
    # one row was free, less than a quarter of the budget: so D and E waited until a 12-token
    # B left after step 13 and joined together at step 14 (C's 13th); with a 30-token B,
    # D waited 4 steps and joined alone at step 15, and E once B left after step 31
    assert joins.joined == {"B": 0, "D": d_joined, "E": e_joined}
