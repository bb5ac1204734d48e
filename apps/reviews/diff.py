"""Word-level differences between the model's text and a reviewer's revision."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from workers.evaluation.language import language as language_of
from workers.evaluation.language import pieces as word_pieces


@dataclass(frozen=True)
class DiffPiece:
    op: str  # "same", "added" or "removed"
    text: str


def word_diff(before: str, after: str, *, language: str) -> list[DiffPiece]:
    """The pieces turning `before` into `after`, word by word in the brief's `language` (Chinese
    by jieba's words, not by spaces it does not write), adjacent pieces of one kind merged."""
    lang = language_of(language)
    old, new = word_pieces(before, lang), word_pieces(after, lang)
    # Compare words without their trailing whitespace: a rewrapped line is no edit.
    matcher = SequenceMatcher(a=[w.strip() for w in old], b=[w.strip() for w in new],
                              autojunk=False)
    pieces: list[DiffPiece] = []

    def add(op: str, words: list[str]) -> None:
        if not words:
            return
        if pieces and pieces[-1].op == op:
            pieces[-1] = DiffPiece(op, pieces[-1].text + "".join(words))
        else:
            pieces.append(DiffPiece(op, "".join(words)))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("same", new[j1:j2])
        else:
            add("removed", old[i1:i2])
            add("added", new[j1:j2])
    return pieces
