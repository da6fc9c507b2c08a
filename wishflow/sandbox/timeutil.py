"""Time helpers: the sandbox keeps every timestamp as integer milliseconds since the epoch (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SECOND_MS = 1000
HOUR_MS = 3600 * SECOND_MS
DAY_MS = 24 * HOUR_MS


def fmt_ms(ms: int) -> str:
    """Wish's timestamp format: ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC, millisecond precision)."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def dt_to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_dt(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp or date; naive values are taken as UTC. Raises ValueError."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_bound_ms(value: str, *, upper: bool) -> int:
    """Parse a filter bound to whole milliseconds so that an inclusive comparison stays exact.

    A lower bound with sub-millisecond digits is rounded up, an upper bound down.
    """
    dt = parse_iso(value)
    ms = dt_to_ms(dt)
    if not upper and dt.microsecond % 1000:
        ms += 1
    return ms


def parse_ms(value: str) -> int:
    return dt_to_ms(parse_iso(value))
