"""Batch-invariant inference on the CPU: a row's numbers do not depend on the rows beside it.

Two kinds of operation gave a row different last bits in a batch than alone, and now and
then that flipped a greedy or sampled token (about one variant in a hundred joining a
running batch):

- Attention. torch's CPU attention sums over the key positions in blocks laid out from
  the row's whole length, so a row left-padded to its batch's longest row (masked out,
  equal in exact arithmetic) came out different. Here each row attends over its own keys
  only, in the very call it makes alone. Only the masks the engine makes are taken apart:
  left padding, with the queries either one (decoding) or as many as the keys (a
  prefill). Any other mask (a sliding window, a position bias, a prefill over a cache),
  and attention dropout (training), go to transformers' own SDPA for the whole batch.
- Matrix products. MKL picks its kernel and its split between threads from the number of
  rows: on an AMD EPYC, rows of a product of 1, 2-3 and 4 or more rows differed, and
  with two threads those of 5-7 and 9-11 rows too. MKL's strict mode (set in `engine`)
  fixes that on Intel CPUs only. So the model's linear layers multiply in blocks of
  exactly BLOCK_ROWS rows, the last one padded with zeros: every row goes through the
  same call, and within a call MKL computes every row alike (checked at every position).

With both, a row's logits are bit for bit those it computes alone, whatever joins or
leaves the batch around it (tests/unit/test_batch_invariance.py).
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch.nn.functional import pad as pad_tensor
from torch.nn.functional import scaled_dot_product_attention
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
from transformers.pytorch_utils import Conv1D

ROWWISE_SDPA = "rowwise_sdpa"
# Rows per matrix product. A lone row pays for 16 (2.7-4.6 times a one-row product:
# bench/blocked_products.py); a larger block would cost lone rows more, a smaller one more
# calls per layer at full batches.
BLOCK_ROWS = 16


class _Seen(threading.local):
    """The mask last read on this thread and what it gave: a forward pass hands every layer
    the same mask."""

    mask: torch.Tensor | None = None
    pads: list[int] | None = None


_seen = _Seen()


def _left_padding(mask: torch.Tensor) -> list[int] | None:
    if mask is not _seen.mask:
        _seen.pads, _seen.mask = _read_left_padding(mask), mask
    return _seen.pads


def _read_left_padding(mask: torch.Tensor) -> list[int] | None:
    """Each row's left padding when `mask` (rows, 1, queries, keys; True where a query may
    look) is what left padding makes, full for one query and causal for a prefill; else None."""
    _, _, queries, keys = mask.shape
    pads = (~mask[:, 0, -1, :]).sum(dim=-1)
    key_index = torch.arange(keys, device=mask.device)
    expected = (key_index[None, :] >= pads[:, None])[:, None, None, :]  # (rows, 1, 1, keys)
    if queries > 1:
        expected = expected & (key_index[None, :] <= key_index[:, None])[None, None]
    if not torch.equal(mask, expected.expand_as(mask)):
        return None
    return [int(p) for p in pads.tolist()]


def rowwise_sdpa_forward(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor,
                         value: torch.Tensor, attention_mask: torch.Tensor | None,
                         **kwargs: Any) -> tuple[torch.Tensor, None]:
    """transformers' SDPA with the same arguments and result ((rows, queries, heads, head
    size)), computed over each row's own keys. Neighbouring rows with the same padding (a
    job's variants) go in one call: SDPA computes every row of a call alike."""
    rows, queries, keys = query.shape[0], query.shape[2], key.shape[2]
    pads = None
    if (kwargs.get("position_bias") is None and kwargs.get("softcap") is None
            and not kwargs.get("dropout") and queries in (1, keys)):
        if attention_mask is None:
            pads = [0] * rows
        elif attention_mask.dtype == torch.bool and attention_mask.shape[1] == 1:
            pads = _left_padding(attention_mask)
    if pads is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    # Grouped KV heads are read in place: repeating them first copied the whole cache per
    # layer and step (its heads times the groups), more than the attention itself took.
    gqa = getattr(module, "num_key_value_groups", 1) > 1
    # a padded prefill's mask was checked to be causal; an unpadded one is as the model says
    causal = queries > 1 and (attention_mask is not None
                              or bool(kwargs.get("is_causal", getattr(module, "is_causal", True))))
    parts = []
    row = 0
    while row < rows:  # each run of neighbouring rows with the same padding, in one call
        pad, end = pads[row], row + 1
        while end < rows and pads[end] == pad:
            end += 1
        first = pad if queries > 1 else 0  # a prefill's padded queries give nothing
        written = scaled_dot_product_attention(
            query[row:end, :, first:], key[row:end, :, pad:], value[row:end, :, pad:],
            is_causal=causal, scale=kwargs.get("scaling"), enable_gqa=gqa)
        parts.append(pad_tensor(written, (0, 0, first, 0)) if first else written)
        row = end
    out = torch.cat(parts) if len(parts) > 1 else parts[0]
    return out.transpose(1, 2).contiguous(), None


def blocked_addmm(bias: torch.Tensor | None, x: torch.Tensor,
                  matrix: torch.Tensor) -> torch.Tensor:
    """`bias + x @ matrix` (x (..., in), matrix (in, out)), BLOCK_ROWS rows of x per product."""
    rows = x.reshape(-1, x.shape[-1])
    count = rows.shape[0]
    rows = pad_tensor(rows, (0, 0, 0, -count % BLOCK_ROWS))
    out = rows.new_empty((rows.shape[0], matrix.shape[1]))
    for start in range(0, rows.shape[0], BLOCK_ROWS):
        block = slice(start, start + BLOCK_ROWS)
        if bias is None:
            torch.mm(rows[block], matrix, out=out[block])
        else:
            torch.addmm(bias, rows[block], matrix, out=out[block])
    return out[:count].view(*x.shape[:-1], matrix.shape[1])


class BlockedLinear(torch.nn.Linear):
    """nn.Linear multiplying in blocks of BLOCK_ROWS rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blocked_addmm(self.bias, x, self.weight.t())


class BlockedConv1D(Conv1D):
    """transformers' Conv1D (GPT-2's linear layer, weights transposed), in blocks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blocked_addmm(self.bias, x, self.weight)


def make_batch_invariant(model: PreTrainedModel) -> None:
    """Switch an inference model on the CPU to row-by-row attention (when its attention is
    SDPA) and its plain linear layers to blocked products (subclasses, such as quantised
    layers, are left as they are)."""
    if model.config._attn_implementation == "sdpa":
        model.set_attn_implementation(ROWWISE_SDPA)
    for layer in model.modules():
        if type(layer) is torch.nn.Linear:
            layer.__class__ = BlockedLinear
        elif type(layer) is Conv1D:
            layer.__class__ = BlockedConv1D


AttentionInterface.register(ROWWISE_SDPA, rowwise_sdpa_forward)
AttentionMaskInterface.register(ROWWISE_SDPA, sdpa_mask)
