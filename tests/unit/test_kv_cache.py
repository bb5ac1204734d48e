"""The running batch's KV cache layers append in place, and the model computes the very
numbers it computed with transformers' concatenating layers."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch
from transformers.cache_utils import DynamicLayer

from tests.generation_fixtures import logits_per_row
from workers.generation import kv_cache
from workers.generation.engine import BatchItem, RunningBatch, load_model
from workers.generation.kv_cache import SPARE_MIN, RoomyLayer
from workers.generation.types import GenerationRequest


def _states(rows: int, positions: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(rows, 2, positions, 8, generator=generator),
            torch.randn(rows, 2, positions, 8, generator=generator))


def test_a_roomy_layer_holds_what_concatenation_holds_and_copies_only_to_grow() -> None:
    # Given a concatenating layer and a roomy one, both prefilled with 5 positions
    plain, roomy = DynamicLayer(), DynamicLayer()
    plain.update(*_states(3, 5, 0))
    roomy.update(*_states(3, 5, 0))
    roomy.__class__ = RoomyLayer
    buffers = set()
    # When 80 decoding steps append one position each
    for step in range(80):
        new = _states(3, 1, step + 1)
        expected, got = plain.update(*new), roomy.update(*new)
        # Then each step hands attention the same keys and values
        assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))
        buffers.add(got[0].untyped_storage().data_ptr())
    # and the buffers were replaced only when full: 5 + 1 positions fit in 6 + 32, then 39
    # in 39 + 32, then 72 in 72 + 32 (85 positions in all)
    assert len(buffers) == 3
    assert roomy.keys.shape[-2] == 85
    assert roomy._buffers is not None and roomy._buffers[0].shape[-2] == 72 + SPARE_MIN


def test_keys_assigned_from_outside_are_the_start_of_the_next_step() -> None:
    # Given a roomy layer that has decoded a few steps
    layer = DynamicLayer()
    layer.update(*_states(4, 6, 0))
    layer.__class__ = RoomyLayer
    for step in range(3):
        layer.update(*_states(4, 1, step + 1))
    # When the engine keeps two rows and drops a column of padding, as when rows leave
    kept_keys, kept_values = layer.keys[[0, 2], :, 1:], layer.values[[0, 2], :, 1:]
    layer.keys, layer.values = kept_keys, kept_values
    new_keys, new_values = _states(2, 1, 9)
    keys, values = layer.update(new_keys, new_values)
    # Then the next step appends to what was assigned
    assert torch.equal(keys, torch.cat([kept_keys, new_keys], dim=-2))
    assert torch.equal(values, torch.cat([kept_values, new_values], dim=-2))


# Rows of different prompt lengths, one more job joining at the fourth step, rows leaving
# at different lengths, and then one row long enough that its buffers fill and grow in
# place (at 45 positions, with the tiny model's tokenizer), inside its 64-position context
GROWING = {0: (0, 50, 0), 1: (1, 6, 0), 2: (1, 4, 3)}


@pytest.mark.parametrize("tiny_transformers_model", ["full"], indirect=True)
@pytest.mark.parametrize("backend", ["builtin", "transformers"])
def test_the_model_computes_the_same_logits_as_with_concatenating_layers(
        backend: str, tiny_models_dir: Path, tiny_transformers_model: Path) -> None:
    # the built-in GPT-2, and a Qwen2 with rotary positions and grouped KV heads
    loaded = load_model("builtin" if backend == "builtin" else str(tiny_transformers_model),
                        "cpu", tiny_models_dir)
    roomy = logits_per_row(loaded, GROWING)
    with mock.patch.object(kv_cache, "give_room", lambda cache: None):
        concatenating = logits_per_row(loaded, GROWING)
    assert roomy.keys() == concatenating.keys() and len(roomy[(0, 0)]) == 50
    differing = [(row, n) for row, steps in roomy.items()
                 for n, (a, b) in enumerate(zip(steps, concatenating[row], strict=True))
                 if not torch.equal(a, b)]
    assert differing == []


def test_the_running_batch_decodes_into_roomy_layers(tiny_models_dir: Path) -> None:
    batch = RunningBatch(load_model("builtin", "cpu", tiny_models_dir))
    batch.admit(BatchItem(GenerationRequest(prompt="Kludge", variants=1, seed=1, max_new_tokens=8,
                                            min_new_tokens=8, device="cpu")))
    batch.step()
    assert {type(layer) for layer in batch._cache.layers} == {RoomyLayer}
