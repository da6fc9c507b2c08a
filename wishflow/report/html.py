"""The operations report as one self-contained HTML file: inline CSS and inline SVG charts, no
scripts, no fonts or images from the network (it opens offline and can be mailed as is)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
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
"""


@dataclass(frozen=True)
class ReportResult:
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
            [float(n) for n, _ in data.refunds_by_reason.values()],
        ),
    }


def render(data: ReportData) -> str:
    """The report as a complete HTML document."""
    summary = data.summary()
    figures = charts(data)
    who = escape(data.store) if data.store else "all stores (" + escape(", ".join(data.stores) or "none") + ")"
    cards = [
        ("orders", _num(summary["orders"])),
        ("shipped", _num(summary["shipped"])),
        ("on time", _pct(summary["on_time_rate"])),
        ("median hours to ship", _num(summary["median_ship_latency_hours"])),
        ("waiting to ship", _num(summary["open_orders"])),
        ("past deadline", _num(summary["overdue_open_orders"])),
        ("refunds", _num(summary["refunds"])),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Wishflow report: {who}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Wishflow operations report: {who}</h1>",
        f'<p class="meta">Orders released since {data.since:%Y-%m-%d %H:%M} UTC; generated '
        f"{data.generated_at:%Y-%m-%d %H:%M} UTC from the warehouse.</p>",
        '<div class="cards">',
        *[
            f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div></div>'
            for k, v in cards
        ],
        "</div>",
        '<h2 id="orders">Orders per day</h2>',
        figures["orders-per-day"],
        _state_table(data),
        '<h2 id="latency">Ship latency</h2>',
        "<p>Deadline: mark shipped within 5 days (120 h) of release.</p>",
        figures["ship-latency"],
        '<h2 id="on-time">On-time rate</h2>',
        figures["on-time-rate"],
        _on_time_table(data),
        '<h2 id="carriers">Carrier performance</h2>',
        figures["carrier-first-scan"],
        figures["carrier-delivery"],
        _carrier_table(data),
        '<h2 id="refunds">Refunds</h2>',
        figures["refunds-by-reason"],
        _refund_table(data),
        '<p class="meta">Definitions: see docs/warehouse.md (data dictionary) and docs/analysts.md.</p>',
        "</body></html>",
    ]
    return "\n".join(out) + "\n"


def _table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    if not rows:
        return f'<p class="meta" id="{table_id}">No rows.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _state_table(data: ReportData) -> str:
    return _table(["state", "orders"], [[s, f"{n:,}"] for s, n in data.orders_by_state.items()], "orders-by-state")


def _on_time_table(data: ReportData) -> str:
    rows = [[w, f"{ok:,}", f"{n:,}", _pct(ok / n if n else None)] for w, (ok, n) in data.on_time_by_week.items()]
    return _table(["week", "on time", "shipped", "rate"], rows, "on-time-table")


def _carrier_table(data: ReportData) -> str:
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
    return _table(headers, rows, "carrier-table")


def _refund_table(data: ReportData) -> str:
    rows = [[reason, f"{n:,}", f"{amount:,.2f}"] for reason, (n, amount) in data.refunds_by_reason.items()]
    return _table(["reason", "refunds", "amount"], rows, "refund-table")


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
