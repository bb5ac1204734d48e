"""The `openai` backend against a local server speaking the chat-completions streaming protocol."""

from __future__ import annotations

import logging
import time

import pytest

from tests.http_peers import HttpPeer, Reply
from tests.peers.openai_chat import ChatPeer, Drop, Status
from workers.egress import EgressPolicy
from workers.generation.engine import InvalidRequest, ModelUnavailable
from workers.generation.openai_chat import (
    ServerUnavailable,
    backoff_s,
    generate_openai,
    retry_after_seconds,
)
from workers.generation.types import GenerationRequest


def request(peer: ChatPeer, **kwargs: object) -> GenerationRequest:
    values: dict = {"prompt": "Write about compost.", "variants": 2, "max_new_tokens": 6,
                    "seed": 40, "temperature": 0.7, "top_p": 0.9, "model": "house-7b",
                    "backend": "openai", "base_url": peer.url, "api_key": peer.api_key,
                    "max_retries": 2, "egress": EgressPolicy(allow_loopback=True)}
    values.update(kwargs)
    return GenerationRequest(**values)


def test_variants_stream_with_their_own_seeds_and_usage() -> None:
    seen: dict[int, list[str]] = {0: [], 1: []}
    with ChatPeer() as peer:
        # given a server and a request for two variants of six tokens
        # when they are generated
        texts = generate_openai(request(peer), lambda v, text, n: seen[v].append(text))
    # then each variant reads the server's text for its seed, counted from the usage chunk
    assert [t.text for t in texts] == [ChatPeer.text_for(40, 6), ChatPeer.text_for(41, 6)]
    assert [(t.seed, t.prompt_tokens, t.completion_tokens, t.retries) for t in texts] == [
        (40, 3, 6, 0), (41, 3, 6, 0)]
    assert {t.model_name for t in texts} == {"house-7b"}
    # and the request followed the documented shape, with the key as a bearer token
    bodies = sorted(peer.requests, key=lambda b: b["seed"])
    assert bodies[0] == {"model": "house-7b",
                         "messages": [{"role": "user", "content": "Write about compost."}],
                         "stream": True, "stream_options": {"include_usage": True},
                         "max_tokens": 6, "temperature": 0.7, "top_p": 0.9, "seed": 40}
    assert {h["authorization"] for h in peer.headers} == {f"Bearer {peer.api_key}"}
    # and every variant was seen growing token by token to its final text
    for variant, updates in seen.items():
        assert len(updates) == 6
        assert updates[-1] == texts[variant].text


def test_each_variant_is_asked_at_its_own_temperature() -> None:
    with ChatPeer() as peer:
        texts = generate_openai(request(peer, temperatures=(0.2, 1.2)))
    bodies = sorted(peer.requests, key=lambda b: b["seed"])
    assert [(b["seed"], b["temperature"]) for b in bodies] == [(40, 0.2), (41, 1.2)]
    assert [t.parameters["temperature"] for t in texts] == [0.2, 1.2]


def test_stop_sequences_end_the_text() -> None:
    with ChatPeer() as peer:
        full = ChatPeer.text_for(40, 6).split()
        texts = generate_openai(request(peer, variants=1, stop=(full[3],)))
        assert peer.requests[0]["stop"] == [full[3]]
    assert texts[0].text == " ".join(full[:full.index(full[3])])


def test_a_429_is_retried_after_the_time_the_server_asks() -> None:
    with ChatPeer(Status(429, retry_after="1")) as peer:
        # given a server that is rate limited once and asks for a one-second wait
        texts = generate_openai(request(peer, variants=1))
    # then the variant was written by the second request, at least a second later
    assert len(peer.arrivals) == 2
    assert peer.arrivals[1] - peer.arrivals[0] >= 1.0
    assert texts[0].text == ChatPeer.text_for(40, 6)
    assert texts[0].retries == 1


def test_a_dropped_stream_restarts_the_variant() -> None:
    updates: list[str] = []
    with ChatPeer(Drop(after_chunks=2), Status(503)) as peer:
        # given a stream cut after two tokens, then a 503
        texts = generate_openai(request(peer, variants=1), lambda v, text, n: updates.append(text))
    # then the third request wrote the whole text, and nothing of the cut one remains in it
    assert len(peer.requests) == 3
    assert texts[0].text == ChatPeer.text_for(40, 6)
    assert texts[0].retries == 2
    words = ChatPeer.text_for(40, 6).split()
    assert updates[:3] == [words[0], f"{words[0]} {words[1]}", words[0]]


def test_a_server_that_keeps_failing_fails_with_a_message() -> None:
    with ChatPeer(Status(500), Status(502), Status(503)) as peer, \
            pytest.raises(ServerUnavailable, match=r"failed 3 times; last: HTTP 503"):
        generate_openai(request(peer, variants=1))


def test_a_wrong_key_is_refused_without_retrying_and_never_logged(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with ChatPeer() as peer:
        wrong = request(peer, variants=1, api_key="sk-wrong-secret-value")
        with pytest.raises(ModelUnavailable, match="refused the API key") as refused:
            generate_openai(wrong)
        assert len(peer.requests) == 1
    assert "sk-wrong-secret-value" not in caplog.text
    assert "sk-wrong-secret-value" not in str(refused.value)
    assert "sk-wrong-secret-value" not in repr(wrong)


def test_a_silent_server_times_out_and_is_retried() -> None:
    with ChatPeer(chunk_delay_s=0.6) as peer:
        started = time.monotonic()
        with pytest.raises(ServerUnavailable, match="ReadTimeout"):
            generate_openai(request(peer, variants=1, read_timeout_s=0.2, max_retries=1))
    assert len(peer.requests) == 2
    assert time.monotonic() - started < 5


def test_cancellation_stops_the_stream() -> None:
    with ChatPeer(chunk_delay_s=0.05) as peer:
        texts = generate_openai(request(peer, variants=1, max_new_tokens=200),
                                should_stop=lambda: True)
    assert texts[0].text == ""


def test_a_profile_without_a_server_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="base URL"):
        generate_openai(GenerationRequest(prompt="x", variants=1, max_new_tokens=4, seed=1,
                                          model="m", backend="openai"))


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_is_jittered_below_its_cap_and_honours_the_server() -> None:
    waits = [backoff_s(3, None) for _ in range(200)]
    assert all(0 <= w <= 4.0 for w in waits)
    assert len(set(waits)) > 100
    assert backoff_s(0, 7.0) == 7.0


def test_a_server_the_egress_policy_refuses_gets_no_request_and_no_key() -> None:
    with ChatPeer() as peer:
        with pytest.raises(ModelUnavailable) as refused:
            generate_openai(request(peer, egress=EgressPolicy()))
        assert peer.requests == [] and peer.headers == []
    assert str(refused.value) == (
        f"The model server {peer.url} may not be reached from this worker: Refused to connect "
        "to 127.0.0.1: 127.0.0.1 is a loopback address, which outbound requests may not reach "
        "(the operator can allow it with AIGC_EGRESS_ALLOW_LOOPBACK).")


def test_a_redirect_is_not_followed_with_the_key() -> None:
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    with HttpPeer(default=Reply(307, headers={"Location": metadata})) as server:
        with pytest.raises(ModelUnavailable) as refused:
            generate_openai(GenerationRequest(
                prompt="x", variants=1, max_new_tokens=4, seed=1, model="m", backend="openai",
                base_url=server.url + "/v1", api_key="sk-secret",
                egress=EgressPolicy(allow_loopback=True)))
        assert [r.path for r in server.requests] == ["/v1/chat/completions"]
    assert str(refused.value) == (
        f"The model server at {server.url}/v1 redirected to {metadata}; set the profile's base "
        "URL to where the server is.")
