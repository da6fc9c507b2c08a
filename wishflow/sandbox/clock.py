"""The sandbox's clock and its event heap, and the declaration of the one state every part shares.

Everything that happens "later" (asynchronous write completion, first carrier scan, delivery,
cancelled tracking, auto-refund at ``expected_ship_time``, penalties, tickets, releases) is an event
on a heap keyed by sandbox time; :meth:`ClockAndEvents.tick` fires what is due, and every API call
ticks first. An event of kind ``k`` is handled by the part that defines ``_on_k``. An event fires with
its own due time as ``updated_at`` (never earlier than the previous tick), so a keyset client never
misses an update that happened "in the past".
"""

from __future__ import annotations

import heapq
import random
import threading
from collections import Counter, deque
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from . import errors as E
from .config import FaultConfig, SandboxConfig
from .data import Variation
from .errors import SandboxError
from .model import OrderRec, SandboxClock
from .timeutil import HOUR_MS, dt_to_ms, ms_to_dt, parse_ms
from .write_profiles import WriteProfile


class ClockAndEvents:
    """Sandbox time, the event heap and the release stream; the base of every sandbox part."""

    # The one state every part reads and writes, set up by ``Sandbox._init_state``; declared here so
    # that each part's methods type-check on their own.
    config: SandboxConfig
    lock: threading.RLock
    clock: SandboxClock
    _last_tick_ms: int
    _rng: random.Random
    _id_rng: random.Random
    fault_rng: random.Random
    faults: FaultConfig
    merchant_id: str
    client_id: str
    client_secret: str
    refresh_token: str
    redirect_uri: str
    warehouse_id: str
    _token_counter: int
    _tokens: dict[str, dict[str, Any]]
    _refresh_tokens: dict[str, bool]
    _auth_codes: dict[str, dict[str, Any]]
    access_token: str
    auth_code: str
    catalog: list[Variation]
    _recent_recipients: deque[dict[str, Any]]
    _product_cache: dict[int, dict[str, Any]]
    _proto_cache: list[tuple[list[bytes | str], tuple[str, ...], int]] | None
    _proto_profile: str
    _payment_cache: dict[tuple[int, int, bool], dict[str, Any]]
    _orders: dict[str, OrderRec]
    _idx: dict[tuple[str, str], list[tuple[int, str]]]
    _tracking_index: dict[str, set[str]]
    _writes: dict[str, list[dict[str, Any]]]
    write_profile: WriteProfile
    _pending_tracking: dict[str, list[int]]
    _busy_until: dict[str, int]
    _events: list[tuple[int, int, str, str, dict[str, Any]]]
    _event_seq: Iterator[int]
    _tickets: dict[str, dict[str, Any]]
    _penalties: dict[str, dict[str, Any]]
    _jobs: dict[str, dict[str, Any]]
    _label_counter: int
    request_stats: Counter[tuple[str, str]]
    _next_release_ms: int | None

    def _release_one(self, at_ms: int) -> None:
        """Release one new order at ``at_ms`` (the release stream's hook; order generation defines it)."""
        raise NotImplementedError

    def now_ms(self) -> int:
        """The sandbox's current time in epoch milliseconds (without firing due events)."""
        return self.clock.now_ms()

    def now(self) -> datetime:
        """The sandbox's current time as a UTC datetime (without firing due events)."""
        return ms_to_dt(self.clock.now_ms())

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and fire everything that falls due."""
        if seconds < 0:
            raise SandboxError(E.INVALID_PARAMETER, "advance_seconds must not be negative")
        with self.lock:
            self.clock.set_ms(self.clock.now_ms() + int(round(seconds * 1000)))
            self.tick()
            return self.now()

    def set_now(self, when: datetime | str) -> datetime:
        """Set the clock (never backwards) and fire everything that falls due."""
        with self.lock:
            ms = parse_ms(when) if isinstance(when, str) else dt_to_ms(when)
            if ms < self.clock.now_ms():
                raise SandboxError(E.INVALID_PARAMETER, "the sandbox clock cannot go backwards")
            self.clock.set_ms(ms)
            self.tick()
            return self.now()

    def _schedule(self, due_ms: int, kind: str, target: str, **data: Any) -> None:
        due_ms = max(due_ms, self._last_tick_ms)
        heapq.heappush(self._events, (due_ms, next(self._event_seq), kind, target, data))

    def tick(self) -> int:
        """Fire every event and release that is due by the current sandbox time."""
        with self.lock:
            now = self.clock.now_ms()
            while True:
                next_event = self._events[0][0] if self._events else None
                next_release = self._next_release_ms
                if (
                    next_release is not None
                    and next_release <= now
                    and (next_event is None or next_release <= next_event)
                ):
                    self._last_tick_ms = max(self._last_tick_ms, next_release)
                    self._release_one(next_release)
                    assert self.config.release_rate_per_hour > 0
                    step = int(HOUR_MS / self.config.release_rate_per_hour)
                    self._next_release_ms = next_release + max(step, 1)
                    continue
                if next_event is None or next_event > now:
                    break
                due, _, kind, target, data = heapq.heappop(self._events)
                self._last_tick_ms = max(self._last_tick_ms, due)
                handler = getattr(self, f"_on_{kind}")
                handler(due, target, data)
            self._last_tick_ms = max(self._last_tick_ms, now)
            return now
