"""The operations report as one self-contained HTML file (no scripts, nothing from the network).

CSS and SVG charts are inline, and no fonts or images come from the network: it opens offline and can be
mailed as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from wishflow.report import svg
from wishflow.report.data import ReportData, collect

STATE_ORDER = ("APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED")

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 780px;
       color: #1f2937; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; }
.meta { color: #6b7280; font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; }
.card { border: 1px solid #e5e7eb; border-radius: 8px; padding: .6rem .9rem; min-width: 120px; }
.card .v { font-size: 1.4rem; font-weight: 600; } .card .k { color: #6b7280; font-size: .8rem; }
table { border-collapse: collapse; font-size: .9rem; margin: .6rem 0; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .25rem .7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg.chart { max-width: 100%; height: auto; }
svg .grid { stroke: #e5e7eb; } svg .tick, svg .legend, svg .value { font-size: 11px; fill: #4b5563; }
svg .empty { font-size: 14px; fill: #9ca3af; }
figure { margin: .6rem 0 1.2rem; } figcaption { color: #4b5563; font-size: .85rem; margin-top: .2rem; }
"""


@dataclass(frozen=True)
class ReportResult:
    """The written report: where it is, its headline figures and the titles of its charts."""

    path: Path
    summary: dict[str, Any]
    charts: list[str]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def charts(data: ReportData) -> dict[str, str]:
    """The report's charts as SVG strings, by chart id."""
    days = list(data.orders_per_day)
    states = [s for s in STATE_ORDER if any(s in v for v in data.orders_per_day.values())]
    states += sorted({s for v in data.orders_per_day.values() for s in v} - set(states))
    lat_days = list(data.ship_latency_median_hours)
    weeks = list(data.on_time_by_week)
    rates = [100.0 * ok / n if n else None for ok, n in data.on_time_by_week.values()]
    scanned = [c for c in data.carriers if c.median_hours_to_first_scan is not None]
    delivered = [c for c in data.carriers if c.median_days_to_delivery is not None]
    return {
        "orders-per-day": svg.bar_chart(
            "orders-per-day",
            "Orders released per day, by current state",
            [d.isoformat() for d in days],
            {s: [data.orders_per_day[d].get(s, 0) for d in days] for s in states},
        ),
        "ship-latency": svg.line_chart(
            "ship-latency",
            "Hours from release to marked shipped (median and 90th percentile, by ship day)",
            [d.isoformat() for d in lat_days],
            {
                "median": list(data.ship_latency_median_hours.values()),
                "p90": list(data.ship_latency_p90_hours.values()),
            },
            unit=" h",
        ),
        "on-time-rate": svg.line_chart(
            "on-time-rate",
            "Share of orders marked shipped before their deadline, by ISO week",
            weeks,
            {"on time": rates},
            unit="%",
            max_value=100.0,
        ),
        "carrier-first-scan": svg.hbar_chart(
            "carrier-first-scan",
            "Median hours from marked shipped to first carrier scan",
            [c.carrier for c in scanned],
            [c.median_hours_to_first_scan or 0.0 for c in scanned],
            unit=" h",
        ),
        "carrier-delivery": svg.hbar_chart(
            "carrier-delivery",
            "Median days from marked shipped to confirmed delivery",
            [c.carrier for c in delivered],
            [c.median_days_to_delivery or 0.0 for c in delivered],
            unit=" d",
        ),
        "refunds-by-reason": svg.hbar_chart(
            "refunds-by-reason",
            "Refunds by reason",
            list(data.refunds_by_reason),
            [float(n) for n in data.refunds_by_reason.values()],
        ),
    }


#: What each chart shows, printed under it (the SVG's own title is only a tooltip).
CAPTIONS = {
    "orders-per-day": "Orders released per day, stacked by their current state.",
    "ship-latency": "Hours from release to marked shipped, by ship day: median and 90th percentile "
    "(Wish's deadline is 120 h).",
    "on-time-rate": "Share of orders marked shipped before their ship-by deadline, by ISO week of shipping.",
    "carrier-first-scan": "Median hours from marked shipped to the carrier's first scan, by carrier.",
    "carrier-delivery": "Median days from marked shipped to confirmed delivery, by carrier.",
    "refunds-by-reason": "Refunds in the window, by Wish's refund reason.",
}


def _environment() -> Any:
    from jinja2 import Environment, StrictUndefined

    return Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False)


def _t(table_id: str, headers: list[str], rows: list[list[str]], empty: str | None = None) -> dict[str, Any]:
    return {"id": table_id, "headers": headers, "rows": rows, "empty": empty}


def _fig(figures: dict[str, str], chart_id: str) -> dict[str, str]:
    return {"svg": figures[chart_id], "caption": CAPTIONS[chart_id]}


def render(data: ReportData) -> str:
    """The report as a complete HTML document (Jinja2, autoescaped)."""
    from wishflow.report.template import REPORT_TEMPLATE

    summary = data.summary()
    figures = charts(data)
    who = data.store if data.store else "all stores (" + (", ".join(data.stores) or "none") + ")"
    cards = [
        ("orders", _num(summary["orders"])),
        ("shipped", _num(summary["shipped"])),
        ("on time", _pct(summary["on_time_rate"])),
        ("median hours to ship", _num(summary["median_ship_latency_hours"])),
        ("waiting to ship", _num(summary["waiting_to_ship"])),
        ("quarantined", _num(summary["quarantined"])),
        ("at risk (< 24 h, not quarantined)", _num(summary["at_risk"])),
        ("past deadline", _num(summary["overdue_open_orders"])),
        ("things to do", _num(summary["actions"])),
        ("refunds", _num(summary["refunds"])),
    ]
    sections = [
        {
            "id": "todo",
            "heading": "To do today",
            "intro": _todo_intro(data),
            "figures": [],
            "tables": [_action_kind_table(data), _action_table(data)],
        },
        {
            "id": "quarantine",
            "heading": "Quarantine",
            "intro": f"{data.queues.get('quarantined', 0):,} open order(s) held by validation; by blocking rule "
            "(an order failing two rules counts under both). Shipped, refunded and declined orders are not listed.",
            "figures": [],
            "tables": [
                _t(
                    "quarantine-by-rule",
                    ["rule", "open orders"],
                    [[rule, f"{n:,}"] for rule, n in data.quarantine_by_rule.items()],
                    "No open order is quarantined.",
                )
            ],
        },
        {
            "id": "orders",
            "heading": "Orders per day",
            "intro": None,
            "figures": [_fig(figures, "orders-per-day")],
            "tables": [_state_table(data)],
        },
        {
            "id": "latency",
            "heading": "Ship latency",
            "intro": "Deadline: mark shipped within 5 days (120 h) of release.",
            "figures": [_fig(figures, "ship-latency")],
            "tables": [],
        },
        {
            "id": "on-time",
            "heading": "On-time rate",
            "intro": None,
            "figures": [_fig(figures, "on-time-rate")],
            "tables": [_on_time_table(data)],
        },
        {
            "id": "carriers",
            "heading": "Carrier performance",
            "intro": None,
            "figures": [_fig(figures, "carrier-first-scan"), _fig(figures, "carrier-delivery")],
            "tables": [_carrier_table(data), _postage_table(data)],
        },
        {
            "id": "refunds",
            "heading": "Refunds",
            "intro": None,
            "figures": [_fig(figures, "refunds-by-reason")],
            "tables": [_refund_table(data)],
        },
    ]
    template = _environment().from_string(REPORT_TEMPLATE)
    page: str = template.render(
        who=who,
        css=CSS,
        since=f"{data.since:%Y-%m-%d %H:%M}",
        generated=f"{data.generated_at:%Y-%m-%d %H:%M}",
        cards=cards,
        sections=sections,
    )
    return page


def _todo_intro(data: ReportData) -> str:
    sev = data.actions_by_severity
    total = sum(data.actions_by_kind.values())
    return (
        f"{total:,} thing(s) to do: {sev.get('missed', 0):,} past a deadline, {sev.get('at_risk', 0):,} at risk, "
        f"{sev.get('action', 0):,} other (the same list as `wishflow todo` and the daily summary; "
        f"the first {len(data.action_items)} shown)."
    )


def _action_kind_table(data: ReportData) -> dict[str, Any]:
    labels = {
        "quarantined_order": "quarantined open orders",
        "order_at_risk": "orders at risk of the ship-by deadline",
        "shipment_pending_at_wish": "shipments pending at Wish",
        "tracking_exception": "tracking exceptions (follow-ups)",
        "ticket_awaiting_merchant": "tickets awaiting the merchant",
        "penalty_to_review": "penalties to review",
    }
    rows = [[labels.get(kind, kind), f"{n:,}"] for kind, n in data.actions_by_kind.items()]
    return _t("actions-by-kind", ["stage", "to do"], rows)


def _action_table(data: ReportData) -> dict[str, Any]:
    rows = [
        [
            str(item["severity"]),
            str(item["kind"]),
            str(item.get("order_id") or ""),
            f"{item['due_at']:%Y-%m-%d %H:%M}" if item.get("due_at") else "",
            str(item.get("what_to_do") or ""),
        ]
        for item in data.action_items
    ]
    return _t("action-items", ["severity", "kind", "order", "due (UTC)", "what to do"], rows, "Nothing to act on.")


def _state_table(data: ReportData) -> dict[str, Any]:
    return _t("orders-by-state", ["state", "orders"], [[s, f"{n:,}"] for s, n in data.orders_by_state.items()])


def _on_time_table(data: ReportData) -> dict[str, Any]:
    rows = [[w, f"{ok:,}", f"{n:,}", _pct(ok / n if n else None)] for w, (ok, n) in data.on_time_by_week.items()]
    return _t("on-time-table", ["ISO week", "on time", "shipped", "rate"], rows)


def _carrier_table(data: ReportData) -> dict[str, Any]:
    rows = [
        [
            c.carrier,
            f"{c.shipped:,}",
            f"{c.scanned:,}",
            f"{c.delivered:,}",
            _num(c.median_hours_to_first_scan),
            _num(c.median_days_to_delivery),
        ]
        for c in data.carriers
    ]
    headers = ["carrier", "shipped", "scanned", "delivered", "median h to first scan", "median days to delivery"]
    return _t("carrier-table", headers, rows)


def _money(amount: Any) -> str:
    """An exact decimal with thousands separators, its trailing zeros past the cents dropped."""
    text = f"{amount:,.4f}"
    return text[:-2] if text.endswith("00") else text


def _refund_table(data: ReportData) -> dict[str, Any]:
    rows = [
        [m.reason, m.currency, f"{m.refunds:,}", _money(m.refunded), _money(m.merchant_pays)] for m in data.refund_money
    ]
    return _t("refund-table", ["reason", "currency", "refunds", "refunded", "merchant pays"], rows)


def _postage_table(data: ReportData) -> dict[str, Any]:
    rows = [[p.carrier, p.currency, f"{p.parcels:,}", _money(p.postage)] for p in data.postage]
    return _t(
        "postage-table",
        ["carrier", "currency", "parcels", "postage"],
        rows,
        "No label source reported a cost for the shipments planned in the window.",
    )


def write_report(
    warehouse_url: str, path: str | Path, store: str | None = None, days: int = 90, now: Any = None
) -> ReportResult:
    """Read the warehouse, write the HTML report to ``path``; return its path and summary."""
    from wishflow.warehouse.engine import make_engine

    engine: sa.Engine = make_engine(warehouse_url)
    try:
        data = collect(engine, store=store, days=days, now=now)
    finally:
        engine.dispose()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(target)
    return ReportResult(path=target.resolve(), summary=data.summary(), charts=list(charts(data)))
