"""The deployment's egress policy (workers/egress.py), built from its settings."""

from __future__ import annotations

import functools

from django.conf import settings

from workers.egress import EgressPolicy, EgressRefused, UnresolvedHost


def egress_policy() -> EgressPolicy:
    """The policy every outbound request of a worker goes through (AIGC_EGRESS_* settings)."""
    return _policy(settings.EGRESS_ALLOW_LOOPBACK, settings.EGRESS_ALLOW_PRIVATE,
                   tuple(settings.EGRESS_ALLOW_NETWORKS))


@functools.cache
def _policy(allow_loopback: bool, allow_private: bool, networks: tuple[str, ...]) -> EgressPolicy:
    return EgressPolicy.of(allow_loopback=allow_loopback, allow_private=allow_private,
                           allow_networks=networks)


def egress_url_error(url: str) -> str:
    """Why the workers would refuse to send to `url`, or "": the same check at the time it
    is configured, so the form or the API says so at once. A host that does not resolve
    here passes (the worker's network may know it); the worker checks again when it sends."""
    try:
        egress_policy().check_url(url)
    except EgressRefused as exc:
        return str(exc)
    except UnresolvedHost:
        return ""
    return ""
