"""Writing variants with a local transformers causal LM, streamed token by token.

Every variant of every request in a batch is a row of one tensor: one forward
pass per step advances all of them, whichever job they belong to (the batchers
in workers.generation.continuous and .batching hand several jobs in).
Each variant samples with its own generator seeded `seed + variant`, so its
text depends neither on how many variants were asked for nor on its batch
neighbours. The decode loop is our own (rather than `model.generate`) because
it has to stream every variant, check each job for cancellation between steps,
let rows join and leave the batch, and slide the context window past the
model's length, which the 128-token built-in model needs for any real article."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.generation.types import GeneratedText, GenerationRequest

# MKL's strict reproducible mode, read at its first call: on Intel CPUs a matrix product's
# rows then come out bit for bit the same whatever the rows beside them and their memory
# alignment (on an AVX-512 Xeon, rows of a 2-row and of a 16-row product differed in the last
# bits otherwise), at no measured cost. MKL ignores it on other CPUs, where the blocked
# products of workers.generation.rowwise keep a row's numbers its own.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

BUILTIN = "builtin"
TRAINING_METADATA = "training.json"  # written by workers.generation.builtin.training

# (variant, text so far, completion tokens so far)
OnText = Callable[[int, str, int], None]
ShouldStop = Callable[[], bool]


class GenerationError(Exception):
    """A request this worker cannot serve; retrying will not help, the message says what will."""


class ModelUnavailable(GenerationError):
    pass


class InvalidRequest(GenerationError):
    pass


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    device: Any
    revision: str
    context: int  # positions the model was built for; the decode loop slides past it
    cache_argument: str  # "cache" in transformers >= 5.2x, "past_key_values" before


_MAX_CACHED = 2  # a worker usually serves one model; two lets a profile switch without thrash
_cache: dict[tuple[str, str, str, bool], LoadedModel] = {}
_cache_lock = threading.Lock()


def model_location(model: str, models_dir: Path | None) -> Path | str:
    """The folder to load `model` from, or a hub id to look up in the local cache only."""
    if model == BUILTIN:
        if models_dir is None:
            raise ModelUnavailable("The built-in model needs a models directory (MODELS_DIR).")
        path = Path(models_dir) / BUILTIN
        if not (path / "config.json").is_file():
            raise ModelUnavailable(
                f"The built-in model is not trained yet ({path} has no config.json). "
                "Run `python manage.py train_model` on the generation worker's host."
            )
        return path
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailable(f"{path} is not a Hugging Face model folder (no config.json).")
        return path.resolve()
    if path.is_absolute() or model.startswith("."):
        raise ModelUnavailable(f"The model folder {path} does not exist on this worker.")
    return model


def _stat_signature(path: Path) -> str:
    """Changes whenever the weights are rewritten, without reading gigabytes to hash them."""
    stats = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
             for f in sorted(path.iterdir()) if f.suffix in {".safetensors", ".bin", ".json"}]
    return hashlib.sha256("|".join(stats).encode()).hexdigest()[:12]


def _revision(path: Path, signature: str) -> str:
    metadata = path / TRAINING_METADATA
    if metadata.is_file():
        return str(json.loads(metadata.read_text()).get("revision", signature))
    if path.parent.name == "snapshots":  # a Hugging Face cache snapshot is named by its commit
        return path.name[:12]
    return signature


def context_length(config: Any, default: int = 2048) -> int:
    """How many positions a causal LM's config allows: GPT-2's `n_positions`, most others'
    `max_position_embeddings`, else `default`."""
    return int(getattr(config, "n_positions", None)
               or getattr(config, "max_position_embeddings", None) or default)


def resolve_device(device: str) -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InvalidRequest(f"Unknown device {device!r}; use auto, cpu, cuda or cuda:N.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidRequest(f"Device {device!r} was asked for, but this worker has no CUDA GPU.")
    return resolved


def _dtype_for(target: Any) -> Any:
    """float32 on CPU; bf16 on GPUs that have it (Ampere and later), else fp16. Untested here."""
    import torch

    if target.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_model(model: str, device: str = "auto", models_dir: Path | None = None, *,
               batch_invariant: bool = True) -> LoadedModel:
    """Load once per process; a retrained model (new files) is loaded again. On the CPU,
    `batch_invariant` makes a row's numbers its own whatever its batch
    (workers.generation.rowwise), at a cost that bench/blocked_products.py measures."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = model_location(model, models_dir)
    target = resolve_device(device)
    signature = _stat_signature(location) if isinstance(location, Path) else ""
    batch_invariant = batch_invariant and target.type == "cpu"  # a GPU batch attends at once
    key = (str(location), str(target), signature, batch_invariant)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        try:
            tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
            network = AutoModelForCausalLM.from_pretrained(
                location, local_files_only=True,
                dtype=_dtype_for(target),
            )
        except OSError as exc:
            if isinstance(location, Path):
                raise  # files that exist but could not be read: worth a retry
            raise ModelUnavailable(
                f"Model {model!r} is neither a folder on this worker nor in its Hugging Face "
                "cache; workers never download at run time, so place it there first."
            ) from exc
        network.to(target).eval()
        if batch_invariant:
            from workers.generation.rowwise import make_batch_invariant

            make_batch_invariant(network)
        config = network.config
        context = context_length(config)
        revision = (_revision(location, signature) if isinstance(location, Path)
                    else str(getattr(config, "_commit_hash", "") or "")[:12])
        cache_argument = ("cache" if "cache" in inspect.signature(network.forward).parameters
                          else "past_key_values")
        loaded = LoadedModel(network, tokenizer, target, revision, int(context), cache_argument)
        while len(_cache) >= _MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = loaded
        return loaded


def check_request(request: GenerationRequest) -> None:
    if not 1 <= request.variants <= 16:
        raise InvalidRequest(f"variants must be between 1 and 16, got {request.variants}.")
    if not 1 <= request.max_new_tokens <= 4096:
        raise InvalidRequest(f"max_new_tokens must be between 1 and 4096, got "
                             f"{request.max_new_tokens}.")
    if not 0 <= request.min_new_tokens <= request.max_new_tokens:
        raise InvalidRequest(f"min_new_tokens must be between 0 and max_new_tokens, got "
                             f"{request.min_new_tokens}.")
    for temperature in (request.temperature, *request.temperatures):
        if not 0 <= temperature <= 5:
            raise InvalidRequest(f"temperature must be between 0 and 5, got {temperature}.")
    if not 0 < request.top_p <= 1:
        raise InvalidRequest(f"top_p must be above 0 and at most 1, got {request.top_p}.")


REJECTION_ROUNDS = 8  # a row still rejected after these (tiny top_p, flat distribution) is ranked


def _ranked_pick(probs: Any, top_p: Any, draws: Any) -> Any:
    """Inverse-CDF picks over each row's nucleus, its tokens ranked by probability."""
    import torch

    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked > top_p, 0.0)  # outside
    cumulative = ranked.cumsum(dim=-1)
    index = torch.searchsorted(cumulative, draws * cumulative[:, -1:], right=True)
    return order.gather(1, index.clamp(max=cumulative.shape[1] - 1)).squeeze(1)


def _nucleus_pick(probs: Any, top_p: Any, draw: Callable[[list[int]], Any]) -> Any:
    """One token per row from its nucleus (top-p), by rejection: no ranking of the vocabulary.

    A token drawn from the whole distribution is kept when the mass of the
    tokens more probable than it is at most top_p, i.e. when it lies in the
    nucleus; kept draws are then distributed exactly as nucleus sampling's.
    Ranking 4k tokens for 32 rows was half of a sampled step on CPU; a draw and
    its check cost an eighth of that, and a row is kept with probability
    >= top_p (0.95 by default) per round. `draw(rows)` gives each listed row
    its next uniform number from the row's own generator, so a row's token
    never depends on its batch neighbours.
    """
    import torch

    cumulative = probs.cumsum(dim=-1)
    last = probs.shape[1] - 1
    tokens = torch.empty(len(probs), dtype=torch.long, device=probs.device)
    pending = list(range(len(probs)))
    for _ in range(REJECTION_ROUNDS):
        rows = torch.tensor(pending, device=probs.device)
        candidates = probs[rows]
        index = torch.searchsorted(cumulative[rows], draw(pending) * cumulative[rows, -1:],
                                   right=True).clamp(max=last)
        above = (candidates * (candidates > candidates.gather(1, index))).sum(dim=-1)
        kept = above <= top_p[rows].squeeze(1)
        tokens[rows[kept]] = index[kept].squeeze(1)
        pending = rows[~kept].tolist()
        if not pending:
            return tokens
    rows = torch.tensor(pending, device=probs.device)
    tokens[rows] = _ranked_pick(probs[rows], top_p[rows], draw(pending))
    return tokens


def _sample(logits: Any, rows: list[_Row]) -> list[int]:
    """One token per row: greedy at temperature 0, else nucleus sampling, all rows at once.

    Each sampled row draws its uniform numbers from its own generator and all
    operations are row-wise, so a row's token depends only on its logits and
    its seed, never on its batch neighbours (the same numbers batched or alone).
    """
    import torch

    tokens: list[int] = logits.argmax(dim=-1).tolist()
    sampled = [n for n, row in enumerate(rows) if row.temperature > 0]
    if not sampled:
        return tokens
    device = logits.device
    temperature = torch.tensor([rows[n].temperature for n in sampled],
                               device=device).unsqueeze(1)
    top_p = torch.tensor([rows[n].request.top_p for n in sampled], device=device).unsqueeze(1)

    def draw(pending: list[int]) -> Any:
        return torch.cat([torch.rand(1, generator=rows[sampled[i]].generator)
                          for i in pending]).unsqueeze(1).to(device)

    probs = torch.softmax(logits[sampled] / temperature, dim=-1)
    for n, token in zip(sampled, _nucleus_pick(probs, top_p, draw).tolist(), strict=True):
        tokens[n] = token
    return tokens


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    hits = [text.find(stop) for stop in stops if stop and stop in text]
    return (text[: min(hits)], True) if hits else (text, False)


@dataclass(frozen=True)
class BatchItem:
    """One job's request with its own callbacks, served in a batch shared with other jobs."""

    request: GenerationRequest
    on_text: OnText | None = None
    should_stop: ShouldStop | None = None


@dataclass(eq=False)
class _Row:
    """One variant of one item: a row of the shared batch."""

    item: int
    variant: int
    request: GenerationRequest
    generator: Any
    window: list[int]  # the token ids the model currently sees for this row
    prompt_tokens: int
    written: list[int] = field(default_factory=list)
    text: str = ""
    done: bool = False
    # Incremental decoding: the text of written[:text_at], and where the tokens decoded
    # again with each new one start (a word's leading space comes out as in the whole text)
    decoded: str = ""
    context_at: int = 0
    text_at: int = 0
    first_token_s: float = 0.0
    device_s: float = 0.0

    @property
    def temperature(self) -> float:
        return self.request.temperature_for(self.variant)


def prompt_ids(loaded: LoadedModel, request: GenerationRequest) -> list[int]:
    """The prompt's token ids: through the tokenizer's chat template when it has one."""
    tokenizer = loaded.tokenizer
    if request.chat and getattr(tokenizer, "chat_template", None):
        encoded = tokenizer.apply_chat_template(
            [{"role": "user", "content": request.prompt}], add_generation_prompt=True,
            tokenize=True, return_dict=True)
        ids = list(encoded["input_ids"])
    else:
        ids = tokenizer(request.prompt, add_special_tokens=False)["input_ids"]
    return ids or [tokenizer.eos_token_id]


def _padded(rows: list[_Row], pad: int, device: Any) -> tuple[Any, Any, Any]:
    """Left-padded ids, attention mask and positions: each row sees only its own tokens."""
    import torch

    width = max(len(r.window) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r.window)) + r.window for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r.window)) + [1] * len(r.window) for r in rows],
                        device=device)
    positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
    return ids, mask, positions


@dataclass(eq=False)
class Admitted:
    """An item in a running batch: its rows, when it joined, and what ended it early."""

    item: BatchItem
    rows: list[_Row]
    started: float
    error: Exception | None = None

    @property
    def finished(self) -> bool:
        return all(row.done for row in self.rows)


def _layers_of(cache: Any) -> list[tuple[Any, Any]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _is_mergeable(cache: Any) -> bool:
    """Plain full-attention layers can be padded and stacked along the batch; sliding-window
    or recurrent layers cannot, so those models re-read every row when one joins."""
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in cache.layers)


def _restack(cache: Any, layers: list[tuple[Any, Any]]) -> None:
    """Give the cache's layers new keys and values, in place: a new DynamicCache would copy
    every tensor once more (it concatenates them onto empty ones), on every join and leave."""
    for layer, (keys, values) in zip(cache.layers, layers, strict=True):
        layer.keys, layer.values = keys, values


class RunningBatch:
    """Rows of one model advancing together, one token each per `step`; rows join and leave
    between steps (iteration-level batching).

    A row's prompt is prefilled in the step after it joins, alone or with the other rows
    joining then (left-padded, masked, positions counted per row), and its KV cache is
    stacked under the running rows' cache, the shorter side padded on the left and masked
    out; every row keeps its own positions. A row that finishes, is stopped, or slides past
    the model's context leaves the cache at once (a sliding row re-joins with its latest
    half window, as it would alone). So a row's tokens are what it writes alone, token for
    token under greedy decoding and, with its own generator, under seeded sampling.
    """

    def __init__(self, loaded: LoadedModel, clock: Callable[[], float] = time.monotonic) -> None:
        self.loaded, self._clock = loaded, clock
        eos = loaded.tokenizer.eos_token_id
        self._eos, self._pad = eos, (eos if eos is not None else 0)
        self._admitted: dict[int, Admitted] = {}
        self._next_id = 0
        self.cached: list[_Row] = []  # rows whose window is in the cache, in the cache's order
        self.pending: list[_Row] = []  # rows to prefill next step: new, or slid past the context
        self._cache: Any = None
        self._mask: Any = None  # (rows, cache length): 0 over each row's left padding
        self._positions: Any = None  # (rows, 1): the position of each row's next input token
        self._last: Any = None  # (rows, 1): each cached row's latest token, not yet in the cache
        self.mergeable = True  # until a prefill shows the model's cache cannot be stacked

    @property
    def rows(self) -> int:
        return len(self.cached) + len(self.pending)

    def admit(self, item: BatchItem) -> Admitted:
        """Add the item's variants as rows; they are prefilled and advanced in the next step."""
        import torch

        check_request(item.request)
        ids = prompt_ids(self.loaded, item.request)
        index, self._next_id = self._next_id, self._next_id + 1
        rows = []
        for variant in range(item.request.variants):
            # On the CPU whatever the device: a draw from a CUDA generator is a kernel launch
            # per row and step, while 32 CPU draws and one copy cost microseconds. (On an
            # H200, sampled steps with CUDA generators took ~1.7 ms a row more than greedy
            # ones; not measured again since this change.)
            generator = torch.Generator().manual_seed(item.request.seed + variant)
            # A prompt longer than the model's context keeps its end, which the text continues.
            rows.append(_Row(index, variant, item.request, generator,
                             ids[-(self.loaded.context - 1):], len(ids)))
        admitted = Admitted(item, rows, self._clock())
        self._admitted[index] = admitted
        self.pending.extend(rows)
        return admitted

    def finished(self) -> list[Admitted]:
        """The items whose rows have all left, taken out of the batch."""
        done = [admitted for admitted in self._admitted.values() if admitted.finished]
        for admitted in done:
            del self._admitted[admitted.rows[0].item]
        return done

    def items(self) -> list[Admitted]:
        return list(self._admitted.values())

    def results(self, admitted: Admitted) -> list[GeneratedText]:
        return [_result(row, self.loaded, str(self.loaded.device)) for row in admitted.rows]

    def _end(self, admitted: Admitted, error: Exception | None = None) -> None:
        admitted.error = admitted.error or error
        for row in admitted.rows:
            row.done = True

    def _ask_to_stop(self) -> None:
        for admitted in self._admitted.values():
            if admitted.item.should_stop is None or admitted.finished:
                continue
            try:
                if admitted.item.should_stop():
                    self._end(admitted)
            except Exception as exc:  # the item's own callback: it fails alone
                self._end(admitted, exc)

    def step(self) -> None:
        """Stop what was asked to stop, prefill joining rows, advance every row one token."""
        import torch

        self._ask_to_stop()
        self._leave()
        if not self.rows:
            return
        if self.pending and self.cached and not self.mergeable:
            self.pending = self.cached + self.pending  # re-read every row, as a fresh batch
            self._keep([])
        started = self._clock()
        rows = self.cached + self.pending
        with torch.inference_mode():
            running = [self._decode()] if self.cached else []
            logits, *joining = self._prefill() if self.pending else (None, None, None, None)
            scores = torch.cat(running + ([logits] if logits is not None else [])).float()
            for n, row in enumerate(rows):
                if len(row.written) < row.request.min_new_tokens and self._eos is not None:
                    scores[n, self._eos] = float("-inf")
            tokens = _sample(scores, rows)
            if self.pending:
                self._join(*joining)
        self._last = torch.tensor(tokens, device=self.loaded.device).unsqueeze(1)
        now = self._clock()
        for row, token in zip(rows, tokens, strict=True):
            row.device_s += (now - started) / len(rows)
            admitted = self._admitted[row.item]
            if admitted.finished:
                continue  # its callback failed for an earlier variant in this step
            try:
                _advance(row, token, self._eos, self.loaded.tokenizer, admitted.item.on_text,
                         now - admitted.started)
            except Exception as exc:
                self._end(admitted, exc)
        self._leave()

    def _decode(self) -> Any:
        import torch

        self._mask = torch.cat([self._mask, torch.ones_like(self._last)], dim=1)
        output = self.loaded.model(input_ids=self._last, attention_mask=self._mask,
                                   position_ids=self._positions, use_cache=True,
                                   **{self.loaded.cache_argument: self._cache})
        self._cache = getattr(output, self.loaded.cache_argument)
        self._positions = self._positions + 1
        return output.logits[:, -1, :]

    def _prefill(self) -> tuple[Any, Any, Any, Any]:
        ids, mask, positions = _padded(self.pending, self._pad, self.loaded.device)
        output = self.loaded.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                   use_cache=True, **{self.loaded.cache_argument: None})
        cache = getattr(output, self.loaded.cache_argument)
        self.mergeable = _is_mergeable(cache)
        if self.mergeable:
            from workers.generation.kv_cache import give_room

            give_room(cache)  # decoding steps then append without copying the cache
        return output.logits[:, -1, :], cache, mask, positions[:, -1:] + 1

    def _join(self, cache: Any, mask: Any, positions: Any) -> None:
        """Stack the prefilled rows' cache under the running rows', padded on the left."""
        import torch
        from torch.nn.functional import pad

        if not self.cached:
            self._cache, self._mask, self._positions = cache, mask, positions
        else:
            width = max(self._mask.shape[1], mask.shape[1])
            ours, theirs = width - self._mask.shape[1], width - mask.shape[1]
            _restack(self._cache, [
                (torch.cat([pad(k, (0, 0, ours, 0)), pad(k2, (0, 0, theirs, 0))]),
                 torch.cat([pad(v, (0, 0, ours, 0)), pad(v2, (0, 0, theirs, 0))]))
                for (k, v), (k2, v2) in zip(_layers_of(self._cache), _layers_of(cache),
                                            strict=True)])
            self._mask = torch.cat([pad(self._mask, (ours, 0)), pad(mask, (theirs, 0))])
            self._positions = torch.cat([self._positions, positions])
        self.cached, self.pending = self.cached + self.pending, []

    def _leave(self) -> None:
        """Finished rows leave; rows past the context re-join with their latest half window."""
        context = self.loaded.context
        sliding = [row for row in self.cached if not row.done and len(row.window) > context]
        for row in sliding:
            row.window = row.window[-(context // 2):]
        self.pending = [row for row in self.pending if not row.done] + sliding
        keep = [n for n, row in enumerate(self.cached) if not row.done and row not in sliding]
        if len(keep) < len(self.cached):
            self._keep(keep)

    def _keep(self, keep: list[int]) -> None:
        import torch

        self.cached = [self.cached[n] for n in keep]
        if not keep:
            self._cache = self._mask = self._positions = self._last = None
            return
        chosen = torch.tensor(keep, device=self.loaded.device)
        self._mask, self._positions = self._mask[chosen], self._positions[chosen]
        self._last = self._last[chosen]
        if not self.mergeable:
            self._cache.batch_select_indices(chosen)
            return
        # Drop the columns that were only left padding for the rows that left.
        start = int((self._mask.sum(dim=0) > 0).nonzero()[0])
        self._mask = self._mask[:, start:]
        _restack(self._cache, [(k[chosen, :, start:], v[chosen, :, start:])
                               for k, v in _layers_of(self._cache)])


def generate_batch(items: list[BatchItem], *, models_dir: Path | None = None,
                   clock: Callable[[], float] = time.monotonic,
                   batch_invariant: bool = True) -> list[list[GeneratedText]]:
    """Write every item's variants in shared forward passes: one step advances all rows.

    All items must name the same model and device; they all join at the first step
    (a static batch; workers.generation.continuous lets items join a running one). A
    row's text does not depend on its neighbours (see RunningBatch; on the CPU, unless
    `batch_invariant` is off, not even in its last bits). A step's time is
    shared among the rows it advanced: that is each variant's `device_s`. An item whose
    callback raised makes the whole call raise, so run_splitting can find it.
    """
    if len({(i.request.model, i.request.device) for i in items}) != 1:
        raise InvalidRequest("A batch serves one model on one device.")
    for item in items:
        check_request(item.request)
    first = items[0].request
    batch = RunningBatch(load_model(first.model, first.device, models_dir,
                                    batch_invariant=batch_invariant), clock)
    admitted = [batch.admit(item) for item in items]
    while batch.rows:
        batch.step()
    for entry in admitted:
        if entry.error is not None:
            raise entry.error
    return [batch.results(entry) for entry in admitted]


def _advance(row: _Row, token: int, eos: int | None, tokenizer: Any, on_text: OnText | None,
             elapsed: float) -> None:
    row.window.append(token)
    if token == eos:
        row.done = True
        return
    row.written.append(token)
    if len(row.written) == 1:
        row.first_token_s = elapsed
    if len(row.written) >= row.request.max_new_tokens:
        row.done = True
    text = _decoded(row, tokenizer)
    if text is None:
        return  # the token ends inside a multi-byte character; wait for the rest
    row.text, stopped = _cut_at_stop(text, row.request.stop)
    row.done = row.done or stopped
    if on_text is not None:
        on_text(row.variant, row.text.lstrip(), len(row.written))


def _decoded(row: _Row, tokenizer: Any) -> str | None:
    """The text of every token the row has written; None while they end inside a
    multi-byte character and more are to come. Only the newest tokens are decoded, after
    the previous step's: decoding the whole text at every token took 30% of a 1,024-token
    run of the built-in model. A row's last text is decoded whole."""
    if row.done:
        return str(tokenizer.decode(row.written, skip_special_tokens=True))
    context = tokenizer.decode(row.written[row.context_at:row.text_at], skip_special_tokens=True)
    tail = tokenizer.decode(row.written[row.context_at:], skip_special_tokens=True)
    if tail.endswith("\ufffd"):
        return None
    if "\ufffd" in tail or not tail.startswith(context) or (row.text_at and not context):
        # Bytes that make no character, which a tokenizer may join with bytes before the
        # context; a context the tokenizer rewrote; or one with no text (special tokens),
        # which leaves a word's leading space to be stripped: the whole text, at once.
        text = tokenizer.decode(row.written, skip_special_tokens=True)
    else:
        text = row.decoded + tail[len(context):]
    row.decoded, row.context_at, row.text_at = text, row.text_at, len(row.written)
    return str(text)


def _result(row: _Row, loaded: LoadedModel, device: str) -> GeneratedText:
    request = row.request
    parameters = {"temperature": row.temperature, "top_p": request.top_p,
                  "max_new_tokens": request.max_new_tokens,
                  "min_new_tokens": request.min_new_tokens, "stop": list(request.stop),
                  "device": device}
    return GeneratedText(
        variant=row.variant, text=row.text.strip(), seed=request.seed + row.variant,
        prompt_tokens=row.prompt_tokens, completion_tokens=len(row.written),
        model_name=request.model, model_revision=loaded.revision, parameters=parameters,
        first_token_s=row.first_token_s, device_s=row.device_s,
    )


def generate(
    request: GenerationRequest,
    on_text: OnText | None = None,
    should_stop: ShouldStop | None = None,
    *,
    models_dir: Path | None = None,
) -> list[GeneratedText]:
    """Write `request.variants` texts; `on_text` sees each variant's text as it grows.

    `should_stop` is asked before every step; when it says stop, the texts
    written so far are returned. Raises ModelUnavailable or InvalidRequest for
    what a retry cannot fix.
    """
    return generate_batch([BatchItem(request, on_text, should_stop)], models_dir=models_dir)[0]
