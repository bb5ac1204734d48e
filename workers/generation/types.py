"""Plain data crossing the boundary between the platform and generation engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    variants: int
    max_new_tokens: int
    seed: int  # variant i samples with seed + i
    temperature: float = 0.8
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    min_new_tokens: int = 0  # the end-of-text token is held back until this many are written
    model: str = "builtin"  # a model directory, hub id or server model name
    device: str = "auto"


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
