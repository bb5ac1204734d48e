"""`manage.py demo --chinese` needs a built-in model that learnt Chinese (train_model --corpus);
the shipped English one, or none, is refused with the command that trains one.
tests/integration/test_chinese_builtin_model.py runs the Chinese demo brief end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from aigc_platform.demo import chinese_model_missing


def test_the_chinese_demo_refuses_the_english_model_or_none(tiny_model_dir: Path,
                                                             tmp_path: Path) -> None:
    # the tests' tiny model learnt from the Jargon File, as the shipped one does
    assert "the one there learnt English from the Jargon File" in chinese_model_missing(
        tiny_model_dir)
    missing = chinese_model_missing(tmp_path / "builtin")
    assert f"there is none in {tmp_path / 'builtin'}" in missing
    assert "train_model --force --corpus POEMS_FOLDER --corpus-licence" in missing


@pytest.mark.django_db
def test_demo_chinese_stops_before_training_or_starting_anything(settings, tmp_path: Path) -> None:
    # Given no built-in model at all
    settings.MODELS_DIR = tmp_path
    # When the Chinese demo is asked for, it refuses instead of training the English model
    with pytest.raises(CommandError, match="--chinese needs a built-in model trained on Chinese"):
        call_command("demo", "--chinese", "--once")
    assert not (tmp_path / "builtin").exists()
