"""Declarative state machines: the allowed edges of each lifecycle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apps.core.errors import IllegalTransition


@dataclass(frozen=True)
class StateMachine:
    name: str
    edges: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, name: str, edges: Iterable[tuple[str, str]]) -> StateMachine:
        return cls(name=name, edges=frozenset(edges))

    def sources(self, target: str) -> list[str]:
        return sorted(src for src, dst in self.edges if dst == target)

    def allows(self, source: str, target: str) -> bool:
        return (source, target) in self.edges

    def refuse(self, subject_id: int, source: str, target: str) -> IllegalTransition:
        return IllegalTransition(
            f"{self.name} {subject_id} cannot go from '{source}' to '{target}'."
        )
