"""Language-aware text handling every metric, the revision diff, slugs and length targets share.

A brief's language tag ("en", "zh-CN", "pt-BR") decides four things:

- segmentation: Chinese runs of Han characters are cut into words by jieba (its
  bundled dictionary, no download); Japanese Han and kana count character by
  character; Korean, like every space-delimited language, keeps its spaces as word
  boundaries (a Korean word carries its particles: "서울에서" is one word);
- the counting unit of a length target: characters (字) for Chinese and Japanese,
  words elsewhere. A character count counts each Han or kana character once and each
  run of Latin letters or digits inside it as one (the convention of word
  processors' 字数), punctuation not counted;
- sentence ends: . ! ? before a space and a capital or digit, and 。！？ anywhere;
- term matching: a keyword or banned term matches inside CJK text, where no space
  separates words, and as a whole word among Latin letters.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

WORDS = "words"
CHARACTERS = "characters"
UNITS = (WORDS, CHARACTERS)

# Unicode blocks: CJK ideographs (with extensions A-G and compatibility ones, 〇 and 々),
# kana (with half-width katakana and the prolonged sound mark), Hangul syllables and jamo.
HAN = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
CJK = HAN + KANA + HANGUL
# a word of a space-delimited script: letters or digits, inner apostrophes kept ("don't")
_LETTERS = rf"[^\W{CJK}]+"
_TOKEN = re.compile(rf"(?P<ideographic>[{HAN}{KANA}]+)|(?P<hangul>[{HANGUL}]+)"
                    rf"|(?P<word>{_LETTERS}(?:['\u2019]{_LETTERS})*)")
_IDEOGRAPHIC_CHAR = re.compile(f"[{HAN}{KANA}]")
# Sentence ends. A full stop also ends abbreviations ("Dr. Smith"), so . ! ? end a sentence
# only before a space and a capital, a digit or an opening quote, or at a line's end; the
# full-width marks never end an abbreviation and need no space after them.
_LATIN_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[^\W_a-z]|\s*$)")
_CJK_END = re.compile(r"(?:[。！？]|[!?…]+(?=[\s\"'\u201d\u2019\u300d\u300f）)]*"
                      rf"[{CJK}]))+[\"'\u201d\u2019\u300d\u300f）)\]]*")
_LETTER = re.compile(r"[^\W\d_]")

_jieba_lock = threading.Lock()


@dataclass(frozen=True)
class Language:
    """What the text layer needs of a language tag."""

    code: str  # the primary subtag, lower-case: "zh" for "zh-Hans-CN"
    unit: str  # WORDS or CHARACTERS: how a length target is counted

    @property
    def segmented_by_jieba(self) -> bool:
        return self.code == "zh"


# Characters are what Chinese and Japanese editors count (字数, 文字数).
_CHARACTER_LANGUAGES = frozenset({"zh", "ja"})


def language(tag: str) -> Language:
    """The Language of a BCP 47 tag ("zh-CN", "pt_BR", "EN"); an empty tag is English."""
    code = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0] or "en"
    return Language(code=code, unit=CHARACTERS if code in _CHARACTER_LANGUAGES else WORDS)


def length_unit(tag: str) -> str:
    """"characters" or "words": the unit a brief's target length is counted in."""
    return language(tag).unit


@cache
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO on every start
    jieba.initialize()
    return jieba


def _chinese_words(run: str) -> list[str]:
    with _jieba_lock:  # jieba's tokenizer caches routes in shared dicts
        words: list[str] = _jieba().lcut(run, HMM=True)
        return words


def runs(text: str) -> Iterator[tuple[str, bool]]:
    """(run, ideographic) for each run of Han and kana, or word of another script, in order."""
    for match in _TOKEN.finditer(text):
        yield match.group(), match.lastgroup == "ideographic"


def tokens(text: str, lang: Language) -> list[str]:
    """The words of the text, punctuation and spaces dropped, spelling kept.

    Chinese Han runs are segmented by jieba, other Han and kana runs split into
    characters (Japanese, or CJK quoted in a space-delimited language), Hangul and
    every other script split at spaces and punctuation.
    """
    found: list[str] = []
    for run, ideographic in runs(text):
        if not ideographic:
            found.append(run)
        elif lang.segmented_by_jieba:
            found.extend(_chinese_words(run))
        else:
            found.extend(run)
    return found


# a chunk of the text and the whitespace after it: joined, the chunks restore the text exactly
_CHUNK = re.compile(r"\S+\s*|\s+")
_IDEOGRAPHIC_OR_NOT = re.compile(rf"[{HAN}{KANA}]+|[^{HAN}{KANA}]+")


def pieces(text: str, lang: Language) -> list[str]:
    """The text cut into words, each with the whitespace after it, for word-by-word diffs.

    Joined, the pieces are the text. Space-delimited text is cut at spaces; within a chunk
    holding Han or kana, each word (Chinese) or character (Japanese) is a piece, and so is
    each run of other characters between them ("AI", "，").
    """
    found: list[str] = []
    for chunk in _CHUNK.findall(text):
        if not has_ideographs(chunk):
            found.append(chunk)
            continue
        body = chunk.rstrip()
        for part in _IDEOGRAPHIC_OR_NOT.findall(body):
            if not has_ideographs(part):
                found.append(part)
            elif lang.segmented_by_jieba:
                found.extend(_chinese_words(part))
            else:
                found.extend(part)
        found[-1] += chunk[len(body):]
    return found


def length(text: str, lang: Language) -> int:
    """The text's length in its language's unit (see the module docstring)."""
    if lang.unit == WORDS:
        return len(tokens(text, lang))
    return sum(len(run) if ideographic else 1 for run, ideographic in runs(text))


def has_ideographs(text: str) -> bool:
    return _IDEOGRAPHIC_CHAR.search(text) is not None


def sentences(text: str) -> list[str]:
    """The text's sentences, stripped; lines break sentences, fragments without a letter dropped."""
    parts: list[str] = []
    for line in text.splitlines():
        cuts = sorted({m.end() for m in _LATIN_END.finditer(line)}
                      | {m.end() for m in _CJK_END.finditer(line)})
        start = 0
        for cut in [*cuts, len(line)]:
            parts.append(line[start:cut])
            start = cut
    return [part.strip() for part in parts if _LETTER.search(part)]


def sentence_count(text: str) -> int:
    return len(sentences(text))


def term_pattern(term: str) -> re.Pattern[str]:
    """A case-insensitive match of `term`, any run of spaces between its words.

    Where the term starts or ends with a letter of a space-delimited script, it must not
    continue a longer word ("bin" is not found in "cabin"); a CJK edge needs no boundary,
    since Chinese and Japanese write no spaces and Korean attaches particles to words.
    """
    parts = [re.escape(part) for part in term.split()]
    body = r"\s+".join(parts)
    before = rf"(?<![^\W{CJK}])" if re.match(_LETTERS, term.strip()) else ""
    after = rf"(?![^\W{CJK}])" if re.search(rf"{_LETTERS}$", term.strip()) else ""
    return re.compile(before + body + after, re.IGNORECASE)


def distinct_terms(terms: Sequence[str]) -> list[str]:
    """Non-blank terms, stripped, in order, the first spelling of each kept (case-insensitive)."""
    unique: dict[str, str] = {}
    for term in terms:
        unique.setdefault(term.strip().lower(), term.strip())
    unique.pop("", None)
    return list(unique.values())


def terms_found(text: str, terms: Sequence[str]) -> list[str]:
    """The distinct terms that occur in `text`, as spelled in `terms`."""
    return [term for term in distinct_terms(terms) if term_pattern(term).search(text)]


def terms_missing(text: str, terms: Sequence[str]) -> list[str]:
    return [term for term in distinct_terms(terms) if not term_pattern(term).search(text)]


def coverage(text: str, terms: Sequence[str]) -> float:
    """Share of the distinct terms found in `text`; 1.0 when there are none to find."""
    unique = distinct_terms(terms)
    if not unique:
        return 1.0
    return len(terms_found(text, unique)) / len(unique)
