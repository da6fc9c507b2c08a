"""Time helpers: the sandbox keeps every timestamp as integer milliseconds since the epoch (UTC)."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SECOND_MS = 1000
HOUR_MS = 3600 * SECOND_MS
DAY_MS = 24 * HOUR_MS


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    t = time.gmtime(day * 86400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"


@lru_cache(maxsize=4096)
def _day_ms(prefix: str) -> int:
    return int(calendar.timegm(time.strptime(prefix, "%Y-%m-%d"))) * 1000


def fmt_ms(ms: int) -> str:
    """Wish's timestamp format: ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC, millisecond precision)."""
    day, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{_day_prefix(day)}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def dt_to_ms(dt: datetime) -> int:
    """Epoch milliseconds of ``dt`` (naive means UTC), in integer arithmetic so no float rounding creeps in."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_dt(ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds."""
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
    """Milliseconds of an ISO 8601 timestamp (fast path for Wish's own format)."""
    if (
        len(value) == 24
        and value[23] == "Z"
        and value[10] == "T"
        and value[13] == ":"
        and value[16] == ":"
        and value[19] == "."
    ):
        try:
            return (
                _day_ms(value[:10])
                + int(value[11:13]) * 3_600_000
                + int(value[14:16]) * 60_000
                + int(value[17:19]) * 1000
                + int(value[20:23])
            )
        except ValueError:
            pass
    return dt_to_ms(parse_iso(value))
