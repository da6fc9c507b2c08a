"""The sandbox's state and behaviour, usable directly (without HTTP).

:class:`Sandbox` composes the parts, each a module named for what it does, that share one state and
one event heap (declared in ``clock.py``):

- ``clock.py``: sandbox time, the event heap, the release stream (base of every part)
- ``store.py``: orders as bytes plus indexed records, ``_save``
- ``auth.py``: tokens, OAuth code exchange and refresh
- ``generate.py``: seeded orders, releases, storing a new order with its events
- ``create.py``: orders created through the admin API
- ``listing.py``: get / list orders, bulk download jobs
- ``aftersales.py``: tickets and penalties
- ``carrier.py``: carrier scans, deliveries, cancelled tracking, deadlines
- ``writes.py``: tracking, address and refund writes; labels

The names other modules import from here (``STATES``, ``OrderRec``, ...) live in ``model.py`` and are
re-exported.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter, deque
from typing import Any

from .config import FaultConfig, SandboxConfig
from .data import build_catalog
from .model import (
    ORDER_TYPE_FILTERS,
    REASONS_AFTER_DELIVERY,
    REASONS_BEFORE_SHIPPING,
    REASONS_IN_TRANSIT,
    REFUND_REASONS,
    SCOPES,
    STATES,
    TICKET_STATES,
    TICKET_TYPES,
    OrderRec,
    SandboxClock,
    _digest,
    deep_merge,
    is_object_id,
    now_utc,
)
from .timeutil import DAY_MS, HOUR_MS, dt_to_ms, fmt_ms
from .write_profiles import resolve as resolve_write_profile
from .writes import WritesPart

# what other modules imported from here before the split; they live in model.py now
__all__ = [
    "ORDER_TYPE_FILTERS",
    "REASONS_AFTER_DELIVERY",
    "REASONS_BEFORE_SHIPPING",
    "REASONS_IN_TRANSIT",
    "REFUND_REASONS",
    "SCOPES",
    "STATES",
    "TICKET_STATES",
    "TICKET_TYPES",
    "OrderRec",
    "Sandbox",
    "SandboxClock",
    "deep_merge",
    "is_object_id",
    "now_utc",
]


class Sandbox(WritesPart):
    """In-memory Wish merchant: orders, tokens, tickets, penalties, a clock and the events it drives."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.lock = threading.RLock()
        self._init_state(self.config.seed)

    def _init_state(self, seed: int) -> None:
        """Set up the one state every part shares (declared in ``clock.py``), from the config and ``seed``."""
        cfg = self.config
        cfg.seed = seed
        start_ms = dt_to_ms(cfg.start_time) if cfg.start_time is not None else int(time.time() * 1000)
        running = cfg.clock_running if cfg.clock_running is not None else cfg.start_time is None
        self.clock = SandboxClock(start_ms, running)
        self._last_tick_ms = start_ms
        self._rng = random.Random(f"{seed}:orders")
        self._id_rng = random.Random(f"{seed}:ids")
        self.fault_rng = random.Random(f"{seed}:faults")
        self.faults = FaultConfig.from_dict(cfg.faults.to_dict())
        # credentials, deterministic by seed
        self.merchant_id = _digest("merchant", seed, length=24)
        self.client_id = _digest("client_id", seed, length=24)
        self.client_secret = _digest("client_secret", seed)
        self.refresh_token = _digest("refresh_token", seed)
        self.redirect_uri = "https://localhost/wishflow/oauth/callback"
        self.warehouse_id = _digest("warehouse", seed, length=24)
        self._token_counter = 0
        self._tokens = {}
        self._refresh_tokens = {self.refresh_token: True}
        self._auth_codes = {}
        self.access_token = self._issue_access_token(start_ms)
        self.auth_code = self.new_auth_code()
        # reference data
        catalog_epoch = start_ms - 400 * DAY_MS
        self.catalog = build_catalog(random.Random(f"{seed}:catalog"), catalog_epoch)
        self._recent_recipients = deque(maxlen=300)
        self._product_cache = {}
        self._proto_cache = None
        self._payment_cache = {}
        # orders and indexes
        self._orders = {}
        self._idx = {(f, s): [] for f in ("updated_at", "released_at") for s in STATES}
        self._tracking_index = {}
        self._writes = {}
        # write-behaviour profile (write_profiles.py): tracking writes accepted, not yet processed
        self.write_profile = resolve_write_profile(cfg.write_profile)
        self._pending_tracking = {}
        self._busy_until = {}
        self._events = []
        self._event_seq = itertools.count()
        self._tickets = {}
        self._penalties = {}
        self._jobs = {}
        self._label_counter = 0
        self.request_stats = Counter()
        self._next_release_ms = None
        if cfg.release_rate_per_hour > 0:
            self._next_release_ms = start_ms + int(HOUR_MS / cfg.release_rate_per_hour)
        if cfg.orders:
            self._generate_initial(cfg.orders, start_ms)

    def reset(self, seed: int | None = None) -> None:
        """Forget everything and start again (same config; optionally another seed)."""
        with self.lock:
            self._init_state(self.config.seed if seed is None else seed)

    def stats(self) -> dict[str, Any]:
        """Counts for the admin API: orders by state, requests by endpoint and outcome, and the rest.

        Brings the clock up to date first, so the counts include everything that fell due.
        """
        with self.lock:
            self.tick()
            by_state = {s: len(self._idx[("updated_at", s)]) for s in STATES}
            requests: dict[str, dict[str, int]] = {}
            for (endpoint, outcome), n in sorted(self.request_stats.items()):
                requests.setdefault(endpoint, {})[outcome] = n
            return {
                "now": fmt_ms(self.now_ms()),
                "orders": {"total": len(self._orders), "by_state": by_state},
                "requests": requests,
                "tickets": dict(Counter(t["state"] for t in self._tickets.values())),
                "penalties": len(self._penalties),
                "pending_events": len(self._events),
                "writes": sum(len(w) for w in self._writes.values()),
            }
