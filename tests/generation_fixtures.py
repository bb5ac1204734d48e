"""A tiny built-in model, trained once per test session in a few seconds; channel-layer reads.

Its fixtures are a plugin (the root conftest.py), so a test just names them; point
`settings.MODELS_DIR` (or a worker's AIGC_MODELS_DIR) at `tiny_models_dir`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tests.tiny_plan import TINY_PLAN, TINY_STEPS, random_qwen2
from workers.generation.builtin.plan import TrainingReport
from workers.generation.builtin.training import train_builtin_model


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
