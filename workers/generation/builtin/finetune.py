"""Fine-tuning a built-in (or any GPT-2-style) model on a workspace's published texts.

The loop closes the feedback cycle: what reviewers approved and published
teaches the house model the house style. The texts are split by document
(every fifth held out, at least one), the base model's held-out perplexity is
measured, the model continues training from its weights with the base
tokenizer (a new vocabulary would orphan the learned embeddings), and the
perplexity is measured again on the same held-out windows. The result is
saved beside the base as a new model folder, renamed into place.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workers.generation.builtin.plan import TrainingPlan
from workers.generation.builtin.training import (
    METADATA_FILE,
    WEIGHTS_FILE,
    OnLoss,
    checkpoint_dir,
    file_revision,
    heldout_loss,
    move_into_place,
    optimise,
    token_stream,
)
from workers.generation.engine import InvalidRequest, context_length, resolve_device

MIN_WINDOW = 8  # tokens; shorter windows say little about a model of 128 positions
HELDOUT_EVERY = 5


@dataclass(frozen=True)
class FineTunePlan:
    steps: int = 100
    learning_rate: float = 5e-4  # a quarter of training from scratch: keep what it knew
    batch_size: int = 4
    max_seconds: float | None = 300.0
    seed: int = 1234
    threads: int | None = 1
    device: str = "auto"
    # None: every weight learns. N: LoRA adapters of rank N (peft) on every linear layer,
    # merged into the weights when saved, so the result loads like any model folder.
    lora_rank: int | None = None


@dataclass(frozen=True)
class FineTuneReport:
    base_dir: str
    output_dir: str
    base_revision: str
    revision: str
    documents: int
    train_tokens: int
    heldout_tokens: int
    block_size: int
    steps: int
    final_loss: float
    heldout_perplexity_before: float
    heldout_perplexity_after: float
    train_seconds: float
    lora_rank: int | None = None
    trainable_parameters: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def split_documents(texts: list[str]) -> tuple[list[str], list[str]]:
    """(train, held out): every fifth distinct document held out, at least one. A text given
    more than once (weighted up) trains as often, or is held out once and never trained on."""
    texts = [t.strip() for t in texts if t.strip()]
    distinct = list(dict.fromkeys(texts))
    if len(distinct) < 2:
        raise InvalidRequest("Fine-tuning needs at least two published texts "
                             f"(one is held out to measure it); found {len(distinct)}.")
    heldout = distinct[HELDOUT_EVERY - 1 :: HELDOUT_EVERY] or distinct[-1:]
    return [t for t in texts if t not in heldout], heldout


def finetune_model(base_dir: Path, output_dir: Path, texts: list[str],
                   plan: FineTunePlan | None = None, *, on_loss: OnLoss | None = None,
                   heldout: list[str] | None = None) -> FineTuneReport:
    """Continue training `base_dir` on `texts`; writes `output_dir` (replacing an earlier one).
    Perplexity is measured on `heldout` (a dataset's test split) when given, else on every
    fifth of `texts` (`split_documents`)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan = plan or FineTunePlan()
    started = time.perf_counter()
    base_dir, output_dir = Path(base_dir).resolve(), Path(output_dir).resolve()
    if heldout is None:
        train_texts, heldout_texts = split_documents(texts)
    elif not texts or not heldout:
        raise InvalidRequest("Fine-tuning on a dataset needs documents in its train and test "
                             f"splits; found {len(texts)} and {len(heldout)}.")
    else:
        train_texts, heldout_texts = texts, heldout
    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True,
                                                 dtype=torch.float32).to(resolve_device(plan.device))
    if plan.lora_rank:
        model = _with_lora(model, plan.lora_rank)
    train_ids = token_stream(tokenizer, train_texts)
    heldout_ids = token_stream(tokenizer, heldout_texts)
    block = min(model_window(model.config), len(train_ids) - 1, len(heldout_ids) - 1)
    if block < MIN_WINDOW:
        raise InvalidRequest(f"The published texts are too short to fine-tune on "
                             f"({len(train_ids)} training and {len(heldout_ids)} held-out "
                             f"tokens; windows need {MIN_WINDOW + 1}).")
    steps_plan = TrainingPlan(block_size=block, batch_size=plan.batch_size,
                              learning_rate=plan.learning_rate, warmup_steps=min(10, plan.steps),
                              max_seconds=plan.max_seconds, seed=plan.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(plan.threads or threads)
    try:
        torch.manual_seed(plan.seed)
        before = heldout_loss(model, heldout_ids, steps_plan)
        steps, recent = optimise(model, train_ids, plan.steps, steps_plan, lambda _: None,
                                 on_loss, checkpoint=checkpoint_dir(output_dir))
        after = heldout_loss(model, heldout_ids, steps_plan)
    finally:
        torch.set_num_threads(threads)

    base_metadata = base_dir / METADATA_FILE
    base_revision = (json.loads(base_metadata.read_text()).get("revision", "")
                     if base_metadata.is_file() else file_revision(base_dir / WEIGHTS_FILE))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if plan.lora_rank:
        model = model.merge_and_unload()  # plain weights: the engine loads it like any model
    built = output_dir.with_name(f".{output_dir.name}.new-{os.getpid()}")
    shutil.rmtree(built, ignore_errors=True)
    model.save_pretrained(built)
    tokenizer.save_pretrained(built)
    report = FineTuneReport(
        base_dir=str(base_dir), output_dir=str(output_dir), base_revision=base_revision,
        revision=file_revision(built / WEIGHTS_FILE), documents=len(set(train_texts)) + len(
            heldout_texts), train_tokens=len(train_ids), heldout_tokens=len(heldout_ids),
        block_size=block, steps=steps,
        final_loss=round(sum(recent) / len(recent), 4) if recent else float("nan"),
        heldout_perplexity_before=round(math.exp(before), 2),
        heldout_perplexity_after=round(math.exp(after), 2),
        train_seconds=round(time.perf_counter() - started, 1),
        lora_rank=plan.lora_rank, trainable_parameters=trainable,
    )
    (built / METADATA_FILE).write_text(json.dumps({**report.to_json(), "plan": asdict(plan)},
                                                  indent=2) + "\n")
    (built / "README.md").write_text(_card(report))
    for path in built.iterdir():
        path.chmod(0o644)
    move_into_place(built, output_dir, replace_existing=True)
    shutil.rmtree(checkpoint_dir(output_dir), ignore_errors=True)
    return report


# Positions of a GPT-2 (`n_positions`) or of most other causal LMs; windows beyond this many
# tokens make a CPU step slow without teaching a small corpus more.
WINDOW_MAX = 512


def model_window(config: Any) -> int:
    """The training window for a model: its context length, at most WINDOW_MAX."""
    return min(context_length(config, WINDOW_MAX), WINDOW_MAX)


def _with_lora(model: Any, rank: int) -> Any:
    """`model` with LoRA adapters of `rank` on every linear layer (the output head
    excepted), only they trainable."""
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules="all-linear",
        task_type="CAUSAL_LM",
        # GPT-2 keeps its linear weights transposed (Conv1D); other architectures do not
        fan_in_fan_out=getattr(model.config, "model_type", "") == "gpt2"))


def _card(report: FineTuneReport) -> str:
    return (
        f"# {Path(report.output_dir).name}\n\n"
        f"Fine-tuned from `{Path(report.base_dir).name}` (revision {report.base_revision}) on "
        f"{report.documents} texts of one workspace ({report.train_tokens} training "
        f"tokens, {report.heldout_tokens} held out by document).\n\n"
        f"| | value |\n| --- | --- |\n| steps | {report.steps} |\n"
        f"| method | {f'LoRA rank {report.lora_rank}, merged' if report.lora_rank else 'full'}"
        f" ({report.trainable_parameters:,} weights trained) |\n"
        f"| window | {report.block_size} tokens |\n| final training loss | {report.final_loss} |\n"
        f"| held-out perplexity before | {report.heldout_perplexity_before} |\n"
        f"| held-out perplexity after | {report.heldout_perplexity_after} |\n\n"
        "The texts belong to the workspace that published them; the base model's card "
        "gives the licence of its own training corpus.\n"
    )
