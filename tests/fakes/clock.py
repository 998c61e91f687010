"""A clock the fakes read instead of time.time().

Why: token expiry, authorization-code lifetime and the Pacific-time quota day
must be testable without sleeping. Tests call `advance()`; everything else sees
real time plus the offset, so timestamps stay plausible.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, like time.time()."""
        with self._lock:
            return time.time() + self._offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
