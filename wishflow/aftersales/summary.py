"""The daily summary: what happened on a (UTC) day, compared with the day before, as markdown.

Flows (orders in, shipped, delivered, completed, refunds, penalties) count events *on* the day;
stocks (late, at risk, open tickets) are the state at the *end* of the day, rebuilt from the
open/resolve times the warehouse keeps, so yesterday's figures can be recomputed any time.
Money figures are per currency (:class:`Amounts`): a store may be paid in several currencies (Wish's
Money carries its own ``currency_code``), and amounts in different currencies are never added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from wishflow.warehouse.aftersales_schema import order_completions, penalties, refunds, tickets
from wishflow.warehouse.schema import order_events, orders
from wishflow.warehouse.tracking_schema import tracking_exceptions
from wishflow.warehouse.types import MONEY_SCALE

METRICS: tuple[tuple[str, str], ...] = (
    ("orders_in", "Orders in (released)"),
    ("shipped", "Shipped"),
    ("delivered", "Delivered"),
    ("completed", "Completed"),
    ("late", "Late (a deadline missed, open at end of day)"),
    ("at_risk", "At risk (a deadline near, open at end of day)"),
    ("refunds", "Refunds"),
    ("refund_amount", "Refunded amount"),
    ("merchant_refund_amount", "Refunds the merchant pays"),
    ("open_tickets", "Open tickets (end of day)"),
    ("tickets_awaiting_merchant", "Tickets awaiting you (now)"),
    ("penalties", "Penalties"),
    ("penalty_amount", "Penalty amount (not reversed)"),
    ("penalties_reversed", "Penalties reversed by Wish"),
)


class Amounts(dict[str, Decimal]):
    """Money per ISO 4217 currency: amounts in different currencies are never summed together."""

    def __str__(self) -> str:
        return ", ".join(f"{value} {code}" for code, value in sorted(self.items())) or "0.00"

    def to_json(self) -> dict[str, str]:
        """The amounts as strings by currency code (decimals keep their exact digits in JSON)."""
        return {code: str(value) for code, value in sorted(self.items())}


@dataclass(frozen=True)
class DailySummary:
    """One store's after-sales day: today's figures, with what the merchant must look at."""

    store: str
    day: date
    today: dict[str, Any]
    previous: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready values (amounts and decimals as strings), for the digest and the CLI."""

        def j(values: dict[str, Any]) -> dict[str, Any]:
            return {
                k: (v.to_json() if isinstance(v, Amounts) else str(v) if isinstance(v, Decimal) else v)
                for k, v in values.items()
            }

        return {"store": self.store, "day": self.day.isoformat(), "today": j(self.today), "previous": j(self.previous)}


@dataclass(frozen=True)
class DailyReport:
    """A day's summary and its markdown report (figures, then the action list)."""

    summary: DailySummary
    markdown: str


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _count(conn: Any, query: Any) -> int:
    return int(conn.execute(query).scalar() or 0)


def _money(conn: Any, query: Any) -> Amounts:
    """Sums per currency from a query selecting ``(currency_code, SUM(amount_e4))`` grouped by currency.

    The sums are of money's exact integer twins (``*_e4``), so they are exact on SQLite too, where a
    sum of the decimal columns drifts (wishflow.warehouse.types).
    """
    out = Amounts()
    for currency, value in conn.execute(query):
        if value is not None:
            out[currency or "(no currency)"] = (Decimal(int(value)) / MONEY_SCALE).quantize(Decimal("0.01"))
    return out


def day_metrics(engine: Engine, store: str, day: date) -> dict[str, Any]:
    """The metrics of one UTC day."""
    start, end = _bounds(day)
    t = tracking_exceptions
    with engine.connect() as conn:

        def events(kind: str) -> int:
            e = order_events
            return _count(
                conn,
                select(func.count(func.distinct(e.c.order_id))).where(
                    e.c.store == store, e.c.event_type == kind, e.c.event_time >= start, e.c.event_time < end
                ),
            )

        def open_exceptions(severities: tuple[str, ...]) -> int:
            return _count(
                conn,
                select(func.count(func.distinct(t.c.order_id))).where(
                    t.c.store == store,
                    t.c.severity.in_(severities),
                    t.c.opened_at < end,
                    or_(t.c.resolved_at.is_(None), t.c.resolved_at >= end),
                ),
            )

        in_day = and_(refunds.c.refunded_at >= start, refunds.c.refunded_at < end)
        return {
            "orders_in": _count(
                conn,
                select(func.count()).where(
                    orders.c.store == store, orders.c.released_at >= start, orders.c.released_at < end
                ),
            ),
            "shipped": events("MARK_SHIPPED"),
            "delivered": events("CONFIRMED_DELIVERED"),
            "completed": _count(
                conn,
                select(func.count()).where(
                    order_completions.c.store == store,
                    order_completions.c.revoked_at.is_(None),
                    order_completions.c.completed_at >= start,
                    order_completions.c.completed_at < end,
                ),
            ),
            "late": open_exceptions(("missed", "action")),
            "at_risk": open_exceptions(("at_risk",)),
            "refunds": _count(conn, select(func.count()).where(refunds.c.store == store, in_day)),
            "refund_amount": _money(
                conn,
                select(refunds.c.currency_code, func.sum(refunds.c.refund_amount_e4))
                .where(refunds.c.store == store, in_day)
                .group_by(refunds.c.currency_code),
            ),
            "merchant_refund_amount": _money(
                conn,
                select(refunds.c.currency_code, func.sum(refunds.c.merchant_responsible_amount_e4))
                .where(refunds.c.store == store, in_day)
                .group_by(refunds.c.currency_code),
            ),
            "open_tickets": _count(
                conn,
                select(func.count()).where(
                    tickets.c.store == store,
                    tickets.c.opened_at < end,
                    or_(tickets.c.closed_at.is_(None), tickets.c.closed_at >= end),
                    tickets.c.state != "PERMANENTLY_CLOSED",
                ),
            ),
            "tickets_awaiting_merchant": _count(
                conn,
                select(func.count()).where(tickets.c.store == store, tickets.c.state == "AWAITING_MERCHANT"),
            ),
            "penalties": _count(
                conn,
                select(func.count()).where(
                    penalties.c.store == store, penalties.c.created_at >= start, penalties.c.created_at < end
                ),
            ),
            "penalty_amount": _money(
                conn,
                select(penalties.c.currency_code, func.sum(penalties.c.penalty_amount_e4))
                .where(
                    penalties.c.store == store,
                    penalties.c.created_at >= start,
                    penalties.c.created_at < end,
                    penalties.c.reversed.is_(False),
                )
                .group_by(penalties.c.currency_code),
            ),
            "penalties_reversed": _count(
                conn,
                select(func.count()).where(
                    penalties.c.store == store,
                    penalties.c.reversed.is_(True),
                    penalties.c.reversed_at >= start,
                    penalties.c.reversed_at < end,
                ),
            ),
        }


def daily_summary(engine: Engine, store: str, day: date) -> DailySummary:
    """``day`` and the day before."""
    return DailySummary(
        store, day, day_metrics(engine, store, day), day_metrics(engine, store, day - timedelta(days=1))
    )


def _delta(now: Any, before: Any) -> str:
    if isinstance(now, Amounts) or isinstance(before, Amounts):
        changes = Amounts()
        for code in sorted(set(now) | set(before)):
            diff = now.get(code, Decimal(0)) - before.get(code, Decimal(0))
            if diff != 0:
                changes[code] = diff
        if not changes:
            return "="
        return ", ".join(f"{'+' if v > 0 else ''}{v} {code}" for code, v in sorted(changes.items()))
    diff = now - before
    if diff == 0:
        return "="
    return f"+{diff}" if diff > 0 else f"{diff}"


def render_markdown(summary: DailySummary, *, follow_ups: list[dict[str, Any]] | None = None, limit: int = 20) -> str:
    """The summary as a markdown table (plus the open follow-ups, soonest due first)."""
    day, previous = summary.day, summary.day - timedelta(days=1)
    lines = [
        f"# Daily summary for {summary.store}: {day.isoformat()} (UTC)",
        "",
        f"| Metric | {day.isoformat()} | {previous.isoformat()} | Change |",
        "|---|---:|---:|---:|",
    ]
    for key, label in METRICS:
        today, before = summary.today[key], summary.previous[key]
        lines.append(f"| {label} | {today} | {before} | {_delta(today, before)} |")
    if follow_ups is not None:
        lines += ["", f"## Open follow-ups ({len(follow_ups)})", ""]
        if not follow_ups:
            lines.append("Nothing to act on.")
        else:
            lines += ["| Kind | Order | Due | What to do |", "|---|---|---|---|"]
            for row in follow_ups[:limit]:
                due = row["due_at"].strftime("%Y-%m-%d %H:%M") if row.get("due_at") else ""
                text = str(row["summary"]).replace("|", "\\|")
                lines.append(f"| {row['kind']} | {row.get('order_id') or ''} | {due} | {text} |")
            if len(follow_ups) > limit:
                lines.append(f"| ... | | | {len(follow_ups) - limit} more |")
    return "\n".join(lines) + "\n"
