"""A real HTTP server on 127.0.0.1 for tests of code that calls out over HTTP.

    with HttpPeer(Reply(500), Reply(200, {"id": "post-1"})) as peer:
        call_something(peer.url + "/hooks")   # the first request gets 500, the next 200
        assert peer.requests[0].json()["type"] == "publication.created"

- `HttpPeer(*replies, default=Reply(200))`: answers requests with `replies` in
  order, then with `default`. An int stands for `Reply(status)`.
- `peer.answer(*replies)` queues more replies; `peer.url` is "http://127.0.0.1:<port>".
- `peer.requests` lists every `Recorded` request (method, path, headers with
  lower-case names, raw body bytes, `.json()`), in arrival order.
- `Reply(status, body, headers, delay_s)`: a dict or list body is sent as JSON;
  `delay_s` holds the answer back (to test client timeouts).

It runs in a daemon thread with one thread per connection, speaks plain
HTTP/1.0 (one request per connection), and is stopped on leaving the `with`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return self.body, headers


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port), serving in a daemon thread, one thread per
    connection, from entering its `with` to leaving it. The base of every test peer."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval: leaving the `with` waits for one poll (default 0.5 s).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True, name=type(self).__name__)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class HttpPeer(LoopbackServer):
    def __init__(self, *replies: Reply | int, default: Reply | int = 200) -> None:
        self._replies: deque[Reply] = deque()
        self._default = _reply(default)
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        super().__init__(_handler_for(self))
        self.answer(*replies)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def answer(self, *replies: Reply | int) -> None:
        with self._lock:
            self._replies.extend(_reply(r) for r in replies)

    def _record(self, request: Recorded) -> Reply:
        with self._lock:
            self._requests.append(request)
            return self._replies.popleft() if self._replies else self._default


def _reply(value: Reply | int) -> Reply:
    return value if isinstance(value, Reply) else Reply(status=value)


def _handler_for(peer: HttpPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = peer._record(Recorded(
                method=self.command, path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            ))
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload, headers = reply.encoded()
            try:
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


__all__ = ["HttpPeer", "LoopbackServer", "Recorded", "Reply"]
