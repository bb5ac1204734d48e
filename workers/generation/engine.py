"""Writing variants with a local transformers causal LM, streamed token by token.

All variants of a request share its prompt, so they run as one batch with
no padding: one forward pass per step for the whole job. Each variant samples
with its own generator seeded `seed + variant`, so a variant's text does not
depend on how many variants were asked for. The decode loop is our own
(rather than `model.generate`) because it has to stream every variant, check
for cancellation between steps and slide the context window past the model's
length, which the 128-token built-in model needs for any real article.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.generation.types import GeneratedText, GenerationRequest

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
_cache: dict[tuple[str, str, str], LoadedModel] = {}
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


def load_model(model: str, device: str = "auto", models_dir: Path | None = None) -> LoadedModel:
    """Load once per process; a retrained model (new files) is loaded again."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = model_location(model, models_dir)
    target = resolve_device(device)
    signature = _stat_signature(location) if isinstance(location, Path) else ""
    key = (str(location), str(target), signature)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        try:
            tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
            network = AutoModelForCausalLM.from_pretrained(
                location, local_files_only=True,
                dtype=torch.float32 if target.type == "cpu" else "auto",
            )
        except OSError as exc:
            if isinstance(location, Path):
                raise  # files that exist but could not be read: worth a retry
            raise ModelUnavailable(
                f"Model {model!r} is neither a folder on this worker nor in its Hugging Face "
                "cache; workers never download at run time, so place it there first."
            ) from exc
        network.to(target).eval()
        config = network.config
        context = (getattr(config, "n_positions", None)
                   or getattr(config, "max_position_embeddings", None) or 2048)
        revision = (_revision(location, signature) if isinstance(location, Path)
                    else str(getattr(config, "_commit_hash", "") or "")[:12])
        cache_argument = ("cache" if "cache" in inspect.signature(network.forward).parameters
                          else "past_key_values")
        loaded = LoadedModel(network, tokenizer, target, revision, int(context), cache_argument)
        while len(_cache) >= _MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = loaded
        return loaded


def _check(request: GenerationRequest) -> None:
    if not 1 <= request.variants <= 16:
        raise InvalidRequest(f"variants must be between 1 and 16, got {request.variants}.")
    if not 1 <= request.max_new_tokens <= 4096:
        raise InvalidRequest(f"max_new_tokens must be between 1 and 4096, got "
                             f"{request.max_new_tokens}.")
    if not 0 <= request.min_new_tokens <= request.max_new_tokens:
        raise InvalidRequest(f"min_new_tokens must be between 0 and max_new_tokens, got "
                             f"{request.min_new_tokens}.")
    if not 0 <= request.temperature <= 5:
        raise InvalidRequest(f"temperature must be between 0 and 5, got {request.temperature}.")
    if not 0 < request.top_p <= 1:
        raise InvalidRequest(f"top_p must be above 0 and at most 1, got {request.top_p}.")


def _next_tokens(logits: Any, request: GenerationRequest, generators: list[Any]) -> list[int]:
    """Greedy at temperature 0, else nucleus sampling with each variant's own generator."""
    import torch

    if request.temperature == 0:
        return [int(t) for t in logits.argmax(dim=-1)]
    probs = torch.softmax(logits / request.temperature, dim=-1)
    if request.top_p < 1:
        ranked, order = probs.sort(dim=-1, descending=True)
        outside = ranked.cumsum(dim=-1) - ranked > request.top_p  # mass before it already enough
        probs = torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(outside, 0.0))
    return [int(torch.multinomial(probs[row], 1, generator=generator))
            for row, generator in enumerate(generators)]


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    hits = [text.find(stop) for stop in stops if stop and stop in text]
    return (text[: min(hits)], True) if hits else (text, False)


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
    import torch

    _check(request)
    loaded = load_model(request.model, request.device, models_dir)
    tokenizer, device = loaded.tokenizer, loaded.device
    eos = tokenizer.eos_token_id
    prompt_ids = tokenizer(request.prompt, add_special_tokens=False)["input_ids"] or [eos]
    rows = request.variants
    # A prompt longer than the model's context keeps its end, which the text continues.
    context = torch.tensor([prompt_ids[-(loaded.context - 1):]] * rows, device=device)
    generators = [torch.Generator(device=device).manual_seed(request.seed + row)
                  for row in range(rows)]
    written: list[list[int]] = [[] for _ in range(rows)]
    texts = [""] * rows
    done = [False] * rows
    step_input, past = context, None
    with torch.inference_mode():
        for _ in range(request.max_new_tokens):
            if should_stop is not None and should_stop():
                break
            output = loaded.model(input_ids=step_input, use_cache=True,
                                  **{loaded.cache_argument: past})
            past = getattr(output, loaded.cache_argument)
            logits = output.logits[:, -1, :].float()
            for row in range(rows):
                if len(written[row]) < request.min_new_tokens and eos is not None:
                    logits[row, eos] = float("-inf")
            tokens = _next_tokens(logits, request, generators)
            for row, token in enumerate(tokens):
                if done[row]:
                    continue
                if token == eos:
                    done[row] = True
                    continue
                written[row].append(token)
                text = tokenizer.decode(written[row], skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # the token ends inside a multi-byte character; wait for the rest
                texts[row], done[row] = _cut_at_stop(text, request.stop)
                if on_text is not None:
                    on_text(row, texts[row].lstrip(), len(written[row]))
            if all(done):
                break
            step_input = torch.tensor(tokens, device=device).unsqueeze(1)
            context = torch.cat([context, step_input], dim=1)
            if context.shape[1] > loaded.context:  # slide: re-read the latest half window
                context = context[:, -(loaded.context // 2):]
                step_input, past = context, None
    parameters = {"temperature": request.temperature, "top_p": request.top_p,
                  "max_new_tokens": request.max_new_tokens,
                  "min_new_tokens": request.min_new_tokens, "stop": list(request.stop),
                  "device": str(device)}
    return [
        GeneratedText(
            variant=row, text=texts[row].strip(), seed=request.seed + row,
            prompt_tokens=len(prompt_ids), completion_tokens=len(written[row]),
            model_name=request.model, model_revision=loaded.revision, parameters=parameters,
        )
        for row in range(rows)
    ]
