"""Fixtures most unit tests share: a workspace and its members by role."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.models import Role
from apps.core.models import Workspace
from tests import factories
from tests.clients import logged_in
from tests.tiny_plan import TINY_PLAN, TINY_STEPS
from workers.generation.builtin.training import train_builtin_model

GATE_TEXTS = Path(__file__).resolve().parent.parent / "fixtures" / "gate" / "texts.json"


@pytest.fixture
def ws() -> Workspace:
    return factories.workspace(name="Garden Weekly")


@pytest.fixture
def editor(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.EDITOR)


@pytest.fixture
def reviewer(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.REVIEWER)


@pytest.fixture
def eddie(ws: Workspace):  # type: ignore[no-untyped-def]
    """An editor with an email address, for the tests that read mail and names."""
    user = factories.member(ws, Role.EDITOR, username="eddie")
    user.email = "eddie@example.org"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def rita(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.REVIEWER, username="rita")


@pytest.fixture
def admin(ws: Workspace):  # type: ignore[no-untyped-def]
    return factories.member(ws, Role.ADMIN)


@pytest.fixture
def root() -> Client:
    """A browser signed in as a superuser: the Django admin's user."""
    return logged_in(get_user_model().objects.create_superuser("root", "root@example.com",
                                                               "pw-123456!"))


@pytest.fixture(scope="session")
def gate_texts() -> dict[str, list[dict[str, str]]]:
    """20 built-in model drafts and 20 human-written texts, with their titles
    (tests/fixtures/gate/README.md says where each comes from and its licence)."""
    return json.loads(GATE_TEXTS.read_text(encoding="utf-8"))


DATASET_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "datasets"


@pytest.fixture
def datasets_dir(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """DATASETS_DIR in the test's own folder."""
    settings.DATASETS_DIR = tmp_path / "datasets"
    return settings.DATASETS_DIR


@pytest.fixture(scope="session")
def garden_files() -> dict[str, bytes]:
    """The bundled garden corpus (tests/fixtures/datasets): HTML pages with navigation,
    footers and a repeated newsletter line, a near-copy, an exact duplicate, a German note,
    a too-short note, and a page with an email address and a phone number."""
    return {path.name: path.read_bytes() for path in sorted(DATASET_FIXTURES.iterdir())
            if path.name != "README.md"}


@pytest.fixture(scope="session")
def tiny_builtin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built-in model folder of the tiny test shape (tests/generation_fixtures.py)."""
    folder = tmp_path_factory.mktemp("tiny") / "builtin"
    train_builtin_model(folder, TINY_STEPS, TINY_PLAN)
    return folder


@pytest.fixture
def models_dir(settings, tmp_path: Path, tiny_builtin: Path) -> Path:  # type: ignore[no-untyped-def]
    """MODELS_DIR in the test's own folder, its built-in model the tiny one."""
    settings.MODELS_DIR = tmp_path / "models"
    shutil.copytree(tiny_builtin, settings.MODELS_DIR / "builtin")
    return settings.MODELS_DIR


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory, tiny_builtin: Path) -> Path:
    """A Hugging Face causal LM of another architecture than the built-in one (Llama: one
    layer, width 32, untrained), with the tiny model's tokenizer: any local model folder."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("hf") / "tiny-llama"
    tokenizer = AutoTokenizer.from_pretrained(tiny_builtin, local_files_only=True)
    torch_seed = 1234
    import torch

    torch.manual_seed(torch_seed)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
