"""Micro-batching: several jobs, one forward pass per step; and device-memory failures.

A generation worker runs with a thread pool and a prefetch of several
messages (acks_late, so a message is acknowledged only when its job is
recorded). With AIGC_GENERATION_BATCHING=static each task thread hands its
request to the process's one `BatchCollector` and waits; the collector's thread
gathers what arrives within a short window, up to a row budget, and runs it
through the engine as one batch to its end. On CPU a step of 32 rows costs a few
times a step of one, so throughput grows several-fold (bench/generation_batching.py
measures it). The default, workers.generation.continuous, lets jobs join a
running batch instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from workers.collecting import Collector, run_or_split
from workers.generation.engine import BatchItem, GenerationError
from workers.generation.types import GeneratedText

RunBatch = Callable[[list[BatchItem]], list[list[GeneratedText]]]


class OutOfDeviceMemory(GenerationError):
    """One job alone does not fit on the device; smaller variants or max tokens will."""


TOO_BIG_ALONE = ("The job does not fit in the GPU's memory even alone; "
                 "ask for fewer variants or fewer tokens.")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


def release_device(exc: BaseException) -> None:
    """Free what the failed batch still holds on the device before its halves run.

    The exception's traceback keeps the engine's frames alive, and with them the
    batch's activations and KV cache: retried inside `except`, every half ran out
    of memory too (seen on an H200 with the memory capped at ten rows' worth).
    """
    import torch

    exc.__traceback__ = None
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _halve_on_oom(exc: Exception) -> bool:
    """Whether a failed batch should run again in halves: it ran out of device memory,
    which is freed here first."""
    if not is_out_of_memory(exc):
        return False
    release_device(exc)
    return True


def run_splitting(run: RunBatch, items: list[BatchItem]) -> list[list[GeneratedText] | Exception]:
    """Run `items` as one batch; on device OOM halve it and retry each half.

    Any other error of a shared batch is retried item by item, so it lands on
    the job that caused it and its neighbours still get their texts.
    """
    return [OutOfDeviceMemory(TOO_BIG_ALONE) if isinstance(result, Exception)
            and is_out_of_memory(result) else result
            for result in run_or_split(run, items, halve=_halve_on_oom)]


class BatchCollector(Collector[BatchItem, list[GeneratedText]]):
    """Collects concurrent `submit` calls into batches of at most `max_rows` variants, one
    model and device per batch."""

    def __init__(self, run: RunBatch, *, max_rows: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(lambda items: run_splitting(run, items),
                         key=lambda item: (item.request.model, item.request.device),
                         size=lambda item: item.request.variants, budget=max_rows,
                         window_s=window_s, name="batch-collector", clock=clock)
