"""The language-aware text layer and every metric on Chinese (and Japanese, Korean, English) text.

The Chinese texts are written for these tests; expected values are counted by hand
from the jieba segmentation each test states first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sacrebleu

from apps.publishing.formatting import slug
from apps.reviews.diff import DiffPiece, word_diff
from workers.evaluation import (
    checks,
    diversity,
    embeddings,
    language,
    lexical,
    metrics,
    novelty,
    references,
)
from workers.evaluation.grounding import content_stems
from workers.evaluation.scorer import score_drafts, vector_space
from workers.evaluation.types import ScoringInput

ZH = language.language("zh-CN")
JA = language.language("ja")
KO = language.language("ko")
EN = language.language("en")

COMPOST_ZH = ("堆肥可以减少厨余垃圾，还能改善土壤。在家里做堆肥并不难，只需要一个有盖的桶和一些"
              "干树叶。每周翻动一次，三个月后就能得到肥沃的堆肥！")
HOUSING_ZH = ("今年秋天，本市的房价继续小幅下跌。不少购房者选择观望，开发商则推出各种优惠活动吸引"
              "客户。业内人士认为，明年市场有望逐步回暖，但利率变化仍是最大的不确定因素。")
COMPOST_BRIEF_ZH = "在家堆肥入门\n如何用厨余垃圾在家里做堆肥\n堆肥, 厨余垃圾"


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return embeddings.packaged_model_dir()


def test_language_tags_and_their_units() -> None:
    assert language.language("zh-Hans-CN") == language.Language(code="zh", unit="characters")
    assert language.language("ja_JP").unit == "characters"
    assert language.language("ko").unit == "words"
    assert language.language("pt-BR") == language.Language(code="pt", unit="words")
    assert language.language("") == language.Language(code="en", unit="words")
    assert language.length_unit("zh") == "characters" and language.length_unit("en") == "words"


def test_chinese_is_segmented_into_words_by_jieba() -> None:
    assert language.tokens("我们喜欢学习中文。", ZH) == ["我们", "喜欢", "学习", "中文"]
    assert language.tokens("人工智能正在改变教育，我们使用AI技术", ZH) == [
        "人工智能", "正在", "改变", "教育", "我们", "使用", "AI", "技术"]
    # the same Han text in a Japanese brief is read character by character
    assert language.tokens("日本語のテキスト。AIを使う", JA) == [
        "日", "本", "語", "の", "テ", "キ", "ス", "ト", "AI", "を", "使", "う"]
    # Korean words keep their particles; spaces separate them
    assert language.tokens("서울에서 만나요. 좋아요!", KO) == ["서울에서", "만나요", "좋아요"]
    assert language.tokens("Don't panic -- it's only 42 words… really!", EN) == [
        "Don't", "panic", "it's", "only", "42", "words", "really"]


def test_lengths_count_characters_in_chinese_and_japanese_and_words_elsewhere() -> None:
    # 人工智能正在改变教育 (10) + 我们使用 (4) + AI (1, a Latin word) + 技术 (2); punctuation not counted
    assert language.length("人工智能正在改变教育。我们使用AI技术！", ZH) == 17
    assert language.length("日本語のテキストです。", JA) == 10
    assert language.length("서울에서 만나요. 좋아요!", KO) == 3
    assert language.length("The cat sat on the mat.", EN) == 6
    # Han quoted in an English text counts character by character (17), never as 1 clause;
    # jieba finds 8 words in it
    assert language.length("人工智能正在改变教育，我们使用AI技术", EN) == 17
    assert len(language.tokens("人工智能正在改变教育，我们使用AI技术", ZH)) == 8


def test_sentences_end_at_cjk_marks_and_at_latin_marks_before_a_capital() -> None:
    assert language.sentences("人工智能正在改变教育。我们使用AI技术，提高效率！他说：“好！”然后走了") == [
        "人工智能正在改变教育。", "我们使用AI技术，提高效率！", "他说：“好！”", "然后走了"]
    assert language.sentence_count("こんにちは。元気ですか？") == 2
    assert language.sentences("One. Two? Three! And a fourth without an end") == [
        "One.", "Two?", "Three!", "And a fourth without an end"]
    assert language.sentence_count("   ") == 0


def test_terms_match_inside_chinese_text_and_as_whole_words_in_latin_text() -> None:
    text = "我们使用AI技术提高学习效率，厨余垃圾可以做堆肥。Our cabin has a bin."
    assert language.terms_found(text, ["人工智能", "AI", "学习效率", "堆肥 ", "堆肥", "bin", "cab"]) == [
        "AI", "学习效率", "堆肥", "bin"]
    assert language.coverage(text, ["厨余垃圾", "土壤"]) == 0.5
    assert language.terms_missing(text, ["厨余垃圾", "土壤"]) == ["土壤"]
    assert language.terms_found("서울에서 만나요", ["서울"]) == ["서울"]
    assert language.terms_found("gain", ["AI"]) == []  # a Latin term never matches inside a word


def test_rouge_bleu_and_chrf_in_chinese() -> None:
    # Given jieba's words: 我们 喜欢 学习 中文 / 他们 喜欢 学习 英文
    draft, reference = "我们喜欢学习中文。", "他们喜欢学习英文。"
    # Then ROUGE-1: 2 shared of 4 and 4 -> 0.5; ROUGE-2: 1 shared bigram of 3 -> 1/3; LCS 2 -> 0.5
    assert references.rouge(draft, [reference], ZH) == {
        "rouge1": 0.5, "rouge2": pytest.approx(1 / 3), "rougeL": 0.5}
    # And BLEU with the zh tokenizer counts characters: 9 tokens each (8 Han and 。); matches
    # 7/9 unigrams, 5/8 bigrams, 3/7 trigrams, 2/6 4-grams, brevity penalty 1
    expected = 100 * (7 / 9 * 5 / 8 * 3 / 7 * 2 / 6) ** 0.25
    assert references.bleu(draft, [reference], ZH) == pytest.approx(expected)
    assert references.bleu(draft, [reference], ZH) == pytest.approx(
        sacrebleu.sentence_bleu(draft, [reference], tokenize="zh").score)
    # And a draft identical to its reference scores 1.0 / 100 everywhere
    assert references.reference_overlap(COMPOST_ZH, [COMPOST_ZH], ZH) == {
        "rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0, "bleu": pytest.approx(100.0),
        "chrf": pytest.approx(100.0)}
    # And an unrelated Chinese text shares no word bigram
    assert references.rouge(HOUSING_ZH, [COMPOST_ZH], ZH)["rouge2"] == 0.0


def test_readability_only_where_a_formula_exists() -> None:
    assert metrics.readability(COMPOST_ZH, ZH) == (None, None)
    assert metrics.readability("こんにちは。", JA) == (None, None)
    # 6 words, 1 sentence, 6 syllables: 206.835 - 1.015 * 6 - 84.6 * 1 and 0.39 * 6 + 11.8 - 15.59
    assert metrics.readability("The cat sat on the mat.", EN) == (
        pytest.approx(116.145), pytest.approx(-1.45))
    # German (Amstad): 180 - 4 words/sentence - 58.5 * 5/4 syllables (Die Kat-ze ist klein)
    assert metrics.readability("Die Katze ist klein.", language.language("de")) == (
        pytest.approx(180 - 4 - 58.5 * 5 / 4), None)


def test_diversity_grounding_and_shingles_use_chinese_words() -> None:
    first, second = "我们喜欢学习中文。", "他们喜欢学习英文。"
    # 8 words, 6 distinct; 6 bigrams, 5 distinct (喜欢 学习 twice)
    assert diversity.distinct_n([first, second], 1, ZH) == 0.75
    assert diversity.distinct_n([first, second], 2, ZH) == pytest.approx(5 / 6)
    assert diversity.self_bleu([first, second], ZH) == pytest.approx(
        100 * (7 / 9 * 5 / 8 * 3 / 7 * 2 / 6) ** 0.25)
    # 4 words: one shingle of all of them
    assert novelty.shingles(first, ZH) == {"我们 喜欢 学习 中文"}
    assert novelty.jaccard_estimate(novelty.signature(COMPOST_ZH, ZH),
                                    novelty.signature(COMPOST_ZH, ZH)) == 1.0
    assert novelty.jaccard_estimate(novelty.signature(COMPOST_ZH, ZH),
                                    novelty.signature(HOUSING_ZH, ZH)) < 0.1
    # function words (的, 了, 是) carry no fact
    assert content_stems("我们的堆肥是肥沃的", ZH) == {"堆肥", "肥沃"}


def test_length_fit_counts_chinese_characters(model_dir: Path) -> None:
    # Given a Chinese draft of 59 characters (10+6, 9+15, 6+13; punctuation not counted)
    item = ScoringInput(draft_id=1, brief_text=COMPOST_BRIEF_ZH, draft_text=COMPOST_ZH,
                        target_length=70, keywords=("堆肥", "厨余垃圾", "土壤", "花园"),
                        banned_terms=("保证",), language="zh-CN",
                        reference_texts=(COMPOST_ZH,))
    # When it is scored
    (result,) = score_drafts([item], model_dir)
    values = result.metrics
    # Then its length is in characters, and the keywords are found inside the text
    assert (values["length"], values["length_unit"], values["target_length"]) == (
        59, "characters", 70)
    assert result.length_fit == metrics.length_fit(59, 70)
    assert values["keyword_coverage"] == 0.75 and values["keywords_missing"] == ["花园"]
    assert values["banned_terms_found"] == []
    assert values["sentence_count"] == 3
    assert (values["reading_ease"], values["reading_grade"]) == (None, None)
    assert values["rouge1"] == 1.0 and values["language"] == "zh"
    # And relevance comes from the lexical fallback, labelled as such (MiniLM is English-only)
    assert result.embedding_model == values["relevance_method"] == lexical.NAME
    assert values["wrong_language"] == [] and values["real_word_share"] == 1.0


def test_the_lexical_fallback_separates_on_and_off_topic_chinese(model_dir: Path) -> None:
    # Given a Chinese brief, an on-topic draft and an off-topic one
    inputs = [ScoringInput(draft_id=i, brief_text=COMPOST_BRIEF_ZH, draft_text=text,
                           target_length=70, language="zh", job_id=1)
              for i, text in enumerate((COMPOST_ZH, HOUSING_ZH), 1)]
    # When they are scored
    on, off = score_drafts(inputs, model_dir)
    # Then the on-topic draft passes the default gate's 0.3 minimum and the other does not
    assert on.relevance > 0.3 > 0.1 > off.relevance
    # And the English model stays in use for English briefs
    assert vector_space(model_dir, "en-GB") == "sentence-transformers/all-MiniLM-L6-v2"
    assert vector_space(model_dir, "zh") == lexical.NAME


def test_a_model_card_names_the_languages_a_model_covers(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text("---\nlanguage:\n- en\n- zh\nlicense: apache-2.0\n---\n# model\n")
    assert embeddings.model_languages(str(tmp_path)) == {"en", "zh"}
    assert embeddings.model_covers(tmp_path, "zh") and not embeddings.model_covers(tmp_path, "ja")
    multilingual = tmp_path / "multi"
    multilingual.mkdir()
    (multilingual / "README.md").write_text("---\nlanguage: multilingual\n---\n")
    assert embeddings.model_covers(multilingual, "ko")
    assert embeddings.model_covers(tmp_path / "no-card", "zh")  # no card: trusted with all


def test_wrong_language_and_checks_in_chinese() -> None:
    english = ("Composting at home is easy. All you need is a bin with a lid and some dry "
               "leaves. Turn it weekly.")
    assert checks.wrong_language(checks.detected_language(english), english, ZH) == ["English"]
    assert checks.wrong_language(checks.detected_language(COMPOST_ZH), COMPOST_ZH, ZH) == []
    assert checks.wrong_language(checks.detected_language("短"), "短", ZH) == []  # too short
    assert checks.wrong_language(checks.detected_language(COMPOST_ZH), COMPOST_ZH, EN) == [
        "Chinese"]
    # lingua names a language for invented words too (a tiny model's babble as German); the
    # German word list does not confirm it, so it is the not-language rule's to catch
    babble = ("cenn m h og,ald m todouroPecg ofl w.ersvw brohier wariIerantdat m.leic cB "
              "toomin toargLion.vg,ersv cCutleG?s for thexl aTh sf")
    assert checks.detected_language(babble) == ("de", "German")
    assert checks.wrong_language(checks.detected_language(babble), babble, EN) == []
    assert checks.real_word_share(babble, EN) < checks.REAL_WORD_SHARE_MIN
    assert checks.truncated("堆肥可以减少厨余垃圾，还能改善") == ["…堆肥可以减少厨余垃圾，还能改善"]
    assert checks.truncated(COMPOST_ZH) == []
    loop = language.tokens("好的好的好的好的我们走吧", ZH)
    assert checks.loops(loop) == ["好的"]


def test_the_revision_diff_and_slugs_use_chinese_words() -> None:
    assert word_diff("人工智能正在改变教育。", "人工智能正在深刻改变教育。", language="zh") == [
        DiffPiece("same", "人工智能正在"), DiffPiece("added", "深刻"),
        DiffPiece("same", "改变教育。")]
    assert word_diff("日本語です。", "日本語でした。", language="ja") == [
        DiffPiece("same", "日本語で"), DiffPiece("removed", "す"), DiffPiece("added", "した"),
        DiffPiece("same", "。")]
    assert slug("人工智能如何改变课堂教学", language_tag="zh", max_length=60) == (
        "人工智能-如何-改变-课堂教学")
    # WordPress stores a non-ASCII slug %-encoded; whole words are kept within the limit
    assert slug("人工智能如何改变课堂教学", language_tag="zh", max_length=60,
                percent_encoded=True) == "%e4%ba%ba%e5%b7%a5%e6%99%ba%e8%83%bd-%e5%a6%82%e4%bd%95"
    assert slug("Composting at home", language_tag="en", max_length=60) == "composting-at-home"
