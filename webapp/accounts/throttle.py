"""Per-account limits on password guesses: the one door every password goes
through (login, change password, delete account, and the JSON API's token
endpoint when it exists).

The per-address limit (Flask-Limiter) stops one address; an attacker with
many addresses could still guess one account's password. So each account
also gets a few free failures, then growing delays (doubling, at most
``LOGIN_ACCOUNT_MAX_DELAY_S``, never over 15 minutes, so an attacker cannot
lock the owner out for long). While an account waits, even the right
password is refused with 429 and Retry-After.

The account is named by the email as typed, normalised (NFKC, lower case)
and hashed, whether or not an account has it: an unknown email is limited
exactly like a known one, so the limit says nothing about who has an
account. Counters live in Redis (a Lua script, atomic across workers) and
expire by themselves; Flask-Limiter has no growing delays, hence our own.
If Redis is down the per-account limit is skipped (logged) and the
per-address limit, counted in memory, still holds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import unicodedata

import redis
from flask import current_app

from reliability.errors import RateLimited
from webapp.accounts.passwords import verify_password
from webapp.redis_client import get_redis

log = logging.getLogger(__name__)

# How long failures are remembered after the last one; a successful login
# forgets them at once.
FAILURE_MEMORY_S = 24 * 3600
_PREFIX = "yco:login-account:"

_RECORD_FAILURE = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
local over = n - tonumber(ARGV[1])
if over <= 0 then return 0 end
local delay = math.min(tonumber(ARGV[2]) * 2 ^ math.min(over - 1, 30), tonumber(ARGV[3]))
redis.call('SET', KEYS[2], '1', 'PX', math.floor(delay))
return math.floor(delay)
"""


class AccountLocked(RateLimited):
    """The account is in a delay after too many wrong passwords."""

    code = "account_locked"

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed attempts for this account. Try again in {_in_words(retry_after)}.")
        self.retry_after = retry_after


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _keys(email: str) -> tuple[str, str]:
    # As the database compares addresses (email_key_of: NFKC, then lower case).
    normalised = unicodedata.normalize("NFKC", (email or "").strip()).strip().lower()
    digest = hashlib.sha256(normalised.encode("utf-8")).hexdigest()
    return f"{_PREFIX}failures:{digest}", f"{_PREFIX}lock:{digest}"


def wait_seconds(email: str) -> int:
    """Seconds until the account may try a password again; 0 when it may now."""
    try:
        left_ms = get_redis().pttl(_keys(email)[1])
    except redis.RedisError:
        log.warning("per-account login limit skipped: Redis unavailable")
        return 0
    return math.ceil(left_ms / 1000) if left_ms and left_ms > 0 else 0


def record_failure(email: str) -> int:
    """Count a wrong password; returns the delay (seconds) it started, 0 if none."""
    config = current_app.config
    try:
        script = get_redis().register_script(_RECORD_FAILURE)
        delay_ms = script(
            keys=list(_keys(email)),
            args=[
                config["LOGIN_ACCOUNT_FREE_ATTEMPTS"],
                config["LOGIN_ACCOUNT_FIRST_DELAY_S"] * 1000,
                config["LOGIN_ACCOUNT_MAX_DELAY_S"] * 1000,
                FAILURE_MEMORY_S,
            ],
        )
    except redis.RedisError:
        log.warning("per-account login failure not counted: Redis unavailable")
        return 0
    return math.ceil(int(delay_ms) / 1000)


def record_success(email: str) -> None:
    try:
        get_redis().delete(*_keys(email))
    except redis.RedisError:
        log.warning("per-account login counter not reset: Redis unavailable")


def check_password(email: str, password: str, stored_hash: str | None) -> bool:
    """The door for a password of the account ``email`` (``stored_hash`` None
    for an unknown email: same time, same answer). Raises AccountLocked while
    the account waits, without looking at the password; otherwise verifies
    and counts the outcome."""
    retry_after = wait_seconds(email)
    if retry_after:
        raise AccountLocked(retry_after)
    if verify_password(password, stored_hash, current_app.config["BCRYPT_ROUNDS"]):
        record_success(email)
        return True
    record_failure(email)
    return False
