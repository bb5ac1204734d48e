"""The tiny built-in model's plan, apart from the fixtures that train it, so that the
benches that train it too import no Django (a lent GPU machine has none installed)."""

from __future__ import annotations

from workers.generation.builtin.plan import TrainingPlan

# 1 layer, width 32, 64 positions, 320 tokens: trains in about a second and still
# writes distinct sampled texts, which is all the platform's tests need of it.
TINY_PLAN = TrainingPlan(vocab_size=320, n_layer=1, n_head=2, n_embd=32, block_size=64,
                         batch_size=8, warmup_steps=5, max_documents=200, max_seconds=None,
                         eval_blocks=8, threads=1)
TINY_STEPS = 30
