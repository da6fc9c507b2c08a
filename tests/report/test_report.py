"""The operations report: figures computed from the warehouse, charts drawn as inline SVG with the
warehouse's data, a self-contained HTML file (no scripts, nothing from the network) that Chromium
renders, the CLI, and the flow's markdown artifact.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from wishflow.report import collect, write_report
from wishflow.report.data import RefundMoneyRow
from wishflow.warehouse.aftersales_schema import refunds
from wishflow.warehouse.schema import orders

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _order(store: str, n: int, released: datetime, **extra: Any) -> dict[str, Any]:
    row = {
        "store": store,
        "order_id": f"{store}-{n:04d}",
        "state": "APPROVED",
        "released_at": released,
        "updated_at": released,
        "expected_ship_time": released + timedelta(days=5),
        "is_wish_express": False,
        "is_confirmed_delivery": False,
        "raw": {"id": f"{store}-{n:04d}"},
        "_loaded_at": NOW,
    }
    row.update(extra)
    return row


def seed_warehouse(url: str) -> dict[str, Any]:
    """20 orders over 10 days for store ``alpha`` (12 shipped: 10 on time, 2 late; 2 refunded) and
    3 orders of store ``beta``; returns what the figures must be.
    """
    rows = []
    start = NOW - timedelta(days=10)
    for n in range(20):
        released = start + timedelta(hours=12 * n)
        extra: dict[str, Any] = {}
        if n < 12:
            hours = 10 + n if n < 10 else 130  # two shipped after the 120 h deadline
            shipped = released + timedelta(hours=hours)
            extra = {
                "state": "SHIPPED",
                "shipped_at": shipped,
                "tracking_number": f"TN{n:04d}",
                "shipping_provider": "USPS" if n % 2 else "YunExpress",
                "first_scan_at": shipped + timedelta(hours=24),
                "delivered_at": shipped + timedelta(days=8) if n < 6 else None,
            }
        elif n < 14:
            extra = {"state": "REFUNDED", "refunded_at": released + timedelta(days=6)}
        rows.append(_order("alpha", n, released, **extra))
    rows += [_order("beta", n, NOW - timedelta(days=1)) for n in range(3)]
    refund_rows = [
        {
            "store": "alpha",
            "order_id": f"alpha-{n:04d}",
            "refund_index": 0,
            "refunded_at": start + timedelta(hours=12 * n, days=6),
            "refund_reason": reason,
            "refund_amount": Decimal("12.50"),
            "merchant_responsible_amount": Decimal("12.50"),
            "currency_code": "USD",
            "after_delivery": False,
            "order_updated_at": NOW,
            "raw": {},
            "_loaded_at": NOW,
        }
        for n, reason in ((12, "ITEM_NOT_SHIPPED_IN_TIME"), (13, "ITEM_NOT_SHIPPED_IN_TIME"))
    ]
    keys = {k for row in rows for k in row}
    rows = [{k: row.get(k) for k in keys} for row in rows]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(orders.insert(), rows)
        conn.execute(refunds.insert(), refund_rows)
    engine.dispose()
    return {"alpha_orders": 20, "shipped": 12, "on_time": 10, "refunds": 2, "carriers": {"USPS", "YunExpress"}}


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, int] = {}
        self.marks: dict[str, int] = {}
        self.current: str | None = None
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if a.get(key) and re.match(r"(https?:)?//", a[key] or ""):
                self.external.append(a[key] or "")
        if tag == "svg":
            self.current = a.get("data-chart")
            if self.current:
                self.charts[self.current] = int(a.get("data-points") or 0)
                self.marks[self.current] = 0
        elif self.current and "mark" in (a.get("class") or ""):
            self.marks[self.current] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


@pytest.fixture
def seeded(warehouse_url: str) -> dict[str, Any]:
    return seed_warehouse(warehouse_url)


def test_figures_are_computed_from_the_warehouse_per_store(warehouse_url: str, seeded: dict[str, Any]) -> None:
    from wishflow.warehouse.engine import make_engine

    engine = make_engine(warehouse_url)
    data = collect(engine, store="alpha", days=30, now=NOW)
    everything = collect(engine, store=None, days=30, now=NOW)
    engine.dispose()
    assert data.total_orders == seeded["alpha_orders"]
    assert everything.total_orders == seeded["alpha_orders"] + 3
    assert everything.stores == ["alpha", "beta"]
    assert data.shipped_orders == seeded["shipped"]
    assert data.on_time_rate == pytest.approx(seeded["on_time"] / seeded["shipped"])
    assert {c.carrier for c in data.carriers} == seeded["carriers"]
    assert all(c.median_hours_to_first_scan == 24.0 for c in data.carriers)
    assert data.refunds_by_reason == {"ITEM_NOT_SHIPPED_IN_TIME": 2}
    assert data.refund_money == [
        RefundMoneyRow("ITEM_NOT_SHIPPED_IN_TIME", "USD", 2, Decimal("25.00"), Decimal("25.00"))
    ]
    assert data.orders_by_state == {"SHIPPED": 12, "APPROVED": 6, "REFUNDED": 2}
    assert data.open_orders == 6
    assert sum(sum(v.values()) for v in data.orders_per_day.values()) == 20


def test_report_is_one_html_file_with_a_chart_per_figure_and_no_network(
    warehouse_url: str, seeded: dict[str, Any], tmp_path: Path
) -> None:
    result = write_report(warehouse_url, tmp_path / "report.html", store="alpha", days=30, now=NOW)
    html = result.path.read_text()
    parser = _Charts()
    parser.feed(html)
    expected = {
        "orders-per-day",
        "ship-latency",
        "on-time-rate",
        "carrier-first-scan",
        "carrier-delivery",
        "refunds-by-reason",
    }
    assert set(parser.charts) == expected
    for chart in expected:
        assert parser.charts[chart] > 0, f"{chart} has no data"
        assert parser.marks[chart] > 0, f"{chart} draws nothing"
    assert parser.scripts == 0
    assert parser.external == []
    assert "ITEM_NOT_SHIPPED_IN_TIME" in html
    assert "YunExpress" in html
    assert result.summary["orders"] == 20
    assert result.summary["shipped"] == 12
    assert result.summary["on_time_rate"] == pytest.approx(10 / 12, abs=1e-4)


def test_an_empty_warehouse_gives_a_report_that_says_so(warehouse_url: str, tmp_path: Path) -> None:
    result = write_report(warehouse_url, tmp_path / "empty.html", now=NOW)
    html = result.path.read_text()
    assert html.count("No data yet") == 6
    assert result.summary["on_time_rate"] is None


def test_the_cli_writes_the_report(warehouse_url: str, seeded: dict[str, Any], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from wishflow_cli.main import main

    out = tmp_path / "cli" / "report.html"
    assert main(["report", "--warehouse-url", warehouse_url, "--output", str(out), "--days", "3650"]) == 0
    assert out.exists()
    assert "written to" in capsys.readouterr().out


def test_chromium_renders_every_chart_with_marks(tmp_path: Path) -> None:
    from tests.browser import headless_chromium
    from wishflow.warehouse.engine import upgrade

    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    seed_warehouse(url)
    result = write_report(url, tmp_path / "report.html", store="alpha", days=30, now=NOW)
    with headless_chromium() as browser:
        browser.get(result.path.as_uri())
        rendered = browser.execute_script(
            """return Array.from(document.querySelectorAll('svg[data-chart]')).map(s => {
                 const r = s.getBoundingClientRect();
                 return [s.dataset.chart, r.width, r.height, s.querySelectorAll('.mark').length];
               });"""
        )
        screenshot = browser.get_screenshot_as_png()
    charts = {name: (w, h, marks) for name, w, h, marks in rendered}
    assert len(charts) == 6
    for name, (w, h, marks) in charts.items():
        assert w > 100, (name, w, h, marks)
        assert h > 50, (name, w, h, marks)
        assert marks > 0, (name, w, h, marks)
    assert len(screenshot) > 10_000
    (tmp_path / "report.png").write_bytes(screenshot)


def test_the_report_flow_publishes_a_markdown_artifact(
    warehouse_url: str, seeded: dict[str, Any], tmp_path: Path, prefect_harness: None, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.report import report

    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    out = tmp_path / "flow-report.html"
    result = report(store="alpha", days=3650, output=str(out))
    assert Path(result["path"]) == out.resolve()
    assert out.exists()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["operations-report"])), limit=5
        )
    assert artifacts
    latest = max(artifacts, key=lambda a: a.created)
    assert str(out.resolve()) in latest.data
    assert "Marked shipped | 12" in latest.data
