"""Configuration of a sandbox: data generation, clock, carrier behaviour and fault injection."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Fault kinds with a share (probability per eligible request) in :class:`FaultConfig`.
FAULT_KINDS = (
    "http_500",  # 500 with an APIError body; the request is not processed
    "http_502",  # 502 with an HTML body (a proxy error); not processed
    "http_503",  # 503 with an APIError body; not processed
    "http_429",  # a burst of 429s (rate_limit_burst requests in a row); not processed
    "timeout",  # the request is processed, then the response waits timeout_seconds
    "cut_off",  # GET only: the body is cut off mid-way and the connection dropped
    "malformed_json",  # GET only: 200 with a body that is not valid JSON
    "schema_drift",  # GET only: unknown extra fields added to the data (clients must ignore them)
    "response_lost",  # writes only: the write takes effect, then the connection drops mid-response
    "late",  # writes only: the request waits timeout_seconds *before* it is processed (it lands after
    # a client that gave up on it: a request queued behind Wish's gateway)
)

#: Which requests each kind may hit: "any", "read" (GET) or "write" (PUT/POST).
FAULT_SCOPE = {
    "http_500": "any",
    "http_502": "any",
    "http_503": "any",
    "http_429": "any",
    "timeout": "any",
    "cut_off": "read",
    "malformed_json": "read",
    "schema_drift": "read",
    "response_lost": "write",
    "late": "write",
}


@dataclass
class FaultConfig:
    """The fault mix applied to Wish paths (``/api/v3/...``); never to ``/sandbox/``.

    Shares are probabilities per eligible request, drawn from a generator seeded by the sandbox seed.
    ``script`` holds one-shot faults that fire before any random draw, matched in order:
    ``{"kind": "response_lost", "method": "PUT", "path": "/tracking$", "count": 1}`` (``path`` is a
    regular expression searched in the request path; ``method`` and ``path`` are optional).
    ``paths`` (a regular expression) restricts the random faults to matching paths.
    """

    http_500: float = 0.0
    http_502: float = 0.0
    http_503: float = 0.0
    http_429: float = 0.0
    timeout: float = 0.0
    cut_off: float = 0.0
    malformed_json: float = 0.0
    schema_drift: float = 0.0
    response_lost: float = 0.0
    late: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    timeout_seconds: float = 30.0
    rate_limit_burst: int = 3
    paths: str | None = None
    script: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The faults as JSON (the admin API's form)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """Build from a (possibly partial) dict; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        current = dataclasses.asdict(base) if base is not None else {}
        current.update(data)
        cfg = cls(**current)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ValueError for a share outside 0..1 or a negative duration, before the faults take effect."""
        for kind in FAULT_KINDS:
            share = getattr(self, kind)
            if not isinstance(share, int | float) or not 0.0 <= float(share) <= 1.0:
                raise ValueError(f"{kind} must be a share between 0 and 1")
        for name in ("latency_ms", "latency_jitter_ms", "timeout_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        if not isinstance(self.rate_limit_burst, int) or self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be a positive integer")
        if not isinstance(self.script, list):
            raise ValueError("script must be a list")
        for entry in self.script:
            if not isinstance(entry, dict) or entry.get("kind") not in FAULT_KINDS:
                raise ValueError(f"script entries need a kind among {FAULT_KINDS}")


@dataclass
class SandboxConfig:
    """Everything that shapes a sandbox. The same config and seed give the same data and tokens."""

    seed: int = 0
    #: orders generated at start (a realistic mix of states, released over the last days)
    orders: int = 0
    #: requests per second per access token (token bucket, burst = one second); None = unlimited
    rate_limit: int | None = None
    #: SQLite file to load state from at start and save it to on stop; None = memory only
    state_file: str | None = None
    #: where the sandbox clock starts; None = real time
    start_time: datetime | None = None
    #: whether the sandbox clock follows real time; None = running iff start_time is None
    clock_running: bool | None = None
    #: new APPROVED orders released per hour of sandbox time
    release_rate_per_hour: float = 0.0
    #: delay on the sandbox clock before an asynchronous write (tracking, address, refund) completes
    ship_processing_seconds: float = 2.0
    #: share of generated orders carrying one data defect (for validation to catch)
    bad_order_share: float = 0.0
    #: share of generated orders with the WISH_EXPRESS / CONFIRMED_DELIVERY_POLICY programs
    wish_express_share: float = 0.1
    confirmed_delivery_share: float = 0.15
    #: carrier behaviour after a shipment succeeds
    delayed_share: float = 0.1
    never_scanned_share: float = 0.03
    cancelled_share: float = 0.02
    #: share of shipped orders on which the customer opens a ticket
    ticket_share: float = 0.05
    #: access token lifetime on the sandbox clock
    token_ttl_days: float = 30.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: write-behaviour profile where the spec is silent: a name from write_profiles.PROFILES or an
    #: object of knobs (see wishflow/sandbox/write_profiles.py and STATUS.md "Write profiles")
    write_profile: str | dict[str, Any] = "default"
    #: read-side behaviour where Wish is silent (a name in wishflow.sandbox.read_profiles.READ_PROFILES)
    read_profile: str = "documented"
    #: what generated data hold (a name in wishflow.sandbox.programs.DATA_PROFILES: currencies other
    #: than USD, FBW/LTL/Wish Express orders, penalty reversals); None = the read profile's choice
    data_profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON (the state file's form); the start time as ISO 8601."""
        data = dataclasses.asdict(self)
        data["start_time"] = self.start_time.isoformat() if self.start_time else None
        return data
