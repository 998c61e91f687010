"""Encryption at rest for OAuth tokens (Fernet, from `cryptography`).

TOKEN_ENCRYPTION_KEY holds one or more keys, comma-separated, newest first:
the first encrypts, every one decrypts, so keys can be rotated without
downtime (add a new key in front, run `flask tokens rotate`, drop the old).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from reliability.errors import ConfigError

__all__ = ["TokenCipher", "InvalidToken"]


class TokenCipher:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ConfigError("TOKEN_ENCRYPTION_KEY: expected at least one Fernet key to store OAuth tokens")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Raises InvalidToken when no configured key opens it."""
        return self._fernet.decrypt(ciphertext.encode("ascii")).decode()

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the newest key."""
        return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
