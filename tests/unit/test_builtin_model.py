"""Training the built-in model: corpus, Hugging Face folder, model card, the command."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.tiny_plan import TINY_PLAN, TINY_STEPS
from workers.generation.builtin.corpus import DEFAULT_CORPUS, corpus_documents, corpus_split
from workers.generation.builtin.plan import TrainingReport
from workers.generation.builtin.training import train_builtin_model

# sha256 of Debian jargon-text 4.4.7-4.1's /usr/share/doc/jargon-text/jargon.txt.gz
JARGON_SHA256 = "fcaa76e4c2ebdf90c6557524b9430373dc49d1a26462ef30f43c0ace70a25a3a"


def test_the_corpus_is_the_public_domain_jargon_file_as_shipped_by_debian() -> None:
    assert hashlib.sha256(DEFAULT_CORPUS.read_bytes()).hexdigest() == JARGON_SHA256


def test_the_corpus_keeps_prose_documents_and_holds_out_every_twentieth() -> None:
    documents = corpus_documents()
    split = corpus_split(documents)
    assert documents[0].startswith("This is the Jargon File, a comprehensive compendium")
    assert documents[1].startswith("Chapter 1. Hacker Slang and Hacker Culture\n\n")
    # cross-references lose their braces, typographic quotes and no-break spaces go plain
    assert not any(re.search(r"\{\w|[‘’“”\u00a0]", d) for d in documents)
    assert split.heldout == documents[19::20]
    assert len(split.train) + len(split.heldout) == len(documents)


def test_training_writes_a_loadable_hugging_face_model(
    tiny_model_dir: Path, tiny_training: TrainingReport
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True)
    assert tokenizer.eos_token == "<|endoftext|>"
    assert len(tokenizer) == tiny_training.vocab_size == TINY_PLAN.vocab_size
    assert sum(p.numel() for p in model.parameters()) == tiny_training.parameters
    weights = (tiny_model_dir / "model.safetensors").read_bytes()
    assert (tiny_model_dir / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert tiny_training.revision == hashlib.sha256(weights).hexdigest()[:12]
    assert tiny_training.steps == TINY_STEPS


def test_the_model_card_and_metadata_carry_the_training_figures(
    tiny_model_dir: Path, tiny_training: TrainingReport
) -> None:
    card = (tiny_model_dir / "README.md").read_text()
    assert f"| final training loss | {tiny_training.final_loss:.4f}" in card
    assert f"| held-out perplexity | {tiny_training.heldout_perplexity:.2f}" in card
    assert f"| parameters | {tiny_training.parameters:,} |" in card
    assert "Licence: public domain" in card
    assert "The Jargon File, version 4.4.7" in card
    metadata = json.loads((tiny_model_dir / "training.json").read_text())
    assert metadata["revision"] == tiny_training.revision
    assert metadata["heldout_perplexity"] == tiny_training.heldout_perplexity
    assert 1 < tiny_training.heldout_perplexity < TINY_PLAN.vocab_size


def test_training_stops_at_its_time_budget(tmp_path: Path) -> None:
    report = train_builtin_model(tmp_path / "m", 100_000, replace(TINY_PLAN, max_seconds=0.5))
    assert 0 < report.steps < report.planned_steps == 100_000
    assert "stopped by the time budget" in (tmp_path / "m" / "README.md").read_text()


def test_an_existing_model_is_replaced_only_when_asked(tmp_path: Path) -> None:
    first = train_builtin_model(tmp_path / "m", 2, TINY_PLAN)
    with pytest.raises(FileExistsError):
        train_builtin_model(tmp_path / "m", 2, TINY_PLAN)
    second = train_builtin_model(tmp_path / "m", 2, replace(TINY_PLAN, seed=5),
                                 replace_existing=True)
    assert first.revision != second.revision
    assert json.loads((tmp_path / "m" / "training.json").read_text())["revision"] == second.revision
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_the_command_trains_into_models_dir_and_refuses_to_overwrite(
    tmp_path: Path, settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.MODELS_DIR = tmp_path
    call_command("train_model", "--steps", "2")
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 2
    assert report["parameters"] > 1_000_000
    assert (tmp_path / "builtin" / "config.json").is_file()
    with pytest.raises(CommandError, match="use --force"):
        call_command("train_model", "--steps", "2")
