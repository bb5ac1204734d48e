"""Plain data crossing the boundary between the platform and generation engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.egress import STRICT, EgressPolicy

LOCAL_BACKENDS = ("builtin", "transformers")  # served by workers.generation.engine in-process
OPENAI = "openai"  # an OpenAI-compatible chat-completions server


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    variants: int
    max_new_tokens: int
    seed: int  # variant i samples with seed + i
    temperature: float = 0.8
    # Variant i samples at temperatures[i % len]: variants that differ in boldness as well
    # as in seed. Empty: every variant at `temperature`.
    temperatures: tuple[float, ...] = ()
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    min_new_tokens: int = 0  # the end-of-text token is held back until this many are written
    model: str = "builtin"  # a model directory, hub id or server model name
    device: str = "auto"
    backend: str = "builtin"
    chat: bool = True  # use the tokenizer's chat template when it has one
    base_url: str = ""  # openai: e.g. http://gpu-box:8000/v1
    api_key: str = field(default="", repr=False)  # never in a repr, so never in a log line
    egress: EgressPolicy = STRICT  # openai: where the server may be (strict by default)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0  # longest silence between two streamed chunks
    max_retries: int = 4  # per variant, on 429/5xx, timeouts and dropped streams

    def temperature_for(self, variant: int) -> float:
        return self.temperatures[variant % len(self.temperatures)] if self.temperatures \
            else self.temperature


@dataclass(frozen=True)
class GeneratedText:
    variant: int
    text: str
    seed: int
    prompt_tokens: int
    completion_tokens: int
    model_name: str
    model_revision: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    first_token_s: float = 0.0  # from the start of generation to this variant's first token
    device_s: float = 0.0  # this variant's share of the forward passes (local backends)
    retries: int = 0  # transient failures retried while writing it
