"""A local HTTP server speaking one target's API, with faults injected on request.

Subclasses implement `handle(request) -> Answer`. Tests then ask for faults:

    peer.fail("POST", "/api/v1/statuses", status=500, times=2)   # refuse twice
    peer.fail("POST", "/api/v1/statuses", drop=True)              # handle, then hang up

A dropped request is handled (the post is made) and the connection closed
with no answer, as when a target's proxy times out after the app committed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.http_peers import LoopbackServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # decoded, without the query
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}

    @property
    def target(self) -> str:
        """What faults match: the path, or for `?rest_route=` APIs that route."""
        return self.query.get("rest_route", self.path) if self.path == "/" else self.path


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # dict/list → JSON; str → text; None → empty
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    target: str
    times: int
    status: int = 0  # answer this without handling the request
    drop: bool = False  # handle it, then close the connection without an answer
    headers: dict[str, str] = field(default_factory=dict)


class PeerServer(LoopbackServer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.requests: list[Request] = []
        super().__init__(_handler_for(self))

    def fail(self, method: str, target: str, *, status: int = 0, drop: bool = False,
             times: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._faults.append(Fault(method, target, times, status, drop, headers or {}))

    def calls(self, method: str, target: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.target == target)

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    def _fault_for(self, request: Request) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.times and fault.method == request.method and fault.target == request.target:
                    fault.times -= 1
                    return fault
        return None


def _handler_for(peer: PeerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Request(
                method=self.command, path=unquote(parts.path),
                query={k: v[0] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            fault = peer._fault_for(request)
            if fault and fault.status:
                answer = Answer(fault.status, {"error": "injected fault"}, fault.headers)
            else:
                answer = peer.handle(request)
            if fault and fault.drop:
                self.close_connection = True
                return  # hang up without a word
            payload, content_type = _encode(answer.body)
            self.send_response(answer.status)
            for name, value in {"Content-Type": content_type, **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", "text/plain"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json; charset=utf-8"
