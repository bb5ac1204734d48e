"""A row's text, decoded a few tokens at a time, is at every step the whole text decoded at
once, for a byte-level tokenizer (the built-in model's, GPT-2's, Qwen's) and for a
SentencePiece-style one (word-initial "▁", byte fallback: Llama's, Mistral's)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from workers.generation.engine import _decoded, _Row
from workers.generation.types import GenerationRequest

TEXTS = [
    "Rain gardens catch the water. Don't mow them; they're meant to grow wild!\n\nStep 2: plant.",
    "雨水花园能收集屋顶的雨水，减少径流。种植本地植物，不需要施肥。",
    "Mixed: 堆肥 (compost) — turn it weekly 🌱🌧️, then wait… “done”.",
]


def _sentencepiece_style() -> PreTrainedTokenizerFast:
    """Characters of the texts as tokens, every other character through byte fallback, and
    Llama's decoder (▁ to a space, bytes fused into characters, the first space stripped)."""
    chars = sorted({c for text in TEXTS[:1] for c in text.replace(" ", "")})
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3}
    vocab.update({f"<0x{b:02X}>": 4 + b for b in range(256)})
    vocab.update({c: len(vocab) + n for n, c in enumerate(chars) if c not in vocab})
    merges = []  # whole words: "▁" + "R" → "▁R", "▁R" + "a" → "▁Ra", ...
    for word in ["▁Rain", "▁the", "▁water."]:
        for end in range(2, len(word) + 1):
            merges.append((word[:end - 1], word[end - 1]))
            vocab.setdefault(word[:end], len(vocab))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>",
                                     byte_fallback=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                                 normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                           decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def _streams(tokenizer: Any) -> list[list[int]]:
    """Each text's tokens, and seeded random tokens (which split characters and write bytes
    that are no character at all)."""
    streams = [tokenizer.encode(text, add_special_tokens=False) for text in TEXTS]
    randomly = random.Random(3)
    streams += [[randomly.randrange(len(tokenizer)) for _ in range(120)] for _ in range(20)]
    return streams


@pytest.mark.parametrize("kind", ["byte-level", "sentencepiece-style"])
def test_each_steps_text_is_the_whole_text_decoded(kind: str, tiny_model_dir: Path) -> None:
    tokenizer = (AutoTokenizer.from_pretrained(tiny_model_dir) if kind == "byte-level"
                 else _sentencepiece_style())
    if kind == "sentencepiece-style":  # words begin with "▁"; Chinese goes byte by byte
        pieces = tokenizer.convert_ids_to_tokens(_streams(tokenizer)[1])
        assert "▁Rain" in tokenizer.convert_ids_to_tokens(_streams(tokenizer)[0])
        assert pieces[:3] == ["▁", "<0xE9>", "<0x9B>"]
    request = GenerationRequest(prompt="", variants=1, seed=0, max_new_tokens=200)
    for stream in _streams(tokenizer):
        row = _Row(0, 0, request, None, [], 0)
        shown = 0
        for token in stream:
            row.written.append(token)
            whole = tokenizer.decode(row.written, skip_special_tokens=True)
            text = _decoded(row, tokenizer)
            # Then each step's text is the whole text, or it waits while that ends inside a
            # character
            if text is None or whole.endswith("\ufffd"):
                assert text is None and whole.endswith("\ufffd")
            else:
                assert text == whole
                shown += 1
        row.done = True
        assert _decoded(row, tokenizer) == tokenizer.decode(stream, skip_special_tokens=True)
        assert shown > 0
