"""A pass-through proxy in front of a real server (WordPress), for fault tests:
requests are forwarded as they came and answered with the server's answer,
unless a fault says otherwise (refuse with a status, or forward and hang up)."""

from __future__ import annotations

import httpx

from tests.peers.base import Answer, PeerServer, Request

HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "host", "content-encoding"}


class FaultyProxy(PeerServer):
    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self._client = httpx.Client(timeout=60)

    def handle(self, request: Request) -> Answer:
        response = self._client.request(
            request.method, self.upstream + request.path, params=request.query,
            content=request.body,
            headers={k: v for k, v in request.headers.items() if k not in HOP_BY_HOP},
        )
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body, {
            k: v for k, v in response.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-type"})

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        self._client.close()
