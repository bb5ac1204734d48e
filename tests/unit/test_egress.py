"""The egress policy (workers/egress.py): schemes, address kinds, DNS names, redirects."""

from __future__ import annotations

import ipaddress

import pytest

from tests.http_peers import HttpPeer, Reply
from workers.egress import EgressPolicy, EgressRefused, egress_client

STRICT = EgressPolicy()
LOOPBACK = EgressPolicy(allow_loopback=True)


@pytest.mark.parametrize(("address", "kind", "setting"), [
    ("169.254.169.254", "a cloud metadata address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("fd00:ec2::254", "a cloud metadata address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("100.100.100.200", "a cloud metadata address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("169.254.10.1", "a link-local address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("fe80::1", "a link-local address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("127.0.0.1", "a loopback address", "AIGC_EGRESS_ALLOW_LOOPBACK"),
    ("::1", "a loopback address", "AIGC_EGRESS_ALLOW_LOOPBACK"),
    ("10.1.2.3", "a private address", "AIGC_EGRESS_ALLOW_PRIVATE"),
    ("172.16.0.9", "a private address", "AIGC_EGRESS_ALLOW_PRIVATE"),
    ("192.168.1.1", "a private address", "AIGC_EGRESS_ALLOW_PRIVATE"),
    ("100.64.0.1", "a private address", "AIGC_EGRESS_ALLOW_PRIVATE"),
    ("fd12:3456::1", "a private address", "AIGC_EGRESS_ALLOW_PRIVATE"),
    ("0.0.0.0", "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("::", "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("224.0.0.1", "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("ff02::1", "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("240.0.0.1", "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("255.255.255.255", "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"),
])
def test_strict_policy_refuses_every_non_public_kind(address: str, kind: str, setting: str) -> None:
    assert STRICT.address_refusal(ipaddress.ip_address(address)) == (
        f"{address} is {kind}, which outbound requests may not reach (the operator can allow "
        f"it with {setting})")


def test_an_ipv4_mapped_ipv6_address_is_judged_as_the_ipv4_address_it_carries() -> None:
    refusal = STRICT.address_refusal(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert refusal.startswith("169.254.169.254 is a cloud metadata address")


def test_public_addresses_pass() -> None:
    for address in ("93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"):
        assert STRICT.address_refusal(ipaddress.ip_address(address)) == ""


def test_allowing_private_ranges_allows_neither_metadata_nor_link_local_nor_loopback() -> None:
    policy = EgressPolicy(allow_private=True)
    assert policy.address_refusal(ipaddress.ip_address("10.0.0.5")) == ""
    assert policy.address_refusal(ipaddress.ip_address("fd12::5")) == ""
    for address in ("169.254.169.254", "100.100.100.200", "169.254.1.1", "127.0.0.1"):
        assert policy.address_refusal(ipaddress.ip_address(address)) != ""


def test_allowed_networks_allow_exactly_their_addresses() -> None:
    policy = EgressPolicy.of(allow_networks=["10.20.0.0/16", " 169.254.169.254/32 ", ""])
    assert policy.allow_networks == (ipaddress.ip_network("10.20.0.0/16"),
                                     ipaddress.ip_network("169.254.169.254/32"))
    assert policy.address_refusal(ipaddress.ip_address("10.20.3.4")) == ""
    assert policy.address_refusal(ipaddress.ip_address("169.254.169.254")) == ""
    assert policy.address_refusal(ipaddress.ip_address("10.21.0.1")) != ""


@pytest.mark.parametrize(("url", "message"), [
    ("file:///etc/passwd", "Refused a file URL: outbound requests use http or https only."),
    ("ftp://example.org/feed", "Refused a ftp URL: outbound requests use http or https only."),
    ("gopher://127.0.0.1:6379/_FLUSHALL",
     "Refused a gopher URL: outbound requests use http or https only."),
    ("/relative/path", "Refused a relative URL: outbound requests use http or https only."),
    ("http://169.254.169.254/latest/meta-data/",
     "Refused to connect to 169.254.169.254: 169.254.169.254 is a cloud metadata address, "
     "which outbound requests may not reach (the operator can allow it with "
     "AIGC_EGRESS_ALLOW_NETWORKS)."),
    ("https://[::ffff:10.0.0.1]/", "Refused to connect to ::ffff:10.0.0.1: 10.0.0.1 is a private "
     "address, which outbound requests may not reach (the operator can allow it with "
     "AIGC_EGRESS_ALLOW_PRIVATE)."),
])
def test_check_url_refuses_other_schemes_and_literal_addresses(url: str, message: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        STRICT.check_url(url)
    assert str(refused.value) == message


def test_a_dns_name_is_judged_by_the_addresses_it_resolves_to() -> None:
    with pytest.raises(EgressRefused) as refused:
        STRICT.check_url("http://localhost:8000/v1")
    assert str(refused.value).startswith("Refused to connect to localhost (")
    assert "is a loopback address" in str(refused.value)
    LOOPBACK.check_url("http://localhost:8000/v1")  # allowed: no exception


def test_the_client_refuses_loopback_before_sending_anything() -> None:
    with HttpPeer(200) as peer, egress_client(STRICT) as client:
        with pytest.raises(EgressRefused, match="127.0.0.1 is a loopback address"):
            client.get(peer.url + "/hook")
        with pytest.raises(EgressRefused, match=r"Refused to connect to localhost \("):
            client.get(peer.url.replace("127.0.0.1", "localhost") + "/hook")
        assert peer.requests == []


def test_the_client_sends_where_the_policy_allows() -> None:
    with HttpPeer(Reply(200, {"ok": True})) as peer, egress_client(LOOPBACK) as client:
        assert client.get(peer.url + "/hook").json() == {"ok": True}
    assert [r.path for r in peer.requests] == ["/hook"]


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://10.0.0.7:6379/",
    "http://[fe80::1]/",
    "file:///etc/passwd",
])
def test_every_redirect_hop_is_checked(location: str) -> None:
    with HttpPeer(Reply(302, headers={"Location": location})) as peer, \
            egress_client(LOOPBACK, follow_redirects=True) as client:
        with pytest.raises(EgressRefused):
            client.get(peer.url + "/feed")
    assert [r.path for r in peer.requests] == ["/feed"]


def test_an_allowed_redirect_is_followed() -> None:
    with HttpPeer(Reply(200, "final")) as target, \
            HttpPeer(Reply(301, headers={"Location": target.url + "/moved"})) as first, \
            egress_client(LOOPBACK, follow_redirects=True) as client:
        assert client.get(first.url + "/feed").text == "final"
    assert [r.path for r in target.requests] == ["/moved"]


def test_a_redirect_to_loopback_is_refused_when_only_the_first_network_is_allowed() -> None:
    # The first hop is allowed by its network (127.0.0.1/32); the redirect names localhost
    # by a loopback address outside it (127.0.0.2).
    policy = EgressPolicy.of(allow_networks=["127.0.0.1/32"])
    with HttpPeer(Reply(302, headers={"Location": "http://127.0.0.2:9/"})) as peer, \
            egress_client(policy, follow_redirects=True) as client:
        with pytest.raises(EgressRefused, match="127.0.0.2 is a loopback address"):
            client.get(peer.url + "/feed")
    assert len(peer.requests) == 1
