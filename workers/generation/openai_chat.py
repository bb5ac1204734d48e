"""The `openai` backend: any OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, hosted).

POST {base_url}/chat/completions with `stream: true`; the server answers with
server-sent events, one `data: {json chunk}` per event and `data: [DONE]` at
the end. Each variant is its own request (seed + variant), sent concurrently:
`n > 1` with streaming is not served by every compatible server, and the
server batches concurrent requests itself. A 429 or 5xx answer, a timeout or
a stream that ends without `[DONE]` is retried (the variant restarts) with
exponential backoff and jitter, waiting at least what `Retry-After` asks.
The API key only ever travels in the Authorization header, and only to a server the
egress policy (workers/egress.py) allows, redirects included.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any, ParamSpec, TypeVar

import httpx

from workers.egress import EgressRefused, egress_client
from workers.generation.engine import GenerationError, InvalidRequest, ModelUnavailable, OnText, ShouldStop
from workers.generation.types import GeneratedText, GenerationRequest

P = ParamSpec("P")
R = TypeVar("R")
MAX_PARALLEL_VARIANTS = 8
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
MAX_STOP_SEQUENCES = 4  # the chat-completions API takes at most four


class ServerUnavailable(GenerationError):
    """The server kept failing (429/5xx, timeouts, dropped streams) past the retry budget."""


class _Transient(Exception):
    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class _Stopped(Exception):
    pass


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


def backoff_s(attempt: int, retry_after_s: float | None) -> float:
    """Exponential with full jitter, never shorter than the server asked."""
    jittered = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
    return max(jittered, retry_after_s or 0.0)


def _body(request: GenerationRequest, variant: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": request.max_new_tokens,
        "temperature": request.temperature_for(variant),
        "top_p": request.top_p,
        "seed": request.seed + variant,
    }
    if request.stop:
        body["stop"] = list(request.stop[:MAX_STOP_SEQUENCES])
    return body


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON chunks of an SSE stream; raises _Transient if it ends without [DONE]."""
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line or not data:
            continue  # comments (": keep-alive"), other fields, blank lines between events
        payload, data = "\n".join(data), []
        if payload == "[DONE]":
            return
        try:
            yield json.loads(payload)
        except json.JSONDecodeError as exc:
            raise _Transient(f"unreadable event from the server: {payload[:80]!r}") from exc
    raise _Transient("the stream ended before [DONE]")


class _Variant:
    def __init__(self, client: httpx.Client, request: GenerationRequest, variant: int,
                 on_text: OnText | None, should_stop: ShouldStop | None, started: float) -> None:
        self.client, self.request, self.variant = client, request, variant
        self.on_text, self.should_stop, self.started = on_text, should_stop, started
        self.retries = 0

    def write(self) -> GeneratedText:
        attempt = 0
        while True:
            try:
                return self._once()
            except _Stopped:
                return self._result("", 0, 0, 0.0)
            except _Transient as exc:
                if attempt >= self.request.max_retries:
                    raise ServerUnavailable(
                        f"The model server at {self.request.base_url} failed "
                        f"{attempt + 1} times; last: {exc}") from exc
                time.sleep(backoff_s(attempt, exc.retry_after_s))
                attempt += 1
                self.retries += 1

    def _once(self) -> GeneratedText:
        request = self.request
        text, chunks, usage, first_token_s = "", 0, None, 0.0
        headers = {"Authorization": f"Bearer {request.api_key}"} if request.api_key else {}
        try:
            with self.client.stream("POST", "/chat/completions", json=_body(request, self.variant),
                                    headers=headers) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Transient(f"HTTP {response.status_code}",
                                     retry_after_seconds(response.headers.get("retry-after")))
                if response.status_code >= 400:
                    response.read()
                    self._refuse(response)
                if response.is_redirect:  # not followed: the key would travel with it
                    raise ModelUnavailable(
                        f"The model server at {request.base_url} redirected to "
                        f"{response.headers['location']}; set the profile's base URL to where "
                        "the server is.")
                for chunk in _events(response):
                    if self.should_stop is not None and self.should_stop():
                        raise _Stopped
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            if not text:
                                first_token_s = time.monotonic() - self.started
                            text, chunks = text + piece, chunks + 1
                            if self.on_text is not None:
                                self.on_text(self.variant, text.lstrip(), chunks)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Transient(type(exc).__name__) from exc
        except EgressRefused as exc:  # a redirect, or a name now resolving somewhere refused
            raise _refused(request.base_url, exc) from exc
        prompt_tokens = int((usage or {}).get("prompt_tokens", 0))
        completion_tokens = int((usage or {}).get("completion_tokens", chunks))
        return self._result(text, prompt_tokens, completion_tokens, first_token_s)

    def _refuse(self, response: httpx.Response) -> None:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        if response.status_code in (401, 403):
            raise ModelUnavailable(f"The model server refused the API key (HTTP "
                                   f"{response.status_code}): {message}")
        if response.status_code == 404:
            raise ModelUnavailable(f"The model server has no model {self.request.model!r} or no "
                                   f"chat-completions endpoint (HTTP 404): {message}")
        raise InvalidRequest(f"The model server refused the request (HTTP "
                             f"{response.status_code}): {message}")

    def _result(self, text: str, prompt_tokens: int, completion_tokens: int,
                first_token_s: float) -> GeneratedText:
        request = self.request
        parameters = {"temperature": request.temperature_for(self.variant), "top_p": request.top_p,
                      "max_new_tokens": request.max_new_tokens, "stop": list(request.stop),
                      "base_url": request.base_url}
        return GeneratedText(
            variant=self.variant, text=text.strip(), seed=request.seed + self.variant,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            model_name=request.model, parameters=parameters, first_token_s=first_token_s,
            retries=self.retries,
        )


def _under(lock: threading.Lock, callback: Callable[P, R]) -> Callable[P, R]:
    """`callback`, called one thread at a time."""
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with lock:
            return callback(*args, **kwargs)
    return call


def _refused(base_url: str, exc: EgressRefused) -> ModelUnavailable:
    return ModelUnavailable(f"The model server {base_url} may not be reached from this "
                            f"worker: {exc}")


def generate_openai(request: GenerationRequest, on_text: OnText | None = None,
                    should_stop: ShouldStop | None = None) -> list[GeneratedText]:
    """Write `request.variants` texts on the server, streamed; the same contract as `generate`."""
    if not request.base_url:
        raise InvalidRequest("An openai model profile needs the server's base URL "
                             "(e.g. http://gpu-box:8000/v1).")
    if not request.model:
        raise InvalidRequest("An openai model profile needs the server's model name.")
    lock = threading.Lock()  # progress callbacks are not thread-safe; variants stream in parallel

    try:
        request.egress.url_host(request.base_url)
    except EgressRefused as exc:
        raise _refused(request.base_url, exc) from exc
    timeout = httpx.Timeout(request.read_timeout_s, connect=request.connect_timeout_s)
    started = time.monotonic()
    with egress_client(request.egress, base_url=request.base_url.rstrip("/"),
                       timeout=timeout) as client:
        variants = [_Variant(client, request, n, _under(lock, on_text) if on_text else None,
                             _under(lock, should_stop) if should_stop else None, started)
                    for n in range(request.variants)]
        with ThreadPoolExecutor(max_workers=min(request.variants, MAX_PARALLEL_VARIANTS)) as pool:
            return list(pool.map(_Variant.write, variants))
