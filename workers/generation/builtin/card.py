"""The model card (README.md) written next to the built-in model's weights."""

from __future__ import annotations

from workers.generation.builtin.corpus import CORPUS_SOURCE
from workers.generation.builtin.plan import TrainingPlan, TrainingReport


def _figures(report: TrainingReport, plan: TrainingPlan) -> list[tuple[str, str]]:
    budget = ", stopped by the time budget" if report.steps < report.planned_steps else ""
    return [
        ("architecture", f"GPT-2: {plan.n_layer} layers, {plan.n_head} heads, "
                         f"width {plan.n_embd}, context {plan.block_size}"),
        ("parameters", f"{report.parameters:,}"),
        ("tokenizer", f"byte-level BPE, {report.vocab_size:,} tokens "
                      "(`<|endoftext|>` ends a document)"),
        ("training steps", f"{report.steps:,} of {report.planned_steps:,} planned{budget} "
                           f"(batch {plan.batch_size} x {plan.block_size} tokens, "
                           f"{report.tokens_seen:,} tokens seen)"),
        ("optimiser", f"AdamW, peak learning rate {plan.learning_rate}, warm-up then cosine "
                      f"decay, seed {plan.seed}"),
        ("final training loss", f"{report.final_loss:.4f} (mean of the last 20 steps)"),
        ("held-out loss", f"{report.heldout_loss:.4f}"),
        ("held-out perplexity", f"{report.heldout_perplexity:.2f} (per BPE token, held-out set)"),
        ("training time", f"{report.train_seconds:.1f} s ({report.train_seconds / 60:.1f} min)"),
    ]


def corpus_model_card(report: TrainingReport, plan: TrainingPlan) -> str:
    """The card of a model trained from scratch on other text than the Jargon File: a
    workspace's dataset version, or the corpus `train_model --corpus` was given."""
    table = "\n".join(f"| {name} | {value} |" for name, value in _figures(report, plan))
    return f"""# {report.model_name} (revision {report.revision})

A GPT-2 architecture trained from scratch, with its own byte-level BPE tokenizer, on
{report.corpus_source}. Its drafts need a human editor.

## Training data

- Source: {report.corpus_source}.
- Licence: {report.corpus_licence}.
- Tokens: {report.train_tokens:,} for training, {report.heldout_tokens:,} held out for
  evaluation (a dataset version's test split, or every 20th document of a corpus).

## Model

| figure | value |
| --- | --- |
{table}
"""


def model_card(report: TrainingReport, plan: TrainingPlan) -> str:
    if report.corpus_source != CORPUS_SOURCE:
        return corpus_model_card(report, plan)
    table = "\n".join(f"| {name} | {value} |" for name, value in _figures(report, plan))
    return f"""# Built-in model (revision {report.revision})

The platform's own small causal language model: a GPT-2 architecture trained from
scratch, with its own byte-level BPE tokenizer, by `python manage.py train_model`.
It exists so that a fresh installation can write drafts with no download and no
outside service. It writes English-like text; it does not follow instructions or
know facts, and its drafts need a human editor.

## Training data

- Source: {report.corpus_source} (file `{plan.corpus.name}` in the repository's
  `corpus/` folder, byte-identical to the Debian package's `jargon.txt.gz`).
- Licence: {report.corpus_licence}.
- Use: running prose only (introduction, entries, folklore); one document per entry or
  section; every 20th document held out for evaluation.
- Tokens: {report.train_tokens:,} for training, {report.heldout_tokens:,} held out.

## Model

| figure | value |
| --- | --- |
{table}

## Licence

The weights and tokenizer are released under Apache-2.0, like the platform; the
training text is in the public domain.
"""
