"""The cleaning pipeline: raw documents in, a deduplicated, filtered, split corpus out.

Steps, in order, each counted in the stats:
1. HTML to text with BeautifulSoup (scripts, navigation, headers, footers and forms
   dropped; block elements end paragraphs), then Unicode NFKC, control and zero-width
   characters removed, whitespace collapsed line by line.
2. Boilerplate: a short line found in at least BOILERPLATE_MIN_DOCUMENTS documents and
   BOILERPLATE_MIN_SHARE of them (a site's footer, "Share this post") is removed everywhere.
3. Too short or too long documents dropped (characters, comparable across scripts).
4. Exact duplicates (case and whitespace folded) dropped, then documents whose language is
   not one asked for (lingua, as the gate's language check), then near-duplicates: the
   MinHash signatures the evaluation engine stores for published pieces, candidates found
   by banding (16 bands of 4 rows: a pair at Jaccard 0.8 shares a band with probability
   0.9998) and kept apart only below the threshold.
5. Optional PII scrubbing with the safety checks' own patterns (emails, phone and card
   numbers become [email], [phone], [card]).
6. A deterministic split: documents ordered by a seeded hash of their text, so the same
   corpus and seed give the same split whatever order the documents were imported in.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

from bs4 import BeautifulSoup

from workers.datasets.types import (
    HTML,
    SPLITS,
    CleanDocument,
    CleaningOptions,
    CleaningResult,
    RawDocument,
)
from workers.evaluation.checks import detected_language
from workers.evaluation.language import language, tokens
from workers.evaluation.novelty import PERMUTATIONS, jaccard_estimate, signature
from workers.evaluation.safety import EMAIL, card_numbers, phone_numbers

OnProgress = Callable[[int, int], None]  # (documents done, documents in all)

# Elements that hold no prose of the page itself.
_DROPPED_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                 "form", "iframe", "svg", "button", "select")
_BLOCK_TAGS = ("p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr",
               "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "figcaption")
_LOOKS_LIKE_HTML = re.compile(r"<(?:html|body|p|div|br|h[1-6]|article|section|ul|li|span|a)\b",
                              re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
BOILERPLATE_MAX_CHARS = 200  # longer lines are prose even when repeated (a quoted paragraph)
BOILERPLATE_MIN_DOCUMENTS = 3
BOILERPLATE_MIN_SHARE = 0.05
BANDS = 16
PROGRESS_EVERY = 50  # documents between progress reports
SAMPLES = 5
SAMPLE_CHARS = 2_000
# Length histogram bins, in characters of the cleaned text.
HISTOGRAM_EDGES = (0, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


def html_text(html: str) -> str:
    """The readable text of an HTML page or fragment, one paragraph per block element."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    return soup.get_text()


def normalise(text: str) -> str:
    """NFKC; control and format characters (zero-width spaces, BOMs) removed; spaces
    collapsed; at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def document_text(document: RawDocument) -> tuple[str, bool]:
    """(normalised text, whether it was HTML)."""
    is_html = document.format == HTML or bool(_LOOKS_LIKE_HTML.search(document.text))
    text = html_text(document.text) if is_html else document.text
    if document.title and document.title.strip() not in text[:500]:
        text = f"{document.title}\n\n{text}"
    return normalise(text), is_html


def _line_key(line: str) -> str:
    return line.casefold()


def boilerplate_lines(texts: Sequence[str]) -> set[str]:
    """The short lines (folded) repeated across enough documents to be a site's furniture."""
    seen: Counter[str] = Counter()
    for text in texts:
        seen.update({_line_key(line) for line in text.split("\n")
                     if line and len(line) <= BOILERPLATE_MAX_CHARS})
    least = max(BOILERPLATE_MIN_DOCUMENTS, math.ceil(BOILERPLATE_MIN_SHARE * len(texts)))
    return {line for line, count in seen.items() if count >= least}


def _without_lines(text: str, dropped: set[str]) -> tuple[str, int]:
    kept = [line for line in text.split("\n") if _line_key(line) not in dropped]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip(), text.count("\n") + 1 - len(kept)


def scrub_pii(text: str) -> tuple[str, dict[str, int]]:
    """The text with emails, card numbers and phone numbers replaced, and how many of each."""
    found = {"emails": 0, "card_numbers": 0, "phone_numbers": 0}
    for kind, values, mark in (("card_numbers", card_numbers(text), "[card]"),
                               ("phone_numbers", phone_numbers(text), "[phone]")):
        for value in sorted(set(values), key=len, reverse=True):
            found[kind] += text.count(value)
            text = text.replace(value, mark)
    text, found["emails"] = EMAIL.subn("[email]", text)
    return text, found


def _exact_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()


class NearDuplicates:
    """MinHash signatures of the documents kept so far, banded for candidate lookup."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._rows = PERMUTATIONS // BANDS
        self._buckets: dict[tuple[int, tuple[int, ...]], list[int]] = {}
        self._signatures: list[tuple[int, ...]] = []

    def seen(self, sig: tuple[int, ...]) -> bool:
        """Whether a kept document is a near-duplicate of `sig`; if not, `sig` is kept."""
        bands = [(b, sig[b * self._rows:(b + 1) * self._rows]) for b in range(BANDS)]
        candidates = {i for band in bands for i in self._buckets.get(band, ())}
        if any(jaccard_estimate(sig, self._signatures[i]) >= self.threshold for i in candidates):
            return True
        for band in bands:
            self._buckets.setdefault(band, []).append(len(self._signatures))
        self._signatures.append(sig)
        return False


def split_documents(documents: Sequence[CleanDocument], options: CleaningOptions
                    ) -> dict[str, list[CleanDocument]]:
    """Train, validation and test, by a seeded hash of each text: the same texts and seed
    give the same split in any order. A corpus of three or more documents puts at least
    one in each split whose share is above 0."""
    ordered = sorted(documents, key=lambda d: hashlib.sha256(
        f"{options.seed}\0{d.text}".encode()).hexdigest())
    n = len(ordered)

    def count(share: float) -> int:
        return max(round(n * share), 1 if n >= 3 and share > 0 else 0)

    test, validation = count(options.test_share), count(options.validation_share)
    return {"test": ordered[:test], "validation": ordered[test:test + validation],
            "train": ordered[test + validation:]}


def _histogram(lengths: Sequence[int]) -> list[dict[str, object]]:
    upper: list[int | None] = [*HISTOGRAM_EDGES[1:], None]
    bins = []
    for low, high in zip(HISTOGRAM_EDGES, upper, strict=True):
        label = f"{low}-{high - 1}" if high is not None else f"{low}+"
        bins.append({"range": label, "documents": sum(
            1 for n in lengths if n >= low and (high is None or n < high))})
    return bins


def clean(documents: Sequence[RawDocument], options: CleaningOptions | None = None,
          on_progress: OnProgress | None = None) -> CleaningResult:
    """Clean, filter, deduplicate and split `documents` (see the module's docstring)."""
    options = options or CleaningOptions()
    started = time.perf_counter()
    total = len(documents)
    report = on_progress or (lambda done, all_: None)
    texts, html_count = [], 0
    for i, document in enumerate(documents):
        text, was_html = document_text(document)
        texts.append(text)
        html_count += was_html
        if (i + 1) % PROGRESS_EVERY == 0:
            report((i + 1) // 2, total)  # parsing is about half the work
    furniture = boilerplate_lines(texts) if options.remove_boilerplate else set()
    dropped = dict.fromkeys(("empty", "too_short", "too_long", "exact_duplicates", "language",
                             "near_duplicates"), 0)
    pii = {"emails": 0, "card_numbers": 0, "phone_numbers": 0}
    boilerplate_removed = 0
    exact: set[str] = set()
    near = NearDuplicates(options.near_duplicate_threshold)
    kept: list[CleanDocument] = []
    originals: dict[str, str] = {}
    for i, (document, text) in enumerate(zip(documents, texts, strict=True)):
        if (i + 1) % PROGRESS_EVERY == 0:
            report((total + i + 1) // 2, total)
        if furniture:
            text, removed = _without_lines(text, furniture)
            boilerplate_removed += removed
        reason = ("empty" if not text else "too_short" if len(text) < options.min_chars
                  else "too_long" if len(text) > options.max_chars else "")
        key = _exact_key(text)
        if not reason and key in exact:
            reason = "exact_duplicates"
        exact.add(key)
        detected = detected_language(text) if not reason else None
        code = detected[0] if detected else "und"
        if not reason and options.languages and code not in options.languages:
            reason = "language"
        lang = language(code if detected else "en")
        if not reason and near.seen(signature(text, lang)):
            reason = "near_duplicates"
        if reason:
            dropped[reason] += 1
            continue
        if options.scrub_pii:
            text, found = scrub_pii(text)
            for kind, n in found.items():
                pii[kind] += n
        kept.append(CleanDocument(id=document.id, text=text, language=code,
                                  tokens=len(tokens(text, lang)), source=document.source,
                                  weight=document.weight))
        originals[document.id] = document.text
    report(total, total)
    splits = split_documents(kept, options)
    stats = {
        "documents_in": total,
        "documents": len(kept),
        "tokens": sum(d.tokens for d in kept),
        "characters": sum(len(d.text) for d in kept),
        "splits": {name: {"documents": len(splits[name]),
                          "tokens": sum(d.tokens for d in splits[name])} for name in SPLITS},
        "languages": dict(Counter(d.language for d in kept).most_common()),
        "dropped": dropped,
        "duplicates_removed": dropped["exact_duplicates"] + dropped["near_duplicates"],
        "pii_removed": pii,
        "boilerplate_lines_removed": boilerplate_removed,
        "html_documents": html_count,
        "length_histogram": _histogram([len(d.text) for d in kept]),
        "seconds": round(time.perf_counter() - started, 3),
    }
    samples = [{"id": d.id, "original": originals[d.id][:SAMPLE_CHARS],
                "cleaned": d.text[:SAMPLE_CHARS]} for d in kept[:SAMPLES]]
    return CleaningResult(splits=splits, stats=stats, samples=samples)
