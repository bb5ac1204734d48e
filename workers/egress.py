"""The one egress policy for outbound HTTP from workers: model servers, publishing targets,
outbound webhooks and feeds.

A URL passes when its scheme is http or https and every address its host resolves to is
allowed. Loopback, private ranges (RFC 1918, CGNAT, ULA), link-local and cloud metadata
addresses, and the unspecified, multicast and reserved ranges are refused unless the
operator allows them: a worker sits inside the deployment's network, so a URL a user typed
must not reach the database, the broker or the cloud's metadata service through it.

`EgressTransport` enforces the policy for an httpx client: every request, each redirect
hop included, has its URL checked, and the connection is opened to an address checked at
connect time (the one actually dialled), so a DNS name that answers a public address to
the check and a private one to the connection still cannot get in. Plain data and httpx
only: the Django side builds the policy from its settings (apps.core.egress).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")
METADATA = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
    "169.254.170.2/32",  # AWS ECS task credentials
    "100.100.100.200/32",  # Alibaba Cloud
    "fd00:ec2::254/128",  # AWS over IPv6
))
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
    "fc00::/7",  # unique local (RFC 4193)
))


LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults


class UnresolvedHost(httpcore.ConnectError):
    """No address to judge: not a refusal, a connection error (httpx raises it as
    httpx.ConnectError, which callers retry like any unreachable host)."""


class EgressRefused(Exception):
    """The egress policy refuses this URL; the message says why and what the operator can
    allow. Permanent: sending again cannot help."""


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses outbound requests may reach besides the public internet."""

    allow_loopback: bool = False
    allow_private: bool = False  # RFC 1918, CGNAT and ULA (not link-local or metadata)
    allow_networks: tuple[IPNetwork, ...] = ()  # anything in these, whatever its kind

    @classmethod
    def of(cls, *, allow_loopback: bool = False, allow_private: bool = False,
           allow_networks: Iterable[str] = ()) -> EgressPolicy:
        """A policy from plain settings; a network that does not parse raises ValueError."""
        return cls(allow_loopback=allow_loopback, allow_private=allow_private,
                   allow_networks=tuple(ipaddress.ip_network(n.strip(), strict=False)
                                        for n in allow_networks if n.strip()))

    def address_refusal(self, address: IPAddress) -> str:
        """Why `address` is refused (its kind and the setting that allows it), or ""."""
        # ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address it carries.
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        if any(address in network for network in self.allow_networks):
            return ""
        if any(address in network for network in METADATA):
            kind, setting = "a cloud metadata address", "AIGC_EGRESS_ALLOW_NETWORKS"
        elif address.is_loopback:
            if self.allow_loopback:
                return ""
            kind, setting = "a loopback address", "AIGC_EGRESS_ALLOW_LOOPBACK"
        elif address.is_link_local:
            kind, setting = "a link-local address", "AIGC_EGRESS_ALLOW_NETWORKS"
        elif any(address in network for network in PRIVATE):
            if self.allow_private:
                return ""
            kind, setting = "a private address", "AIGC_EGRESS_ALLOW_PRIVATE"
        elif address.is_multicast or address.is_unspecified or not address.is_global:
            kind, setting = "a reserved address", "AIGC_EGRESS_ALLOW_NETWORKS"
        else:
            return ""
        return f"{address} is {kind}, which outbound requests may not reach (the operator " \
               f"can allow it with {setting})"

    def check_address(self, host: str, address: IPAddress) -> None:
        refusal = self.address_refusal(address)
        if refusal:
            shown = host if _ip(host) == address else f"{host} ({address})"
            raise EgressRefused(f"Refused to connect to {shown}: {refusal}.")

    def check_url(self, url: str | httpx.URL) -> None:
        """Raise EgressRefused unless `url` is http(s) with a host whose every address is
        allowed (the host resolved through DNS)."""
        host = self.url_host(url)
        for address in resolve(host, 443):
            self.check_address(host, address)

    def url_host(self, url: str | httpx.URL) -> str:
        """The host of an http(s) URL, an IP literal checked already; else EgressRefused."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise EgressRefused(f"Refused an invalid URL: {exc}.") from exc
        if parsed.scheme not in SCHEMES:
            raise EgressRefused(f"Refused a {parsed.scheme or 'relative'} URL: outbound requests "
                                "use http or https only.")
        if not parsed.host:
            raise EgressRefused("Refused a URL without a host.")
        literal = _ip(parsed.host)
        if literal is not None:
            self.check_address(parsed.host, literal)
        return parsed.host


STRICT = EgressPolicy()  # the public internet only: the default wherever none is given


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (one, for an IP literal); EgressRefused when none."""
    literal = _ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedHost(f"{host} could not be resolved: {exc}") from exc
    # sockaddr[0] of an IPv6 scope carries "%scope"; the address itself is what is judged.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0])
                              for info in infos))


class _CheckedNetwork(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the policy allows: the host is resolved
    here, every address checked, and the socket connected to a checked address."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._plain = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        for address in addresses:  # any refused address refuses the host: no lottery
            self.policy.check_address(host, address)
        error: Exception | None = None
        for address in addresses:
            try:
                return self._plain.connect_tcp(str(address), port, timeout=timeout,
                                               local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        raise EgressRefused("Refused a Unix socket: outbound requests use TCP only.")

    def sleep(self, seconds: float) -> None:
        self._plain.sleep(seconds)


class EgressTransport(httpx.HTTPTransport):
    """httpx's transport with every request's URL checked (redirect hops are requests of
    their own) and every connection opened through `_CheckedNetwork`. Environment proxies
    are not used: a proxy would connect on our behalf, past the check."""

    def __init__(self, policy: EgressPolicy, *, verify: bool = True,
                 limits: httpx.Limits = LIMITS) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self.policy = policy
        # httpx takes no network backend of its own; the pool it wraps does. The environment
        # still names the CA bundle (SSL_CERT_FILE, SSL_CERT_DIR) of a private CA's targets.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedNetwork(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.url_host(request.url)  # scheme and literal addresses, before any DNS
        return super().handle_request(request)


def egress_client(policy: EgressPolicy, **options: Any) -> httpx.Client:
    """An httpx.Client whose every request and redirect passes `policy` (options as for
    httpx.Client, without transport or proxies)."""
    return httpx.Client(transport=EgressTransport(policy), trust_env=False, **options)
