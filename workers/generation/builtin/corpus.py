"""The built-in model's training text: the Jargon File 4.4.7, public domain, or a corpus
of the operator's choosing (`train_model --corpus`), such as Chinese poems.

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
from dataclasses import dataclass, replace
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
# fortune's data files (Debian's fortunes-zh among them) end each entry with a line "%" and
# colour titles with ANSI escapes
_FORTUNE_END = re.compile(r"^%[ \t]*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class CorpusSplit:
    train: list[str]
    heldout: list[str]
    # What the model card says the text is: the Jargon File, or a workspace's dataset version.
    source: str = CORPUS_SOURCE
    licence: str = CORPUS_LICENCE
    # What the model card calls the model: a dataset version's split (built by the datasets
    # app) trains a workspace's model; corpus_split's, the built-in one.
    model_name: str = "Workspace model"

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
    title = ""
    paragraphs: list[str] = []
    current: list[str] = []

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
    return CorpusSplit(train=train, heldout=heldout, model_name="Built-in model")


def text_documents(path: Path) -> list[str]:
    """The documents of a text corpus: a UTF-8 file (gzipped or not), or every such file of a
    folder in name order (others, like fortune's binary `.dat` indexes, left out).

    In a file with a line holding only "%" (fortune's format), each entry is a document;
    otherwise each blank-line-separated paragraph is. ANSI colour codes are dropped; line
    breaks within a document are kept, since a poem's lines are its form.
    Raises ValueError, naming the file, for a file that is not UTF-8 text.
    """
    if path.is_dir():
        documents = []
        for child in sorted(path.iterdir()):
            if child.is_file() and not child.name.startswith("."):
                try:
                    documents.extend(text_documents(child))
                except ValueError:
                    continue
        return documents
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = _ANSI.sub("", raw.decode("utf-8")).replace("\r\n", "\n")
    except (UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path.name} is not UTF-8 text.") from exc
    if "\x00" in text:  # valid UTF-8 but binary, like fortune's indexes
        raise ValueError(f"{path.name} is not UTF-8 text.")
    entries = _FORTUNE_END.split(text) if _FORTUNE_END.search(text) else _BLANK_LINE.split(text)
    return [cleaned for entry in entries
            if (cleaned := "\n".join(line.rstrip() for line in entry.strip().splitlines()))]


def text_corpus(path: Path, *, source: str, licence: str) -> CorpusSplit:
    """A text file or folder (see `text_documents`) as the built-in model's training text.

    Raises ValueError for a file that is not UTF-8 text, or a corpus with no text at all."""
    documents = text_documents(path)
    if not documents:
        raise ValueError(f"{path.name} holds no UTF-8 text to train on.")
    return replace(corpus_split(documents), source=source, licence=licence)
