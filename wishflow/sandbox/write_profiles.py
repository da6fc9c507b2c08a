"""Write-behaviour profiles: what the sandbox does with a tracking write where Wish's spec is silent.

Wish documents that ``PUT /orders/{id}/tracking`` is asynchronous (``processing_status`` IN_PROGRESS,
SUCCEEDED, FAILED) and has no idempotency key. It does not say what the write's response contains,
what a read shows while the write is processed, how long processing takes, what a write to a busy
order gets, how an asynchronous failure shows, or what the same number sent twice does. Each of those
is a knob here; a named profile sets them together. ``default`` is the sandbox's behaviour before the
profiles existed. Sources are in ``STATUS.md`` ("Write profiles").

Knobs:

``response``   what the accepted PUT answers: ``new`` (the order with our tracking first, IN_PROGRESS),
               ``old`` (the order as it was before the write), ``queued`` (the old order with
               ``processing_status`` IN_PROGRESS and no new tracking), ``empty`` (``{}``).
``view``       what a GET shows while the write is processed: ``new`` (our tracking first,
               IN_PROGRESS), ``queued`` (IN_PROGRESS, tracking appears when processed), ``hidden``
               (nothing at all until processed).
``processing_seconds``  how long processing takes on the sandbox clock (None: the config's
               ``ship_processing_seconds``).
``busy``       a tracking write to an order with a write in progress: ``reject`` (400 4006),
               ``queue`` (accepted, processed after the one in progress), ``last_wins`` (accepted; the
               one in progress is superseded and never applied).
``failure_share``  share of tracking writes that fail asynchronously (drawn per order and number,
               seeded): reason ``carrier not accepted`` or ``invalid tracking number``, visible only on
               read-back (``processing_status`` FAILED and ``processing_failed_reason``).
``same_number``  the order's current number sent again: ``modify`` (a second modification, applied
               again) or ``noop`` (accepted, nothing changes, logged as ``no-op``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

RESPONSES = ("new", "old", "queued", "empty")
VIEWS = ("new", "queued", "hidden")
BUSY = ("reject", "queue", "last_wins")
SAME_NUMBER = ("modify", "noop")


@dataclass(frozen=True)
class WriteProfile:
    """How the sandbox acknowledges and applies a tracking write (see the module docstring's table)."""

    name: str = "default"
    response: str = "new"
    view: str = "new"
    processing_seconds: float | None = None
    busy: str = "reject"
    failure_share: float = 0.0
    same_number: str = "modify"

    def validate(self) -> None:
        """Raise ValueError for an unknown knob value, before the profile takes effect."""
        for knob, allowed in (
            ("response", RESPONSES),
            ("view", VIEWS),
            ("busy", BUSY),
            ("same_number", SAME_NUMBER),
        ):
            if getattr(self, knob) not in allowed:
                raise ValueError(f"write profile {knob} must be one of {allowed}")
        if self.processing_seconds is not None and (
            not isinstance(self.processing_seconds, int | float) or self.processing_seconds < 0
        ):
            raise ValueError("write profile processing_seconds must be a non-negative number or null")
        if not isinstance(self.failure_share, int | float) or not 0 <= self.failure_share <= 1:
            raise ValueError("write profile failure_share must be a share between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON (the admin API's and state file's form)."""
        return dataclasses.asdict(self)


#: Named profiles: one per open question, plus combinations the exactly-once matrix runs.
PROFILES: dict[str, WriteProfile] = {
    p.name: p
    for p in (
        WriteProfile("default"),
        WriteProfile("old-response", response="old"),
        WriteProfile("queued", response="queued", view="queued"),
        WriteProfile("empty-hidden", response="empty", view="hidden"),
        WriteProfile("slow-minutes", response="queued", view="queued", processing_seconds=180),
        WriteProfile("slow-hours", response="empty", view="hidden", processing_seconds=7200),
        WriteProfile("busy-queue", response="queued", view="queued", busy="queue", processing_seconds=60),
        WriteProfile("busy-last-wins", response="old", view="hidden", busy="last_wins", processing_seconds=60),
        WriteProfile("async-failure", response="queued", view="queued", failure_share=0.3),
        WriteProfile("same-number-noop", same_number="noop"),
    )
}


def resolve(spec: str | dict[str, Any] | WriteProfile | None) -> WriteProfile:
    """A profile from its name, a dict, or a profile; unknown names or knobs raise ValueError.

    A dict is ``{"name": ..., <knobs>}``: a named base with knobs changed.
    """
    if spec is None:
        return PROFILES["default"]
    if isinstance(spec, WriteProfile):
        spec.validate()
        return spec
    if isinstance(spec, str):
        if spec not in PROFILES:
            raise ValueError(f"unknown write profile {spec!r} (known: {', '.join(PROFILES)})")
        return PROFILES[spec]
    if not isinstance(spec, dict):
        raise ValueError("a write profile is a name or an object of knobs")
    names = {f.name for f in dataclasses.fields(WriteProfile)}
    unknown = set(spec) - names
    if unknown:
        raise ValueError(f"unknown write profile knobs: {sorted(unknown)}")
    base = resolve(str(spec.get("name", "default"))) if spec.get("name") in PROFILES or "name" not in spec else None
    data = dataclasses.asdict(base) if base is not None else dataclasses.asdict(WriteProfile())
    data.update(spec)
    profile = WriteProfile(**data)
    profile.validate()
    return profile


__all__ = ["BUSY", "PROFILES", "RESPONSES", "SAME_NUMBER", "VIEWS", "WriteProfile", "resolve"]
