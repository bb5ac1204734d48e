"""A row's logits are bit for bit those it computes alone, whatever joins or leaves its batch.

Texts alike are too weak a check: a last-bit difference flips a token only now and then
(about one variant in a hundred, before row-by-row attention and MKL's strict mode). So
this compares every step's logits of every row, exactly, between a batch that rows join
and leave at different lengths and each job run alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.pytorch_utils import Conv1D

from apps.generation import running
from tests.generation_fixtures import JOBS, Logits, logits_per_row
from workers.generation.continuous import ContinuousBatcher
from workers.generation.engine import load_model
from workers.generation.rowwise import (
    BLOCK_ROWS,
    ROWWISE_SDPA,
    BlockedConv1D,
    BlockedLinear,
    blocked_addmm,
    rowwise_sdpa_forward,
)


@pytest.mark.parametrize("tiny_transformers_model", ["full"], indirect=True)
@pytest.mark.parametrize("backend", ["builtin", "transformers"])
def test_each_rows_logits_match_its_job_run_alone_bit_for_bit(
        backend: str, tiny_models_dir: Path, tiny_transformers_model: Path) -> None:
    loaded = (load_model("builtin", "cpu", tiny_models_dir) if backend == "builtin"
              else load_model(str(tiny_transformers_model), "cpu"))
    assert loaded.model.config._attn_implementation == ROWWISE_SDPA
    together = logits_per_row(loaded, dict(enumerate(JOBS)))
    alone: Logits = {}
    for job, (prompt, tokens, _) in enumerate(JOBS):
        alone.update(logits_per_row(loaded, {job: (prompt, tokens, 0)}))
    assert together.keys() == alone.keys()
    for key, steps in alone.items():
        assert len(together[key]) == len(steps) == JOBS[key[0]][1]
        differing = [n for n, (a, b) in enumerate(zip(steps, together[key], strict=True))
                     if not torch.equal(a, b)]
        assert differing == [], f"job {key[0]} variant {key[1]} differs at steps {differing}"


class _Attention(torch.nn.Module):
    """What the attention functions read of a model's attention layer."""

    is_causal = True
    num_key_value_groups = 1


def test_left_padding_is_taken_apart_and_any_other_mask_goes_to_the_whole_batch() -> None:
    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 2, 6, 8) for _ in range(3))
    module = _Attention().eval()
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    # a sliding window of 3 positions: transformers' SDPA over the whole batch, as it was
    window = (causal & ~torch.ones(6, 6, dtype=torch.bool).tril(-3)).expand(2, 1, 6, 6)
    ours, _ = rowwise_sdpa_forward(module, query, key, value, window, scaling=None)
    whole, _ = sdpa_attention_forward(module, query, key, value, window, scaling=None)
    assert torch.equal(ours, whole)
    # a prefill whose second row has two positions of left padding: that row attends over
    # its own four positions, bit for bit as alone, and the same attention as the batch's
    padded = causal.expand(2, 1, 6, 6).clone()
    padded[1, :, :, :2] = False
    ours, _ = rowwise_sdpa_forward(module, query, key, value, padded, scaling=None)
    alone, _ = sdpa_attention_forward(module, query[1:, :, 2:], key[1:, :, 2:],
                                      value[1:, :, 2:], None, scaling=None)
    assert torch.equal(ours[1, 2:], alone[0])
    whole, _ = sdpa_attention_forward(module, query, key, value, padded, scaling=None)
    torch.testing.assert_close(ours[1, 2:], whole[1, 2:])
    torch.testing.assert_close(ours[0], whole[0])


class _GroupedAttention(_Attention):
    num_key_value_groups = 4


def test_grouped_kv_heads_are_read_in_place_with_the_numbers_of_repeated_ones() -> None:
    # Given 8 query heads over 2 KV heads, the second row left-padded by 3 positions
    torch.manual_seed(1)
    query = torch.randn(2, 8, 1, 16)
    key, value = torch.randn(2, 2, 40, 16), torch.randn(2, 2, 40, 16)
    mask = torch.ones(2, 1, 1, 40, dtype=torch.bool)
    mask[1, :, :, :3] = False
    # When the row-by-row attention reads them, and transformers' SDPA reads them repeated
    ours, _ = rowwise_sdpa_forward(_GroupedAttention(), query, key, value, mask, scaling=None)
    repeated = [sdpa_attention_forward(_Attention(), query[n:n + 1], repeat_kv(key, 4)[n:n + 1, :, pad:],
                                       repeat_kv(value, 4)[n:n + 1, :, pad:], None, scaling=None)[0]
                for n, pad in [(0, 0), (1, 3)]]
    # Then each row's numbers are those of its repeated heads
    assert torch.equal(ours, torch.cat(repeated))


@pytest.mark.parametrize("threads", [1, 2])
def test_a_blocked_products_rows_do_not_depend_on_how_many_rows_share_it(threads: int) -> None:
    # Given a layer's weights (transposed, as nn.Linear hands them) and 40 rows
    generator = torch.Generator().manual_seed(5)
    weight = torch.randn(96, 64, generator=generator)
    bias = torch.randn(96, generator=generator)
    rows = torch.randn(40, 64, generator=generator)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # When the first and the last 1 to 40 of them are multiplied, with and without bias
        full = blocked_addmm(bias, rows, weight.t())
        unbiased = blocked_addmm(None, rows, weight.t())
        differing = [count for count in range(1, 41)
                     if not torch.equal(blocked_addmm(bias, rows[:count], weight.t()),
                                        full[:count])
                     or not torch.equal(blocked_addmm(None, rows[-count:], weight.t()),
                                        unbiased[-count:])]
    finally:
        torch.set_num_threads(before)
    # Then each row is the same bit for bit, at any place in its block, and it is what the
    # layer computes
    assert BLOCK_ROWS < 40 and differing == []
    torch.testing.assert_close(full, torch.nn.functional.linear(rows, weight, bias))
    torch.testing.assert_close(unbiased, rows @ weight.t())


@pytest.mark.parametrize("tiny_transformers_model", ["full"], indirect=True)
def test_batch_invariance_can_be_turned_off_for_speed(
        tiny_models_dir: Path, tiny_transformers_model: Path, monkeypatch, settings) -> None:
    # Given each model loaded with batch invariance on and off
    for folder in (tiny_models_dir / "builtin", tiny_transformers_model):
        on = load_model(str(folder), "cpu").model
        off = load_model(str(folder), "cpu", batch_invariant=False).model
        # Then on, attention runs row by row and every linear layer multiplies in blocks;
        # off, the model is as transformers loads it
        assert on is not off
        assert on.config._attn_implementation == ROWWISE_SDPA
        assert off.config._attn_implementation == "sdpa"
        linears = [type(m) for m in on.modules() if isinstance(m, (torch.nn.Linear, Conv1D))]
        assert linears and set(linears) <= {BlockedLinear, BlockedConv1D}
        assert not any(isinstance(m, (BlockedLinear, BlockedConv1D)) for m in off.modules())
    # And a worker's batcher takes the setting
    monkeypatch.setattr(running, "_collector", None)
    settings.GENERATION_BATCH_INVARIANT = False
    collector = running.local_collector()
    assert isinstance(collector, ContinuousBatcher) and collector._batch_invariant is False
