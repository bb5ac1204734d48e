"""The built-in model learns Chinese from a corpus file or folder (`train_model --corpus`), and a
length target in characters gets enough new tokens."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from workers.evaluation.language import language, length
from workers.generation.builtin.corpus import text_corpus, text_documents
from workers.generation.requests import TOKENS_PER_UNIT, request_for_job

POEMS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus_zh" / "tang-quatrains"
LICENCE = "public domain (Tang dynasty poems)"


def test_a_fortune_file_gives_one_document_per_poem_without_colour_codes() -> None:
    documents = text_documents(POEMS)
    assert len(documents) == 40
    assert documents[0] == ("《登幽州台歌》\n作者：陈子昂\n前不见古人，后不见来者。\n"
                            "念天地之悠悠，独怆然而泪下。")
    assert documents[2] == "《夜思》\n作者：李白\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"
    assert not any("\x1b" in d or "%" in d for d in documents)
    split = text_corpus(POEMS, source="forty Tang poems", licence=LICENCE)
    assert split.heldout == [documents[19], documents[39]]
    assert (split.source, split.licence, split.model_name, len(split.train)) == (
        "forty Tang poems", LICENCE, "Built-in model", 38)


def test_a_folder_reads_its_text_files_in_order_and_leaves_binary_ones_out(tmp_path: Path) -> None:
    (tmp_path / "b-essay.txt").write_text("第一段。\n\n第二段，\n还是第二段。\n\n\n", encoding="utf-8")
    (tmp_path / "a-notes.txt.gz").write_bytes(gzip.compress(b"Plain notes.\r\n"))
    (tmp_path / "b-essay.dat").write_bytes(b"\x00\x00\x00\x02\x00\x00")  # fortune's index
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / ".hidden").write_text("not this")
    assert text_documents(tmp_path) == ["Plain notes.", "第一段。", "第二段，\n还是第二段。"]
    with pytest.raises(ValueError, match="latin1.txt is not UTF-8 text"):
        text_documents(tmp_path / "latin1.txt")
    with pytest.raises(ValueError, match="b-essay.dat is not UTF-8 text"):
        text_documents(tmp_path / "b-essay.dat")


def test_the_command_trains_the_built_in_model_on_chinese_poems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from transformers import AutoTokenizer

    # When the built-in model is trained on the poems, with their licence
    call_command("train_model", "--steps", "2", "--output", str(tmp_path / "zh"),
                 "--corpus", str(POEMS), "--corpus-licence", LICENCE,
                 "--corpus-source", "forty poems of 唐诗三百首")
    report = json.loads(capsys.readouterr().out)
    # Then the report and the model card name the corpus and its licence
    assert (report["steps"], report["corpus_source"], report["corpus_licence"]) == (
        2, "forty poems of 唐诗三百首", LICENCE)
    card = (tmp_path / "zh" / "README.md").read_text()
    assert card.startswith("# Built-in model (revision ")
    assert f"- Licence: {LICENCE}." in card
    # And its tokenizer learnt Chinese: a poem costs well under the 3 tokens a character of
    # bytes alone, within the budget a character target gets
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "zh", local_files_only=True)
    poems = "".join(text_documents(POEMS))
    per_character = len(tokenizer(poems)["input_ids"]) / length(poems, language("zh"))
    assert per_character < TOKENS_PER_UNIT["characters"] < 3


def test_the_command_refuses_a_corpus_without_licence_or_text(tmp_path: Path) -> None:
    out = str(tmp_path / "m")
    with pytest.raises(CommandError, match="--corpus needs --corpus-licence"):
        call_command("train_model", "--output", out, "--corpus", str(POEMS))
    with pytest.raises(CommandError, match="No corpus file or folder at"):
        call_command("train_model", "--output", out, "--corpus", str(tmp_path / "nowhere"),
                     "--corpus-licence", LICENCE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="empty holds no UTF-8 text to train on"):
        call_command("train_model", "--output", out, "--corpus", str(tmp_path / "empty"),
                     "--corpus-licence", LICENCE)
    (tmp_path / "short.txt").write_text("春眠不觉晓。", encoding="utf-8")
    with pytest.raises(CommandError, match="Too little text to train on"):
        call_command("train_model", "--output", out, "--steps", "1", "--corpus",
                     str(tmp_path / "short.txt"), "--corpus-licence", LICENCE)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(("tag", "target", "max_new", "min_new"), [
    ("en", 100, 150, 75),  # 1.5 tokens a word
    ("zh-CN", 400, 800, 400),  # 2 tokens a character
    ("ja", 100, 200, 100),
    ("ko", 100, 150, 75),  # Korean targets are words
    ("zh", 800, 1600, 800),  # the Chinese news preset's 800 characters fit
    ("zh", 5000, 2048, 1024),  # the ceiling: ~1,000 characters
    ("en", 5000, 1024, 512),  # ~680 words
])
def test_the_new_token_budget_follows_the_length_targets_unit(
    tag: str, target: int, max_new: int, min_new: int
) -> None:
    request = request_for_job(job_id=7, prompt="写", variants=1, target_words=target,
                              backend="builtin", language_tag=tag)
    assert (request.max_new_tokens, request.min_new_tokens) == (max_new, min_new)


def test_a_profiles_max_new_tokens_wins_over_the_fitted_one() -> None:
    request = request_for_job(job_id=7, prompt="写", variants=1, target_words=400,
                              backend="builtin", language_tag="zh",
                              parameters={"max_new_tokens": 300})
    assert (request.max_new_tokens, request.min_new_tokens) == (300, 150)
