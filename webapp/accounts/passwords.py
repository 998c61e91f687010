"""Password hashing and the password policy.

bcrypt reads at most 72 bytes and rejects longer input, so the password is
first reduced with SHA-256 (base64, 44 bytes, no NUL) and then hashed with
bcrypt: long passphrases keep all their strength and the stored value is
still a standard bcrypt hash.

The policy follows NIST SP 800-63B: length first (12 or more characters),
no composition rules, and a refusal of the most common passwords.
"""

from __future__ import annotations

import base64
import hashlib

import bcrypt

MIN_LENGTH = 12
MAX_LENGTH = 256
BCRYPT_ROUNDS = 12

_COMMON = frozenset(
    """
    123456789012 password1234 passwordpassword qwertyuiopas 111111111111 000000000000
    123123123123 abcdefghijkl iloveyou1234 letmeinletmein administrator welcomewelcome
    qwerty123456 password123! changemenow! youtubeyoutube 1q2w3e4r5t6y
    """.split()
)

# Real hashes of an unguessable value, one per cost: checking a login for an
# unknown email costs the same time as for a known one.
_DUMMY_HASHES: dict[int, str] = {}


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, stored_hash: str | None, rounds: int = BCRYPT_ROUNDS) -> bool:
    """Check a password; with no stored hash, spend the same time and say no."""
    if not stored_hash:
        dummy = _DUMMY_HASHES.get(rounds)
        if dummy is None:
            dummy = _DUMMY_HASHES[rounds] = hash_password("not a password anyone has", rounds)
        bcrypt.checkpw(_prehash(password), dummy.encode("ascii"))
        return False
    try:
        return bcrypt.checkpw(_prehash(password), stored_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash: refuse, never crash
        return False


def policy_problem(password: str, email: str = "") -> str | None:
    """What is wrong with a new password, in words for the form; None if fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters. A few unrelated words make a strong, memorable password."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 4:
        return "That password is too easy to guess. Try a few unrelated words."
    if email and lowered == email.strip().lower():
        return "Your password cannot be your email address."
    return None
