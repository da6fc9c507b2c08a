"""The report's money and weeks agree with the data dictionary's examples on both databases: refunds
and postage summed exactly and per currency, and one ISO week definition (the report's Python
``isocalendar`` and the examples' SQL give each shipment the same week, across year boundaries).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from tests.validation.conftest import good_order, insert_orders
from wishflow.docs import EXAMPLES
from wishflow.report import collect, write_report
from wishflow.report.data import PostageRow, RefundMoneyRow, iso_week
from wishflow.warehouse.aftersales_schema import refunds
from wishflow.warehouse.shipping_schema import shipments

NOW = datetime(2026, 1, 6, 12, tzinfo=UTC)
#: shipping times on both sides of ISO year boundaries inside the report's window (2025-W01 starts on
#: Monday 30 December 2024; 2026-W01 on Monday 29 December 2025)
SHIP_TIMES = [
    datetime(2025, 12, 28, 23, 59, tzinfo=UTC),  # Sunday: 2025-W52
    datetime(2025, 12, 29, 0, 1, tzinfo=UTC),  # Monday: 2026-W01
    datetime(2026, 1, 1, 12, tzinfo=UTC),  # Thursday: 2026-W01
    datetime(2026, 1, 4, 23, tzinfo=UTC),  # Sunday: 2026-W01
    datetime(2026, 1, 5, 1, tzinfo=UTC),  # Monday: 2026-W02
]


def _seed(engine: sa.Engine) -> None:
    insert_orders(
        engine,
        "cash",
        [
            good_order(
                f"s{i}",
                state="SHIPPED",
                tracking_number=f"LX{i}",
                processing_status="SUCCEEDED",
                released_at=when - timedelta(days=1),
                expected_ship_time=when + timedelta(hours=1),
                shipped_at=when,
            )
            for i, when in enumerate(SHIP_TIMES)
        ],
    )
    amounts = [("0.10", "USD"), ("0.20", "USD")] * 50 + [("4910.90", "USD"), ("3.33", "EUR"), ("3.34", "EUR")]
    with engine.begin() as conn:
        conn.execute(
            refunds.insert(),
            [
                {
                    "store": "cash",
                    "order_id": f"r{i}",
                    "refund_index": 0,
                    "refunded_at": NOW - timedelta(days=1),
                    "refund_reason": "OTHER",
                    "refund_amount": Decimal(amount),
                    "merchant_responsible_amount": Decimal(amount),
                    "currency_code": currency,
                    "after_delivery": False,
                    "order_updated_at": NOW,
                    "raw": {},
                    "_loaded_at": NOW,
                }
                for i, (amount, currency) in enumerate(amounts)
            ],
        )
        conn.execute(
            shipments.insert(),
            [
                {
                    "shipment_id": f"x{i}",
                    "store": "cash",
                    "order_id": f"s{i}",
                    "kind": "ship",
                    "parcel_id": f"p{i}",
                    "carrier": "USPS",
                    "origin_country": "US",
                    "tracking_number": f"LX{i}",
                    "state": "confirmed",
                    "attempts": 1,
                    "planned_at": NOW - timedelta(days=1),
                    "updated_at": NOW,
                    "_loaded_at": NOW,
                    "label_cost": Decimal(cost),
                    "label_cost_currency": "USD",
                }
                for i, cost in enumerate(["0.10", "0.20", "0.70"])
            ],
        )


def test_report_money_is_exact_and_per_currency(engine: sa.Engine, tmp_path: Path) -> None:
    _seed(engine)
    data = collect(engine, store="cash", days=30, now=NOW)
    assert data.refund_money == [
        RefundMoneyRow("OTHER", "USD", 101, Decimal("4925.90"), Decimal("4925.90")),
        RefundMoneyRow("OTHER", "EUR", 2, Decimal("6.67"), Decimal("6.67")),
    ]
    assert data.refunds_by_reason == {"OTHER": 103}
    assert data.postage == [PostageRow("USPS", "USD", 3, Decimal("1.00"))]
    url = engine.url.render_as_string(hide_password=False)
    html = write_report(url, tmp_path / "r.html", store="cash", days=30, now=NOW).path.read_text()
    assert "4,925.90" in html
    assert "6.67" in html
    assert "1.00" in html
    # the same figures as the dictionary's example on the same data
    example = next(e for e in EXAMPLES if e.key == "refunds_by_reason")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(example.for_dialect(engine.dialect.name))).fetchall()
    by_currency = {row.currency_code: Decimal(str(row.refunded)) for row in rows}
    assert by_currency == {m.currency: m.refunded for m in data.refund_money}


def test_one_iso_week_definition_in_the_report_and_the_examples(engine: sa.Engine) -> None:
    _seed(engine)
    data = collect(engine, store="cash", days=30, now=NOW)
    expected = {"2025-W52": (1, 1), "2026-W01": (3, 3), "2026-W02": (1, 1)}
    assert data.on_time_by_week == expected
    assert [iso_week(t) for t in SHIP_TIMES] == ["2025-W52", "2026-W01", "2026-W01", "2026-W01", "2026-W02"]
    with engine.connect() as conn:
        for key in ("on_time_ship_rate_by_week", "payments_by_week"):
            example = next(e for e in EXAMPLES if e.key == key)
            weeks = [row[0] for row in conn.execute(sa.text(example.for_dialect(engine.dialect.name)))]
            if key == "on_time_ship_rate_by_week":
                assert weeks == list(expected), key
            else:  # by release week (a day before shipping): the report's definition of each
                assert weeks == sorted({iso_week(t - timedelta(days=1)) for t in SHIP_TIMES}), key
