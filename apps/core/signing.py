"""The Standard Webhooks scheme, both ways: sign what we send (outbound event
subscriptions, webhook publishing targets), verify what we receive (inbound hooks).

signature = "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")), with the
key the base64 bytes after `whsec_`. A header may carry several space-separated
signatures (the sender rotating); one match with one of our secrets is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

from apps.core.errors import DomainError

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60  # the scheme's recommended window against replays of old captures


class SignatureError(DomainError):
    status_code = 401


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise DomainError("A signing secret has the form whsec_<base64>.")
    encoded = secret[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise DomainError("The signing secret after whsec_ is not valid base64.") from exc
    if not key:
        raise DomainError("The signing secret is empty.")
    return key


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256)
                                    .digest()).decode()


def signed_headers(*, secret: str, msg_id: str, body: bytes, timestamp: int | None = None
                   ) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret=secret, msg_id=msg_id, timestamp=timestamp,
                                      body=body)}


def verify(*, secrets_: Iterable[str], headers: Mapping[str, str], body: bytes,
           now: float | None = None) -> str:
    """The verified `webhook-id`, or SignatureError saying what is wrong."""
    msg_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    received = headers.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and received):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    if len(msg_id) > 200:
        raise SignatureError("The webhook-id is longer than 200 characters.")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError("The webhook-timestamp is not a Unix time in seconds.") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
        raise SignatureError("The webhook-timestamp is more than 5 minutes away from now.")
    offered = [part.split(",", 1)[1] for part in received.split() if part.startswith("v1,")]
    for secret in secrets_:
        expected = sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)[3:]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return msg_id
    raise SignatureError("No webhook-signature matches a secret of this endpoint.")
