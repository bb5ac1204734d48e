"""A KV cache layer with room to grow, for the running batch's plain attention layers.

transformers' DynamicLayer appends each step's keys and values by concatenation, so every
layer's whole cache is copied once per token, a cost that grows with the text's length. A
RoomyLayer writes a step's keys and values into spare positions of larger buffers and hands
attention views of the filled ones. A view's rows are laid out as a concatenated tensor's
are (only the stride between heads differs), so attention computes the same numbers
(tests/unit/test_kv_cache.py); bench/decoding_step.py measures the difference.

Whatever else assigns a layer's keys and values (the engine stacking rows that join,
dropping rows that leave) is copied into new buffers at the next step, as concatenating
would have copied it.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer

# Spare positions: an eighth of the length, at least SPARE_MIN. The buffers are refilled
# every length/8 steps (a copy per eight tokens, not per token) and hold at most an eighth
# more memory than the cache itself.
SPARE_MIN = 32


class RoomyLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are views of the first positions of buffers."""

    _buffers: tuple[torch.Tensor, torch.Tensor] | None = None
    _views: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        held_keys, held_values = self.keys, self.values
        if not self.is_initialized or held_keys is None or held_values is None:
            return super().update(key_states, value_states, *args, **kwargs)
        length, added = held_keys.shape[-2], key_states.shape[-2]
        if (self._buffers is None or self._views is None or self._views[0] is not held_keys
                or self._views[1] is not held_values
                or length + added > self._buffers[0].shape[-2]):
            self._buffers = (_roomy(held_keys, length + added),
                             _roomy(held_values, length + added))
        keys, values = self._buffers
        keys[..., length:length + added, :].copy_(key_states)
        values[..., length:length + added, :].copy_(value_states)
        self.keys, self.values = self._views = (keys[..., :length + added, :],
                                                values[..., :length + added, :])
        return self.keys, self.values


def _roomy(states: torch.Tensor, needed: int) -> torch.Tensor:
    """A buffer for `needed` positions and spare ones, holding `states` at its start."""
    capacity = needed + max(SPARE_MIN, needed // 8)
    buffer = states.new_empty((*states.shape[:-2], capacity, states.shape[-1]))
    buffer[..., :states.shape[-2], :].copy_(states)
    return buffer


def give_room(cache: Any) -> None:
    """Make a cache's layers roomy, in place (their keys and values are kept). The engine
    calls it only where every layer is a plain DynamicLayer (`engine._is_mergeable`)."""
    for layer in cache.layers:
        layer.__class__ = RoomyLayer
