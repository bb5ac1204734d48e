"""What training the built-in model is asked for (its shape and optimisation) and what a
finished run reports: plain data that the trainer, the model card and the platform share."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workers.generation.builtin.corpus import CORPUS_LICENCE, CORPUS_SOURCE, DEFAULT_CORPUS


@dataclass(frozen=True)
class TrainingPlan:
    """Model shape and optimisation settings; the defaults are the shipped model's."""

    vocab_size: int = 4096
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128
    batch_size: int = 8
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    max_seconds: float | None = 240.0  # the training loop's budget; None trains every step
    seed: int = 1234
    corpus: Path = DEFAULT_CORPUS
    max_documents: int | None = None  # a prefix of the corpus, for quick test models
    eval_blocks: int | None = None  # held-out windows scored; None scores them all
    # Tiny models train faster on one thread: with a busy second core, every small op
    # waits for the descheduled thread (10 ms vs 450 ms a step measured here).
    threads: int | None = None
    device: str = "auto"  # a GPU worker trains on its GPU (fp32: the model is small)


@dataclass(frozen=True)
class TrainingReport:
    output_dir: str
    revision: str
    parameters: int
    steps: int
    planned_steps: int
    tokens_seen: int
    final_loss: float
    heldout_loss: float
    heldout_perplexity: float
    train_seconds: float
    train_tokens: int
    heldout_tokens: int
    vocab_size: int
    corpus_source: str = CORPUS_SOURCE
    corpus_licence: str = CORPUS_LICENCE
    model_name: str = "Built-in model"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
