"""Turning a job and its model profile into a GenerationRequest (plain values in and out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.egress import STRICT, EgressPolicy
from workers.evaluation.language import CHARACTERS, WORDS, language
from workers.generation.engine import BUILTIN, InvalidRequest
from workers.generation.types import OPENAI, GenerationRequest

# New tokens a length target needs per unit of its language, for byte-level BPE tokenizers.
# English averages ~1.3 tokens a word; 1.5 is headroom. A Han or kana character is 3 UTF-8
# bytes: a tokenizer that learnt Chinese merges spends 1.1-1.6 tokens on it (measured with
# the built-in tokenizer trained on Tang poems: 1.14 on held-out ones, 1.57 on Song ci, 1.32
# on modern prose), so 2 leaves headroom; one that learnt none spends 3 (3.3-3.6 with the
# punctuation, which the character count leaves out), but such a model writes no Chinese.
TOKENS_PER_UNIT = {WORDS: 1.5, CHARACTERS: 2.0}
# A variant's default ceiling, about the same length of text in each unit: ~680 English
# words, ~1,000 Chinese characters (the presets' Chinese lengths are twice their English
# ones, up to an 800-character news article). A model profile may set up to 4096.
MAX_NEW_TOKENS_CAP = {WORDS: 1024, CHARACTERS: 2048}
SEED_STRIDE = 1000  # job n's variants use seeds n*1000, n*1000+1, ...: no two jobs share one


def _number(parameters: Mapping[str, Any], name: str, default: float, low: float,
            high: float) -> float:
    value = parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(
            f"Model profile parameter {name!r} must be a number from {low} to {high}, "
            f"got {value!r}."
        )
    return float(value)


def _whole(parameters: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(
            f"Model profile parameter {name!r} must be a whole number from {low} to {high}, "
            f"got {value!r}."
        )
    return value


def _model_for(backend: str, model: str) -> str:
    if backend == BUILTIN:
        return model or BUILTIN
    if backend == "transformers":
        if not model:
            raise InvalidRequest("A transformers model profile needs a model folder.")
        return model
    if backend == OPENAI:
        if not model:
            raise InvalidRequest("An openai model profile needs the server's model name.")
        return model
    raise InvalidRequest(f"Unknown model backend {backend!r}; use builtin, transformers or openai.")


def request_for_job(
    *,
    job_id: int,
    prompt: str,
    variants: int,
    target_words: int,
    backend: str | None,
    language_tag: str = "",
    model: str = "",
    parameters: Mapping[str, Any] | None = None,
    device: str = "auto",
    default_model: str = BUILTIN,
    base_url: str = "",
    api_key: str = "",
    egress: EgressPolicy = STRICT,
) -> GenerationRequest:
    """The request for a job; a job without a model profile uses `default_model`.

    `target_words` is the brief's target length in its language's unit (`language_tag`:
    characters in Chinese and Japanese, words elsewhere), which the default max_new_tokens
    makes room for. Raises InvalidRequest, with a message for the editor, for profile
    values the engine cannot use.
    """
    parameters = parameters or {}
    stop = parameters.get("stop", [])
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise InvalidRequest(f"Model profile parameter 'stop' must be a list of strings, "
                             f"got {stop!r}.")
    unit = language(language_tag).unit
    fitted = round(target_words * TOKENS_PER_UNIT[unit])
    max_new_tokens = _whole(parameters, "max_new_tokens",
                            min(max(fitted, 16), MAX_NEW_TOKENS_CAP[unit]), 1, 4096)
    return GenerationRequest(
        prompt=prompt,
        variants=variants,
        max_new_tokens=max_new_tokens,
        min_new_tokens=_whole(parameters, "min_new_tokens", max_new_tokens // 2, 0,
                              max_new_tokens),
        seed=_whole(parameters, "seed", job_id * SEED_STRIDE, 0, 2**62),
        temperature=_number(parameters, "temperature", 0.8, 0, 5),
        temperatures=_temperatures(parameters),
        top_p=_number(parameters, "top_p", 0.95, 0.01, 1),
        stop=tuple(stop),
        model=_model_for(backend, model) if backend else default_model,
        device=device or "auto",
        backend=backend or (BUILTIN if default_model == BUILTIN else "transformers"),
        base_url=base_url,
        api_key=api_key,
        egress=egress,
        chat=_flag(parameters, "chat", True),
    )


def _temperatures(parameters: Mapping[str, Any]) -> tuple[float, ...]:
    value = parameters.get("temperatures", [])
    if not isinstance(value, list) or len(value) > 16 or not all(
            isinstance(t, int | float) and not isinstance(t, bool) and 0 <= t <= 5 for t in value):
        raise InvalidRequest(f"Model profile parameter 'temperatures' must be a list of at most "
                             f"16 numbers from 0 to 5 (one per variant), got {value!r}.")
    return tuple(float(t) for t in value)


def _flag(parameters: Mapping[str, Any], name: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"Model profile parameter {name!r} must be true or false, "
                             f"got {value!r}.")
    return value
