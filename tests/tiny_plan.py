"""The test models' recipes: the tiny built-in model's plan and a Qwen2 folder with random
weights. Apart from the fixtures that make them, so that the benches that make them too
import no Django (a lent GPU machine has none installed)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

from workers.generation.builtin.plan import TrainingPlan

# 1 layer, width 32, 64 positions, 320 tokens: trains in about a second and still
# writes distinct sampled texts, which is all the platform's tests need of it.
TINY_PLAN = TrainingPlan(vocab_size=320, n_layer=1, n_head=2, n_embd=32, block_size=64,
                         batch_size=8, warmup_steps=5, max_documents=200, max_seconds=None,
                         eval_blocks=8, threads=1)
TINY_STEPS = 30


def random_qwen2(folder: Path, tokenizer_dir: Path, **shape: Any) -> Path:
    """`folder`, now a Qwen2 of `shape` (Qwen2Config's arguments: rotary positions, grouped
    KV heads) with random weights (seed 0) on the tokenizer in `tokenizer_dir`, as the
    transformers backend loads one."""
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(Qwen2Config(**shape)).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer_dir / name, folder / name)
    return folder
