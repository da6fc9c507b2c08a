"""The figures of the operations report, read from the warehouse with portable SQLAlchemy queries.

Aggregation happens in Python on the few columns each figure needs, so the same code gives the same
numbers on PostgreSQL and SQLite; money is summed in SQL through the exact integer twins (``*_e4``,
:mod:`wishflow.warehouse.types`), per currency, as the data dictionary's examples do. The window is
``days`` back from ``now`` (by release time for orders, refund time for refunds, planning time for
postage).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from wishflow.warehouse.aftersales_schema import refunds
from wishflow.warehouse.schema import orders
from wishflow.warehouse.shipping_schema import shipments
from wishflow.warehouse.types import MONEY_SCALE


def money_from_e4(total_e4: Any) -> Decimal:
    """An exact decimal from a sum of ``*_e4`` twins (an int on SQLite, a numeric on PostgreSQL)."""
    return (Decimal(int(total_e4 or 0)) / MONEY_SCALE).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class RefundMoneyRow:
    """Refunds of one reason in one currency (money is never added across currencies)."""

    reason: str
    currency: str
    refunds: int
    refunded: Decimal
    merchant_pays: Decimal


@dataclass(frozen=True)
class PostageRow:
    """Label costs reported for one carrier in one currency."""

    carrier: str
    currency: str
    parcels: int
    postage: Decimal


@dataclass
class CarrierRow:
    """One carrier's line of the report: volume, scans, deliveries and its typical delays."""

    carrier: str
    shipped: int
    scanned: int
    delivered: int
    median_hours_to_first_scan: float | None
    median_days_to_delivery: float | None


@dataclass
class ReportData:
    """Everything the report shows; plain values (tests and the artifact read it too)."""

    generated_at: datetime
    since: datetime
    store: str | None
    stores: list[str]
    total_orders: int
    orders_by_state: dict[str, int]
    #: day -> state -> orders released that day
    orders_per_day: dict[date, dict[str, int]]
    #: day -> median hours from release to MARK_SHIPPED, for orders shipped that day
    ship_latency_median_hours: dict[date, float]
    ship_latency_p90_hours: dict[date, float]
    #: ISO week "YYYY-Www" -> (shipped on time, shipped)
    on_time_by_week: dict[str, tuple[int, int]]
    carriers: list[CarrierRow]
    #: reason -> refunds (all currencies: a count)
    refunds_by_reason: dict[str, int]
    #: refunds and their money per reason and currency, most refunds first
    refund_money: list[RefundMoneyRow]
    refunds_total: int
    #: label costs of the shipments planned in the window, per carrier and currency
    postage: list[PostageRow]
    open_orders: int
    overdue_open_orders: int
    #: The queues every surface prints, from the views (wishflow.actions.queue_counts), summed over
    #: the stores shown: quarantined (open only), waiting_to_ship, at_risk, awaiting_validation.
    queues: dict[str, int] = field(default_factory=dict)
    #: Open quarantined orders by blocking rule (``v_quarantine_reasons``; an order counts once per rule).
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    #: ``v_action_items`` rows by kind (quarantine, at risk, pending at Wish, tracking exceptions,
    #: tickets, penalties) and by severity, and the first rows, most urgent first.
    actions_by_kind: dict[str, int] = field(default_factory=dict)
    actions_by_severity: dict[str, int] = field(default_factory=dict)
    action_items: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def shipped_orders(self) -> int:
        """Orders shipped in the report's weeks (the denominator of the on-time rate)."""
        return sum(shipped for _, shipped in self.on_time_by_week.values())

    @property
    def on_time_rate(self) -> float | None:
        """Share of shipped orders shipped before their deadline, or None when nothing was shipped."""
        shipped = self.shipped_orders
        on_time = sum(ok for ok, _ in self.on_time_by_week.values())
        return on_time / shipped if shipped else None

    def summary(self) -> dict[str, Any]:
        """The headline figures, as JSON-ready values, for the CLI and the flow's result."""
        rate = self.on_time_rate
        latencies = list(self.ship_latency_median_hours.values())
        return {
            "store": self.store or "all stores",
            "window_start": self.since.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "orders": self.total_orders,
            "shipped": self.shipped_orders,
            "on_time_rate": None if rate is None else round(rate, 4),
            "median_ship_latency_hours": round(statistics.median(latencies), 1) if latencies else None,
            "open_orders": self.open_orders,
            "overdue_open_orders": self.overdue_open_orders,
            "quarantined": self.queues.get("quarantined", 0),
            "waiting_to_ship": self.queues.get("waiting_to_ship", 0),
            "at_risk": self.queues.get("at_risk", 0),
            "actions": sum(self.actions_by_kind.values()),
            "refunds": self.refunds_total,
            "carriers": len(self.carriers),
        }


@dataclass
class _CarrierAcc:
    shipped: int = 0
    scan_hours: list[float] = field(default_factory=list)
    delivery_days: list[float] = field(default_factory=list)


def _hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def iso_week(day: datetime | date) -> str:
    """The ISO week of ``day`` as ``YYYY-Www``: the report's weekly buckets sort as text."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def collect(engine: sa.Engine, store: str | None = None, days: int = 90, now: datetime | None = None) -> ReportData:
    """Read the report's figures for one store (or all) over the last ``days`` days."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    since = now - timedelta(days=days)
    o = orders.c
    store_filter = [o.store == store] if store else []
    with engine.connect() as conn:
        stores = sorted(conn.execute(sa.select(o.store).distinct()).scalars())
        rows = conn.execute(
            sa.select(
                o.state,
                o.released_at,
                o.expected_ship_time,
                o.shipped_at,
                o.first_scan_at,
                o.delivered_at,
                o.shipping_provider,
                o.tracking_number,
                o.processing_status,
            ).where(o.released_at >= since, *store_filter)
        ).all()
        r = refunds.c
        refund_rows = conn.execute(
            sa.select(
                r.refund_reason,
                r.currency_code,
                sa.func.count(),
                sa.func.sum(r.refund_amount_e4),
                sa.func.sum(r.merchant_responsible_amount_e4),
            )
            .where(r.refunded_at >= since, *([r.store == store] if store else []))
            .group_by(r.refund_reason, r.currency_code)
        ).all()
        s = shipments.c
        postage_rows = conn.execute(
            sa.select(
                s.carrier,
                s.label_cost_currency,
                sa.func.count(sa.distinct(s.parcel_id)),
                sa.func.sum(s.label_cost_e4),
            )
            .where(s.label_cost.is_not(None), s.planned_at >= since, *([s.store == store] if store else []))
            .group_by(s.carrier, s.label_cost_currency)
            .order_by(s.carrier, s.label_cost_currency)
        ).all()

    by_state: Counter[str] = Counter()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    latency: dict[date, list[float]] = defaultdict(list)
    on_time: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    carrier_rows: dict[str, _CarrierAcc] = {}
    open_orders = overdue = 0
    for row in rows:
        by_state[row.state] += 1
        if row.released_at is not None:
            per_day[row.released_at.date()][row.state] += 1
        if row.state == "APPROVED" and (row.tracking_number is None or row.processing_status == "FAILED"):
            open_orders += 1
            if row.expected_ship_time is not None and row.expected_ship_time < now:
                overdue += 1
        if row.shipped_at is None or row.released_at is None:
            continue
        latency[row.shipped_at.date()].append(max(0.0, _hours(row.shipped_at, row.released_at)))
        week = on_time[iso_week(row.shipped_at)]
        week[1] += 1
        if row.expected_ship_time is None or row.shipped_at <= row.expected_ship_time:
            week[0] += 1
        c = carrier_rows.setdefault(row.shipping_provider or "(unknown)", _CarrierAcc())
        c.shipped += 1
        if row.first_scan_at is not None:
            c.scan_hours.append(max(0.0, _hours(row.first_scan_at, row.shipped_at)))
        if row.delivered_at is not None:
            c.delivery_days.append(max(0.0, _hours(row.delivered_at, row.shipped_at) / 24))

    carriers = []
    for name, c in carrier_rows.items():
        scans, deliveries = c.scan_hours, c.delivery_days
        carriers.append(
            CarrierRow(
                carrier=name,
                shipped=c.shipped,
                scanned=len(scans),
                delivered=len(deliveries),
                median_hours_to_first_scan=round(statistics.median(scans), 1) if scans else None,
                median_days_to_delivery=round(statistics.median(deliveries), 1) if deliveries else None,
            )
        )
    carriers.sort(key=lambda c: (-c.shipped, c.carrier))

    refund_money = sorted(
        (
            RefundMoneyRow(reason or "(none)", currency or "", int(n), money_from_e4(amount), money_from_e4(merchant))
            for reason, currency, n, amount, merchant in refund_rows
        ),
        key=lambda m: (-m.refunds, m.reason, m.currency),
    )
    refund_counts: Counter[str] = Counter()
    for money in refund_money:
        refund_counts[money.reason] += money.refunds
    refunds_by_reason = dict(sorted(refund_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    postage = [PostageRow(c, cur or "", int(n), money_from_e4(total)) for c, cur, n, total in postage_rows]

    days_sorted = sorted(per_day)
    stages = _stages(engine, [store] if store else stores, now)
    return ReportData(
        generated_at=now,
        since=since,
        store=store,
        stores=stores,
        total_orders=len(rows),
        orders_by_state=dict(by_state.most_common()),
        orders_per_day={d: dict(per_day[d]) for d in days_sorted},
        ship_latency_median_hours={d: round(statistics.median(v), 2) for d, v in sorted(latency.items())},
        ship_latency_p90_hours={d: round(_percentile(v, 0.9), 2) for d, v in sorted(latency.items())},
        on_time_by_week={w: (v[0], v[1]) for w, v in sorted(on_time.items())},
        carriers=carriers,
        refunds_by_reason=refunds_by_reason,
        refund_money=refund_money,
        refunds_total=sum(refunds_by_reason.values()),
        postage=postage,
        open_orders=open_orders,
        overdue_open_orders=overdue,
        **stages,
    )


#: Rows of the action list shown in the report (the rest are counted).
REPORT_ACTION_ROWS = 50

#: The documented views the queues, the action list and the quarantine by rule are read from, mapped
#: to the relation actually read; empty: the views themselves. An analyst's report maps them to the
#: analytics views (``wishflow.warehouse.analytics.queue_views``), as ``orders``, ``refunds`` and
#: ``shipments`` above can be pointed at ``analytics.orders``, ``analytics.refunds`` and ``analytics.postage``.
stage_views: dict[str, str] = {}


def _stages(engine: sa.Engine, stores: list[str], now: datetime) -> dict[str, Any]:
    """Quarantine, follow-ups, tickets, penalties and tracking exceptions, as the queue counts them.

    Read from the same views and functions as ``wishflow todo`` and the daily summary, so the numbers
    agree.
    """
    from wishflow.actions.queues import ACTION_KINDS, action_items, checked_view, queue_counts
    from wishflow.warehouse.analytics import safe_what_to_do

    queues: Counter[str] = Counter()
    kinds: Counter[str] = Counter({kind: 0 for kind in ACTION_KINDS})
    severities: Counter[str] = Counter({"missed": 0, "at_risk": 0, "action": 0})
    items: list[dict[str, Any]] = []
    for name in stores:
        counts = queue_counts(engine, name, views=stage_views)
        queues.update(
            quarantined=counts.quarantined,
            waiting_to_ship=counts.waiting_to_ship,
            at_risk=counts.at_risk,
            awaiting_validation=counts.awaiting_validation,
        )
        kinds.update(counts.actions)
        severities.update(counts.by_severity)
        for row in action_items(engine, name, limit=REPORT_ACTION_ROWS, views=stage_views):
            # hours left as of the report's ``now`` (the view counts from the database's clock, which
            # moves between two reads); a ticket's subject, the customer's words, stays out of the report
            due = row["due_at"]
            items.append(
                {
                    **row,
                    "hours_left": None if due is None else round(_hours(due, now), 2),
                    "what_to_do": safe_what_to_do(row["kind"], row["what_to_do"]),
                    "store": name,
                }
            )
    rank = {"missed": 0, "at_risk": 1, "action": 2}
    far = datetime.max.replace(tzinfo=UTC)
    items.sort(key=lambda r: (rank.get(r["severity"], 3), r["due_at"] or far, r["kind"], r["entity_id"] or ""))
    by_rule: Counter[str] = Counter()
    if stores:
        relation = checked_view(stage_views, "v_quarantine_reasons")
        stmt = sa.text(
            f"SELECT rule, count(DISTINCT order_id) FROM {relation} WHERE store IN :stores GROUP BY rule"
        ).bindparams(sa.bindparam("stores", expanding=True))
        with engine.connect() as conn:
            by_rule.update({str(rule): int(n) for rule, n in conn.execute(stmt, {"stores": stores})})
    return {
        "queues": dict(queues),
        "quarantine_by_rule": dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        "actions_by_kind": dict(kinds),
        "actions_by_severity": dict(severities),
        "action_items": items[:REPORT_ACTION_ROWS],
    }
