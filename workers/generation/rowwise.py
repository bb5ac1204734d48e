"""Attention computed row by row on the CPU, so that a row's numbers do not depend on its batch.

torch's CPU attention sums over the key positions in blocks laid out from the row's whole
length: a row left-padded to its batch's longest row (masked out, so equal in exact
arithmetic) comes out different in the last bits from the same row alone, and now and then
a greedy or sampled token flips (about one variant in a hundred joining a running batch, on
an AVX-512 CPU). Here each row attends over its own keys only, in the very call it makes
alone. With MKL's strict mode for the matrix products (set in `engine`), a row's logits are
then bit for bit those it computes alone, whatever joins or leaves the batch around it.

Only the masks the engine makes are taken apart: left padding, with the queries either one
(decoding) or as many as the keys (a prefill). Any other mask (a sliding window, a
position bias, a prefill over a cache), and attention dropout (training), go to
transformers' own SDPA for the whole batch.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch.nn.functional import pad as pad_tensor
from torch.nn.functional import scaled_dot_product_attention
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ROWWISE_SDPA = "rowwise_sdpa"


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
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
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
            is_causal=causal, scale=kwargs.get("scaling"))
        parts.append(pad_tensor(written, (0, 0, first, 0)) if first else written)
        row = end
    out = torch.cat(parts) if len(parts) > 1 else parts[0]
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(ROWWISE_SDPA, rowwise_sdpa_forward)
AttentionMaskInterface.register(ROWWISE_SDPA, sdpa_mask)
