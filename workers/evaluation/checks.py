"""Checks that catch text no editor would publish: wrong language, not language, cut off,
looping, leftover list markers.

Each returns a list of what it found (empty: nothing), so a gate rule `max: 0` fails on
it and the reason names what was found. Small models write all of these: the built-in
model's invented words ("a hackerism of the frobnicated kludgeware") read as English
at a glance but are not words, and sampling stops at a token budget mid-sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from workers.evaluation.language import CJK, HAN, Language, has_ideographs, sentences, tokens
from workers.evaluation.language import language as language_of

# lingua guesses a language from a few words; below this many letters it guesses wrong
# too often to fail a draft on it (its docs quote ~60 % accuracy on single words).
DETECTION_MIN_LETTERS = 40
# wordfreq needs MeCab for Japanese and Korean segmentation, which is not installed.
WORD_LIST_EXCLUDED = frozenset({"ja", "ko"})
# Function words ("the", "of", "is"; 的, 是) are real in any babble, so the share counts only
# words below Zipf 5.5 (rarer than ~3 per 10,000 words: every word but the ~100 most common).
# On the bundled fixtures (tests/fixtures/gate) that share is 0.43-0.86 for the built-in
# model's drafts and 0.92-1.00 for human prose, so the default gate's minimum is 0.89.
COMMON_ZIPF = 5.5
REAL_WORD_SHARE_MIN = 0.89
# a phrase of up to LOOP_MAX_WORDS words repeated back to back LOOP_MIN_REPEATS times is a loop;
# a single word needs one more repeat ("very, very, very good" is prose)
LOOP_MAX_WORDS = 8
LOOP_MIN_REPEATS = 3
_FINAL_MARKS = ".!?。！？…\"'”’」』)）]*_`~:;：；"
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•·▪]|\d{1,3}[.)、]|[(（]\d{1,3}[)）])(?=\s|$)")
_EMPTY_ITEM = re.compile(r"^\s*(?:[-*+•·▪]|\d{1,3}[.)、]|[(（]\d{1,3}[)）])\s*$")
_TRAILING_MARKER = re.compile(r"[^\W\d_][.!?。！？]?\s+(\d{1,3}[.)]|[-*+•])\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")


@cache
def _detector() -> Any:
    from lingua import LanguageDetectorBuilder

    # Low accuracy mode reads trigrams only: ~225 MB and 0.3 s to build for all 75 languages
    # instead of gigabytes; a draft's hundreds of letters leave it little to miss.
    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


@cache
def _lingua_codes() -> frozenset[str]:
    from lingua import Language as LinguaLanguage

    return frozenset(lang.iso_code_639_1.name.lower() for lang in LinguaLanguage.all())


def detected_language(text: str) -> tuple[str, str] | None:
    """(ISO 639-1 code, English name) of the text's language by lingua; None when unsure."""
    if len(_LETTER.findall(text)) < DETECTION_MIN_LETTERS:
        return None
    found = _detector().detect_language_of(text)
    if found is None:
        return None
    return found.iso_code_639_1.name.lower(), found.name.capitalize()


def wrong_language(detected: tuple[str, str] | None, text: str, lang: Language
                   ) -> list[str] | None:
    """[the detected language's name] when the text is written in another language than the
    brief's; None when lingua does not know the brief's language.

    lingua names some language for any string, invented words included (a small model's
    babble comes out as Yoruba or Swedish), so another language counts only once its own
    word list confirms it (REAL_WORD_SHARE_MIN of the content words are real there), or,
    for Japanese and Korean, which have no list here, by their own scripts. Babble is the
    not-language rule's to catch.
    """
    if lang.code not in _lingua_codes():
        return None
    if detected is None or detected[0] == lang.code:
        return []
    code, name = detected
    if code in WORD_LIST_EXCLUDED:
        return [name]
    share = real_word_share(text, language_of(code))
    return [name] if share is not None and share >= REAL_WORD_SHARE_MIN else []


@cache
def _word_lists() -> frozenset[str]:
    import wordfreq

    return frozenset(wordfreq.available_languages()) - WORD_LIST_EXCLUDED


def _frequency(word: str, code: str) -> float:
    """The word's Zipf frequency in the language, or in English for a Latin word inside text
    of another language (AI, email)."""
    from wordfreq import zipf_frequency

    found = zipf_frequency(word, code)
    if found == 0 and code != "en" and not has_ideographs(word):
        return zipf_frequency(word, "en")
    return found


def real_word_share(text: str, lang: Language) -> float | None:
    """Share of the text's content words found in wordfreq's list for the language.

    Content words: lower-cased tokens of three letters or more (or Han or kana), without a
    digit, rarer than COMMON_ZIPF.
    Chinese words are jieba's segments checked against wordfreq's Chinese list (which jieba
    also segmented); a run jieba leaves as single characters still counts, as each
    character is in the list, so this catches invented Latin-script words, not random Han
    characters. None for a text without content words or a language wordfreq has no list for.
    """
    if lang.code not in _word_lists():
        return None
    # one or two Latin letters ("s", "th", "fk") are a word or an abbreviation in most lists,
    # invented text or not
    words = [t.lower() for t in tokens(text, lang)
             if _LETTER.search(t) and not _DIGIT.search(t) and (len(t) > 2 or has_ideographs(t))]
    frequencies = [_frequency(w, lang.code) for w in words]
    content = [f for f in frequencies if f < COMMON_ZIPF]
    if not content:
        return None
    return sum(f > 0 for f in content) / len(content)


def truncated(text: str) -> list[str]:
    """[the last words] when the text stops mid-sentence: its last line is prose (not a list
    item or heading) ending without a sentence mark."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return []
    last = lines[-1].strip()
    if _LIST_ITEM.match(last) or _HEADING.match(last) or last[-1] in _FINAL_MARKS:
        return []
    found = sentences(last)
    if not found:
        return []
    # the unfinished sentence, its last 8 words (or 30 characters of CJK text) at most
    tail = found[-1][-30:] if re.search(f"[{CJK}]", found[-1]) else " ".join(found[-1].split()[-8:])
    return [f"…{tail}"]


def loops(words: Sequence[str]) -> list[str]:
    """Phrases repeated back to back (LOOP_MIN_REPEATS times; one word, once more), once each."""
    lowered = [w.lower() for w in words]
    found: dict[str, None] = {}
    for size in range(1, LOOP_MAX_WORDS + 1):
        needed = LOOP_MIN_REPEATS + (1 if size == 1 else 0)
        start = 0
        while start + size * needed <= len(lowered):
            phrase = lowered[start:start + size]
            repeats = 1
            while lowered[start + repeats * size:start + (repeats + 1) * size] == phrase:
                repeats += 1
            if repeats >= needed:
                joiner = "" if all(re.fullmatch(f"[{HAN}]+", w) for w in phrase) else " "
                found.setdefault(joiner.join(words[start:start + size]))
                start += repeats * size
            else:
                start += 1
    return list(found)


def list_markers(text: str) -> list[str]:
    """List markers left without an item: a line of only a marker, or one ending the text."""
    found = [line.strip() for line in text.splitlines() if _EMPTY_ITEM.match(line)]
    trailing = _TRAILING_MARKER.search(text.rstrip())
    if trailing and not _EMPTY_ITEM.match(text.rstrip().splitlines()[-1]):
        found.append(trailing.group(1))
    return found


def unreadable(text: str) -> list[str]:
    """Where the text holds U+FFFD, bytes a byte-level model wrote that decode to no
    character (a Chinese draft cut mid-character, or a broken sequence): the text before
    each, up to five places. It never belongs in a draft, but an editor can mend it."""
    return [f"…{text[max(0, m.start() - 12):m.end()]}" for m in re.finditer("\ufffd", text)][:5]


def checks(text: str, lang: Language, words: Sequence[str]) -> dict[str, Any]:
    """Every check's finding, by metric name; `words` are the text's tokens."""
    detected = detected_language(text)
    return {
        "detected_language": detected[0] if detected else None,
        "wrong_language": wrong_language(detected, text, lang),
        "real_word_share": real_word_share(text, lang),
        "truncated": truncated(text),
        "loops": loops(words),
        "list_markers": list_markers(text),
        "unreadable": unreadable(text),
    }
