"""Texts of a tracking poll: one digest per run and a markdown report of open exceptions.

Lines carry order ids, tracking numbers, carriers and deadlines, never names or addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from wishflow.notify.digest import DEFAULT_MAX_LINES, Digest

_LABELS = {
    "FIRST_SCAN_LATE": "first scan late",
    "NO_MOVEMENT": "no movement",
    "TRACKING_CANCELLED": "tracking cancelled: ship again",
    "CONFIRMED_DELIVERY_LATE": "confirmed delivery late",
    "WISH_EXPRESS_LATE": "Wish Express late",
}


def _time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, str) and value:
        return value.replace("T", " ")[:16] + " UTC"
    return ""


def tracking_digest(store: str, update: Mapping[str, Any], *, max_lines: int = DEFAULT_MAX_LINES) -> Digest | None:
    """The digest of one poll: exceptions opened or escalated and numbers voided, else None.

    ``update`` is ``TrackingUpdate.to_json()``; ``None`` means nothing needs attention.
    """
    changes = [c for c in update.get("changes", []) if c["change"] in ("opened", "escalated")]
    resolved = sum(1 for c in update.get("changes", []) if c["change"] == "resolved")
    if not changes:
        return None
    rank = {"missed": 0, "action": 1, "at_risk": 2}
    changes.sort(key=lambda c: (rank.get(c["severity"], 3), c.get("deadline_at") or ""))
    lines = []
    for c in changes:
        due = f", due {_time(c.get('deadline_at'))}" if c.get("deadline_at") else ""
        lines.append(
            f"- `{c['order_id']}` {c['tracking_number'] or '(no number)'}: "
            f"{_LABELS.get(c['exception_type'], c['exception_type'])} ({c['severity']}{due})"
        )
    shown = lines if len(lines) <= max_lines else [*lines[:max_lines], f"… and {len(lines) - max_lines} more"]
    missed = sum(1 for c in changes if c["severity"] in ("missed", "action"))
    title = f"Wishflow [{store}]: {len(changes)} tracking exception{'s' if len(changes) != 1 else ''}"
    if missed:
        title += f" ({missed} need action)"
    statuses = ", ".join(f"{k.lower()} {v}" for k, v in sorted((update.get("statuses") or {}).items()))
    body = "\n".join(
        [
            f"**{len(changes)} new or escalated tracking exceptions** for store `{store}`"
            + (f" ({resolved} resolved)" if resolved else "")
            + ":",
            "",
            *shown,
            "",
            f"Shipments by status: {statuses or 'none'}.",
        ]
    )
    return Digest(title, body)


def exceptions_markdown(store: str, rows: Sequence[Mapping[str, Any]], *, limit: int = 200) -> str:
    """Open exceptions as a markdown table (for the run's artifact)."""
    lines = [f"# Open tracking exceptions for {store}: {len(rows)}", ""]
    if not rows:
        return "\n".join([*lines, "None."]) + "\n"
    lines += [
        "| Order | Tracking | Exception | Severity | Deadline | Since | Details |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows[:limit]:
        details = str(r["details"]).replace("|", "\\|")
        lines.append(
            f"| {r['order_id']} | {r['tracking_number']} | {r['exception_type']} | {r['severity']} | "
            f"{_time(r.get('deadline_at'))} | {_time(r.get('opened_at'))} | {details} |"
        )
    if len(rows) > limit:
        lines.append(f"| ... | | | | | | {len(rows) - limit} more |")
    return "\n".join(lines) + "\n"
