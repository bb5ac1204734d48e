"""A local OpenAI-compatible chat-completions server, for tests of the `openai` backend.

It speaks the documented streaming protocol: `POST /v1/chat/completions` with
`"stream": true` is answered `text/event-stream`, one `data: {chunk}` event per
token (`object: "chat.completion.chunk"`, `choices[0].delta.content`), a last
chunk with `finish_reason` ("stop" or "length"), a usage chunk when
`stream_options.include_usage` is set, then `data: [DONE]`.

    with ChatPeer(Status(429, retry_after="1"), Drop(after_chunks=2)) as peer:
        generate_openai(GenerationRequest(..., base_url=peer.url, api_key=peer.api_key))

Faults are served first, one per request, in order; then requests succeed.
The text is a function of (seed, prompt): one word per token, so a test can
compute what a variant must read with `peer.text_for(seed, max_tokens)`.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.http_peers import LoopbackServer

WORDS = ("compost", "garden", "soil", "leaves", "worms", "heap", "turn", "damp", "brown",
         "green", "kitchen", "scraps", "bin", "warm", "air")


@dataclass(frozen=True)
class Status:
    """Answer with this status (and Retry-After) instead of a stream."""

    code: int
    retry_after: str | None = None


@dataclass(frozen=True)
class Drop:
    """Stream `after_chunks` content chunks, then close the connection without [DONE]."""

    after_chunks: int


class ChatPeer(LoopbackServer):
    def __init__(self, *faults: Status | Drop, api_key: str = "sk-test-0123456789",
                 chunk_delay_s: float = 0.0, vocabulary: tuple[str, ...] = WORDS) -> None:
        self.api_key = api_key
        self.vocabulary = vocabulary  # the words its texts are drawn from
        self.chunk_delay_s = chunk_delay_s
        self.requests: list[dict[str, Any]] = []  # bodies of chat-completion requests
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request
        self._faults: deque[Status | Drop] = deque(faults)
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        """The base URL an OpenAI client is given."""
        return super().url + "/v1"

    @staticmethod
    def text_for(seed: int, max_tokens: int, vocabulary: tuple[str, ...] = WORDS) -> str:
        rng = random.Random(seed)
        return " ".join(rng.choice(vocabulary) for _ in range(max_tokens))

    def _next_fault(self) -> Status | Drop | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def _event(self, payload: dict | str) -> None:
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with peer._lock:
                    peer.requests.append(body)
                    peer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    peer.arrivals.append(time.monotonic())
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if self.headers.get("Authorization") != f"Bearer {peer.api_key}":
                    self._json(401, {"error": {"message": "Incorrect API key provided.",
                                               "type": "invalid_request_error"}})
                    return
                fault = peer._next_fault()
                if isinstance(fault, Status):
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    self._json(fault.code, {"error": {"message": f"status {fault.code}"}},
                               headers)
                    return
                self._stream(body, fault.after_chunks if isinstance(fault, Drop) else None)

            def _stream(self, body: dict, drop_after: int | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                base = {"id": "chatcmpl-peer", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": body["model"]}
                self._event({**base, "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""},
                     "finish_reason": None}]})
                words = peer.text_for(body.get("seed", 0), body.get("max_tokens", 16),
                                      peer.vocabulary).split()
                stops = body.get("stop") or []
                text, sent, finish = "", 0, "length"
                for word in words:
                    piece = word if not text else " " + word
                    if any(stop in text + piece for stop in stops):
                        finish = "stop"
                        break
                    if drop_after is not None and sent == drop_after:
                        return  # the connection closes mid-stream
                    time.sleep(peer.chunk_delay_s)
                    self._event({**base, "choices": [
                        {"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                    text, sent = text + piece, sent + 1
                self._event({**base, "choices": [
                    {"index": 0, "delta": {}, "finish_reason": finish}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
                    self._event({**base, "choices": [], "usage": {
                        "prompt_tokens": prompt_tokens, "completion_tokens": sent,
                        "total_tokens": prompt_tokens + sent}})
                self._event("[DONE]")

        return Handler
