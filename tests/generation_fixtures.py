"""A tiny built-in model, trained once per test session in a few seconds; channel-layer reads.

Its fixtures are a plugin (the root conftest.py), so a test just names them; point
`settings.MODELS_DIR` (or a worker's AIGC_MODELS_DIR) at `tiny_models_dir`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import torch
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tests.tiny_plan import TINY_PLAN, TINY_STEPS, random_qwen2
from workers.generation.builtin.plan import TrainingReport
from workers.generation.builtin.training import train_builtin_model
from workers.generation.engine import BatchItem, RunningBatch
from workers.generation.types import GenerationRequest


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory: pytest.TempPathFactory) -> TrainingReport:
    models_dir = tmp_path_factory.mktemp("models")
    return train_builtin_model(models_dir / "builtin", TINY_STEPS, TINY_PLAN)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_training: TrainingReport) -> Path:
    """The tiny model's own folder (config.json, model.safetensors, tokenizer, README.md)."""
    return Path(tiny_training.output_dir)


@pytest.fixture(scope="session")
def tiny_models_dir(tiny_model_dir: Path) -> Path:
    """A MODELS_DIR whose `builtin` model is the tiny one."""
    return tiny_model_dir.parent


@pytest.fixture(scope="session", params=["full", "sliding"])
def tiny_transformers_model(request: pytest.FixtureRequest, tiny_model_dir: Path,
                            tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random two-layer Qwen2 folder (rotary positions, grouped KV heads) on the tiny
    model's tokenizer, as the transformers backend loads one: all layers attending in
    full, or the first one over a sliding window of 16 tokens."""
    return random_qwen2(
        tmp_path_factory.mktemp(f"qwen2-{request.param}"), tiny_model_dir, vocab_size=320,
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64,
        use_sliding_window=request.param == "sliding", sliding_window=16, max_window_layers=1)


PROMPTS = ["Kludge", "Title: Compost\n\n",
           "A hacker is a person who enjoys exploring the details of programmable systems.\n\n",
           "Turn the heap every week so the middle stays warm and airy."]
Job = tuple[int, int, int]  # (prompt, tokens to write, the step it joins at)
# joins and leaves at different lengths
JOBS: list[Job] = [(0, 24, 0), (1, 10, 3), (2, 16, 3), (3, 12, 7), (1, 6, 9)]

Logits = dict[tuple[int, int], list[torch.Tensor]]  # (job, variant) → each step's logits


def logits_per_row(loaded: Any, jobs: dict[int, Job]) -> Logits:
    """Every step's logits of each row of a running batch, each job (two sampled variants)
    joining at its step."""
    batch = RunningBatch(loaded)
    outputs: list[torch.Tensor] = []
    hook = loaded.model.get_output_embeddings().register_forward_hook(
        lambda _module, _args, output: outputs.append(output[:, -1].clone()))
    job_of: dict[int, int] = {}  # the batch's item index → job
    seen: Logits = defaultdict(list)
    try:
        step = 0
        while step == 0 or batch.rows or max(join for _, _, join in jobs.values()) > step:
            for job, (prompt, tokens, join) in jobs.items():
                if join == step:
                    job_of[len(job_of)] = job
                    batch.admit(BatchItem(GenerationRequest(
                        prompt=PROMPTS[prompt], variants=2, max_new_tokens=tokens,
                        min_new_tokens=tokens, seed=7 * job, temperature=0.9, device="cpu")))
            order = [(job_of[r.item], r.variant) for r in batch.cached + batch.pending]
            outputs.clear()
            batch.step()
            for key, logits in zip(order, torch.cat(outputs) if outputs else [], strict=True):
                seen[key].append(logits)
            step += 1
    finally:
        hook.remove()
    return seen


def receive_all(channel: str) -> list[dict]:
    """Every message waiting on `channel` (the layer keeps them for 30 s)."""
    import asyncio

    layer = get_channel_layer()

    async def drain() -> list[dict]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
            except TimeoutError:
                return messages

    return async_to_sync(drain)()
