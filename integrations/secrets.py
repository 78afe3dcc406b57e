"""Secrets at rest: Fernet with key rotation (MultiFernet).

The first key of FIELD_ENCRYPTION_KEYS encrypts; every key decrypts. Values are
stored as Fernet tokens in text columns; the plaintext never reaches the database.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


def _as_fernet_key(raw: str) -> bytes:
    """Accept a proper Fernet key, or any passphrase (stretched with SHA-256)."""
    try:
        key = raw.encode()
        if len(base64.urlsafe_b64decode(key)) == 32:
            return key
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_as_fernet_key(k)) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Raises ValueError when no configured key can read the token."""
    return _decrypted(token, tuple(settings.FIELD_ENCRYPTION_KEYS))


@lru_cache(maxsize=256)
def _decrypted(token: str, keys: tuple[str, ...]) -> str:
    """Kept per process: every delivery loads its account's credentials, and each
    decryption (an HMAC check and AES) is a noticeable part of a delivery's CPU. The
    process holds the keys anyway; a key taken out of the settings stops the cached
    tokens from being read, as it stops the stored ones."""
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("stored secret cannot be decrypted with the configured keys") from exc


def reencrypt(token: str) -> str:
    """Re-encrypt a stored token with the first (current) key."""
    return fernet().rotate(token.encode()).decode()


def new_api_key(prefix: str = "lf") -> str:
    """A random inbound API key: 256 bits of entropy, URL-safe."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(value: str) -> str:
    """SHA-256 hex digest used to look up inbound API keys.

    A fast hash is right here: the keys are random with 256 bits of entropy, so they
    cannot be brute-forced, and a slow password hash would cap intake throughput.
    """
    return hashlib.sha256(value.encode()).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column whose value is encrypted at rest. Empty stays empty."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
