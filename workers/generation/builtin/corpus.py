"""The built-in model's training text: the Jargon File 4.4.7, public domain.

The file in `corpus/` is byte-identical to `jargon.txt.gz` from Debian's
`jargon-text` package, so its provenance can be checked with `sha256sum`.
Parsing keeps its running prose (introduction, definitions, folklore) as one
document per entry or section, and drops what would teach the model layout
rather than English: the table of contents, pronunciation lines, tables and
ASCII art.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "jargon-4.4.7.txt.gz"
CORPUS_SOURCE = "The Jargon File, version 4.4.7 (Eric S. Raymond, ed.), via Debian's jargon-text"
CORPUS_LICENCE = "public domain (\"to be freely used, shared, and modified\")"

_ENTRY = re.compile(r"^   :(?P<head>[^:]+(?::[^:\s][^:]*)*):")  # "   :goat file: n." starts an entry
_SECTION = re.compile(r"^(Chapter \d+\.|Appendix [A-Z]\.|[A-Z][A-Za-z' -]+$)")
_CROSS_REF = re.compile(r"\{+([^{}]+)\}+")  # "{kluge}" marks a cross-reference
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "\u00a0": " "})
_MIN_WORDS = 6
_MIN_LETTER_SHARE = 0.7
_SENTENCE_ENDS = (".", "!", "?", '"', "'", ")", "]", ":", ";")  # not a heading or a table row


@dataclass(frozen=True)
class CorpusSplit:
    train: list[str]
    heldout: list[str]
    # What the model card says the text is: the Jargon File, or a workspace's dataset version.
    source: str = CORPUS_SOURCE
    licence: str = CORPUS_LICENCE

    @property
    def chars(self) -> int:
        return sum(map(len, self.train)) + sum(map(len, self.heldout))


def _is_prose(paragraph: str) -> bool:
    if len(paragraph.split()) < _MIN_WORDS or not paragraph.endswith(_SENTENCE_ENDS):
        return False
    letters = sum(c.isalpha() or c.isspace() for c in paragraph)
    return letters / len(paragraph) >= _MIN_LETTER_SHARE


def corpus_documents(path: Path = DEFAULT_CORPUS) -> list[str]:
    """The corpus as plain-prose documents, in file order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().translate(_QUOTES).splitlines()
    documents: list[str] = []
    title, paragraphs, current = "", [], []

    def end_paragraph() -> None:
        text = " ".join(" ".join(current).split())
        current.clear()
        if _is_prose(text):
            paragraphs.append(_CROSS_REF.sub(r"\1", text))

    def end_document(new_title: str) -> None:
        nonlocal title
        end_paragraph()
        if paragraphs:
            body = "\n\n".join(paragraphs)
            documents.append(f"{title}\n\n{body}" if title else body)
        paragraphs.clear()
        title = new_title

    for line in lines:
        entry = _ENTRY.match(line)
        if entry:
            end_document(entry.group("head").strip())
        elif _SECTION.match(line):
            end_document(line.strip())
        elif line.strip():
            current.append(line.strip())
        else:
            end_paragraph()
    end_document("")
    return documents


def corpus_split(documents: list[str], heldout_every: int = 20) -> CorpusSplit:
    """Every `heldout_every`-th document is held out: a fixed, spread-out 5% sample."""
    heldout = documents[heldout_every - 1 :: heldout_every]
    train = [d for i, d in enumerate(documents) if (i + 1) % heldout_every]
    return CorpusSplit(train=train, heldout=heldout)
