"""Integration fixtures: the live platform (tests/live.py) and a websocket listener."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import pytest


@dataclass
class EventListener:
    """A real websocket client collecting every JSON message in a background thread."""

    messages: list[dict] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate, timeout: float) -> dict:  # type: ignore[no-untyped-def]
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: next((m for m in self.messages if predicate(m)), None), timeout)
        if not found:
            seen = [m.get("type") for m in self.messages]
            raise AssertionError(f"no matching websocket message within {timeout}s; got {seen}")
        return found

    def _collect(self, connection) -> None:  # type: ignore[no-untyped-def]
        for raw in connection:
            with self._arrived:
                self.messages.append(json.loads(raw))
                self._arrived.notify_all()


@pytest.fixture
def listen():
    """listen(url, session_cookie, origin) -> EventListener; closed at teardown."""
    from websockets.sync.client import connect

    opened = []

    def open_listener(url: str, session_id: str, origin: str) -> EventListener:
        ws = connect(url, additional_headers={"Cookie": f"sessionid={session_id}"}, origin=origin,
                     open_timeout=10)
        opened.append(ws)
        listener = EventListener()
        threading.Thread(target=listener._collect, args=(ws,), daemon=True).start()
        return listener

    yield open_listener
    for ws in opened:
        ws.close()
