"""Encryption at rest for secrets (target credentials), with key rotation.

AIGC_ENCRYPTION_KEYS holds Fernet keys, newest first: new values are written
with the first, and any listed key still decrypts, so keys rotate by
prepending a new one and re-encrypting (`secret_rotate`).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from apps.core.errors import DomainError


def _fernet() -> MultiFernet:
    keys: list[str | bytes] = list(settings.ENCRYPTION_KEYS)
    if not keys:  # development only: settings refuse to start without keys when DEBUG is off
        keys = [base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())]
    return MultiFernet([Fernet(k) for k in keys])


def secret_encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def secret_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DomainError("A stored secret cannot be decrypted with the configured keys.") from exc


def secret_rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode() if token else ""
