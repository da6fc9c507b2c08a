"""Digest texts for notifications: one message per run, never one per order.

A digest is a title and a markdown body, capped at ``max_lines`` order lines with an "and N more"
line, because chat tools truncate or reject long messages and a person reads the first lines only.
Bodies hold order ids, deadlines, SKUs and destinations (country), never names, addresses or phones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEFAULT_MAX_LINES = 50


@dataclass(frozen=True)
class Digest:
    """What to send: ``title`` (the subject) and ``body`` (markdown)."""

    title: str
    body: str


def _time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "?" if value is None else str(value)


def _flags(order: Mapping[str, Any]) -> str:
    flags = []
    if order.get("is_wish_express"):
        flags.append("Wish Express")
    if order.get("is_confirmed_delivery"):
        flags.append("confirmed delivery")
    return f" [{', '.join(flags)}]" if flags else ""


def _deadline_key(order: Mapping[str, Any]) -> tuple[bool, str]:
    when = order.get("expected_ship_time")
    return (when is None, when.astimezone(UTC).isoformat() if isinstance(when, datetime) else str(when or ""))


def _capped(lines: Sequence[str], max_lines: int, total: int | None = None) -> list[str]:
    total = max(total or 0, len(lines))
    if total <= max_lines:
        return list(lines)
    return [*lines[:max_lines], f"… and {total - min(max_lines, len(lines))} more"]


def new_orders_digest(
    store: str, orders: Sequence[Mapping[str, Any]], *, max_lines: int = DEFAULT_MAX_LINES, total: int | None = None
) -> Digest:
    """The "N new orders" digest, with one line per order (id, SKU × quantity, destination, ship-by), soonest first.

    ``total`` is how many new orders there were when ``orders`` holds only the soonest due of them
    (a backfill's million new orders are counted, not listed).
    """
    ordered = sorted(orders, key=_deadline_key)
    lines = [
        f"- `{o.get('order_id')}` {o.get('sku') or '?'} × {o.get('quantity') or '?'} → "
        f"{o.get('country_code') or '?'}, ship by {_time(o.get('expected_ship_time'))}{_flags(o)}"
        for o in ordered
    ]
    count = max(total or 0, len(lines))
    title = f"Wishflow [{store}]: {count} new order{'s' if count != 1 else ''}"
    heading = f"**{count} new order{'s' if count != 1 else ''}** for store `{store}`:"
    body = "\n".join([heading, "", *_capped(lines, max_lines, total)])
    return Digest(title, body)


def deadline_risk_digest(
    store: str,
    orders: Sequence[Mapping[str, Any]],
    hours: float,
    *,
    max_lines: int = DEFAULT_MAX_LINES,
    total: int | None = None,
    overdue: int | None = None,
    quarantined: int | None = None,
) -> Digest:
    """Orders with less than ``hours`` left to be marked shipped, overdue first.

    The quarantined ones are flagged: they need a person to fix the order before they can ship at all.
    When ``orders`` holds only the soonest due (the lines shown), ``total``, ``overdue`` and
    ``quarantined`` are the database's counts of them all; otherwise they are counted from ``orders``.
    """
    ordered = sorted(orders, key=lambda o: float(o.get("hours_left") or 0.0))
    lines = []
    n_quarantined = 0
    n_overdue = 0
    for o in ordered:
        left = o.get("hours_left")
        status = o.get("validation_status") or "valid"
        n_quarantined += status == "quarantined"
        if left is not None and left < 0:
            n_overdue += 1
            when = f"OVERDUE by {abs(left):.1f} h"
        else:
            when = f"{left:.1f} h left" if left is not None else "no deadline"
        note = (
            " — QUARANTINED: fix the order first"
            if status == "quarantined"
            else (" — awaiting validation" if status == "pending" else "")
        )
        lines.append(
            f"- `{o.get('order_id')}` {when} (ship by {_time(o.get('expected_ship_time'))}), "
            f"{o.get('sku') or '?'} → {o.get('country_code') or '?'}{_flags(o)}{note}"
        )
    count = max(total or 0, len(lines))
    n_overdue = max(overdue or 0, n_overdue)
    n_quarantined = max(quarantined or 0, n_quarantined)
    title = f"Wishflow [{store}]: {count} order{'s' if count != 1 else ''} due within {hours:g} h"
    summary = f"**{count}** unshipped order{'s' if count != 1 else ''} within {hours:g} h of the ship-by deadline"
    details = f"{n_overdue} overdue, {n_quarantined} quarantined."
    body = "\n".join([f"{summary} for store `{store}` ({details})", "", *_capped(lines, max_lines, total)])
    return Digest(title, body)


def action_list_markdown(
    store: str,
    counts: Any,
    items: Sequence[Mapping[str, Any]],
    *,
    max_lines: int = DEFAULT_MAX_LINES,
    heading_level: int = 2,
) -> str:
    """The merchant's action list (``v_action_items``, see :mod:`wishflow.actions`) as a markdown section.

    The queue counts, then one line per thing to do, missed deadlines first.

    ``counts`` is a :class:`wishflow.actions.queues.QueueCounts`; the daily summary, the report and
    ``wishflow todo`` all print these same rows and counts.
    """
    sev = counts.by_severity
    total = counts.total_actions
    lines = [
        f"{'#' * heading_level} To do today ({total})",
        "",
        f"{sev.get('missed', 0)} missed, {sev.get('at_risk', 0)} at risk, {sev.get('action', 0)} other. "
        f"Store `{store}`: {counts.quarantined} quarantined (open orders held by validation), "
        f"{counts.waiting_to_ship} waiting to ship, {counts.at_risk} at risk of the ship-by deadline.",
        "",
    ]
    if not items:
        return "\n".join([*lines, "Nothing to act on."]) + "\n"
    rows = [
        f"| {i.get('severity')} | {i.get('kind')} | {i.get('order_id') or ''} | "
        f"{_time(i.get('due_at')) if i.get('due_at') else ''} | "
        f"{str(i.get('what_to_do') or '').replace('|', chr(92) + '|')} |"
        for i in items
    ]
    table = ["| Severity | Kind | Order | Due | What to do |", "|---|---|---|---|---|"]
    return "\n".join([*lines, *table, *_capped(rows, max_lines, total)]) + "\n"
