"""One pacer per client: every request to Wish, from any thread, goes through it.

Wish's rate limit is per merchant and app, not per caller, so pacing must be shared by everyone who
holds the client (the pull, tracking's threads, shipping's workers). The pacer does three things
(a caller with stricter settings tightens it with :meth:`RequestPacer.limit`):

- an optional fixed ceiling (``max_rate`` requests per second, a token bucket with a one-second burst);
- when the last ``Wish-Rate-Limit-Remaining`` seen is at or below ``reserve``, calls are spaced at the
  rate Wish appears to allow, so the callers slow down before they hit a 429;
- after a 429, every caller waits until the reset Wish announced (:meth:`pause_until`), not only the
  one that received it (the others would only collect more 429s).

The clock and sleep are injectable so tests never wait for real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestPacer:
    """Thread-safe pacing of requests to Wish (see the module docstring)."""

    def __init__(
        self,
        max_rate: float | None = None,
        *,
        reserve: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_rate is not None and max_rate <= 0:
            raise ValueError("max_rate must be positive (or None for no fixed ceiling)")
        self.max_rate = max_rate
        self.reserve = reserve
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(max_rate or 0)
        self._last = clock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._max_seen = 0
        self.remaining: int | None = None
        self.calls = 0
        self.waited = 0.0

    def limit(self, max_rate: float | None = None, *, reserve: int | None = None) -> None:
        """Tighten the pacing for a caller that asks for more care, never loosen it.

        A fixed ceiling (the lower of the current one and ``max_rate`` wins; None keeps the current one)
        and a larger ``reserve`` (a pool of N workers wants pacing to start N calls before Wish's limit,
        not 4). Shipping's run settings (``max_rate``, ``workers``) arrive here: there is no second
        limiter.
        """
        if max_rate is not None and max_rate <= 0:
            raise ValueError("max_rate must be positive (or None for no fixed ceiling)")
        with self._lock:
            if max_rate is not None and (self.max_rate is None or max_rate < self.max_rate):
                self._tokens = min(self._tokens, float(max_rate)) if self.max_rate else float(max_rate)
                self.max_rate = max_rate
            if reserve is not None:
                self.reserve = max(self.reserve, reserve)

    def note_remaining(self, remaining: int) -> None:
        """Record ``Wish-Rate-Limit-Remaining`` from a response."""
        with self._lock:
            self.remaining = remaining
            self._max_seen = max(self._max_seen, remaining)

    def pause_until(self, when: float) -> None:
        """Hold every caller until ``when`` (a time on this pacer's clock): Wish said to wait."""
        with self._lock:
            self._paused_until = max(self._paused_until, when)

    def delay_for_next(self) -> float:
        """Reserve the next slot and return how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            delay = max(0.0, self._paused_until - now)
            if self.max_rate:
                self._tokens = min(float(self.max_rate), self._tokens + (now - self._last) * self.max_rate)
                self._last = now
                if self._tokens < 1:
                    delay = max(delay, (1 - self._tokens) / self.max_rate)
                self._tokens -= 1
            if self.remaining is not None and self.remaining <= self.reserve:
                rate = max(self._max_seen + 1, 1)
                slot = max(now + delay, self._next_slot)
                self._next_slot = slot + 1.0 / rate
                delay = slot - now
            self.calls += 1
            return delay

    def acquire(self) -> None:
        """Wait for this caller's turn."""
        delay = self.delay_for_next()
        if delay > 0:
            self.waited += delay
            self._sleep(delay)
