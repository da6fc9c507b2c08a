"""The data dictionary: the committed ``docs/warehouse.md`` is what the generator writes today, every
table and column is described, every view in the migrated warehouse is documented with its real
columns, and every example query runs on both databases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from wishflow.docs import EXAMPLES, VIEWS, render_dictionary
from wishflow.warehouse.schema import metadata

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


def test_the_committed_dictionary_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_dictionary(), (
        "docs/warehouse.md is out of date: run `wishflow docs warehouse` and commit it"
    )


def test_every_table_and_column_has_a_description() -> None:
    missing = [
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if not column.comment and column.name not in ("event_id",)
    ]
    assert not [t.name for t in metadata.tables.values() if not t.comment]
    # surrogate ids may stay undescribed; everything analysts read is described
    assert len(missing) <= 5, missing


def test_every_view_is_documented_with_its_real_columns(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    # the analytics views (SQLite: analytics_*) are documented in docs/security.md (issue 22)
    real = {v for v in inspector.get_view_names() if not v.startswith("analytics_")}
    documented = {v.name for v in VIEWS}
    assert real == documented, f"undocumented views: {real - documented}; gone: {documented - real}"
    for view in VIEWS:
        columns = [c["name"] for c in inspector.get_columns(view.name)]
        assert columns == [name for name, _ in view.columns], view.name


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.key)
def test_example_queries_answer_on_a_seeded_warehouse(engine: sa.Engine, example) -> None:  # type: ignore[no-untyped-def]
    """Every example runs on both databases, names its columns once each, and answers something on
    the seeded orders (an example that silently returns nothing is as broken as one that fails).
    """
    from tests.validation.conftest import good_order, insert_orders
    from wishflow.validation import validate_pending

    _seed_examples(engine)
    insert_orders(engine, "docs", [good_order("waiting-1", shipped_at=None)])  # valid, not shipped yet
    validate_pending(engine, "docs", "docs-run-2")
    with engine.connect() as conn:
        result = conn.execute(sa.text(example.for_dialect(engine.dialect.name)))
        columns, rows = list(result.keys()), result.fetchall()
    assert columns
    assert len(set(columns)) == len(columns), columns
    assert all(len(row) == len(columns) for row in rows)
    if example.key in NO_ROWS_ON_THE_SEED:
        assert rows == []
    else:
        assert rows, f"{example.key} returns no rows on the seeded warehouse"


def test_the_docs_command_checks_and_writes(tmp_path: Path) -> None:
    from wishflow_cli.main import main

    target = tmp_path / "warehouse.md"
    assert main(["docs", "warehouse", "--output", str(target), "--check"]) == 1
    assert main(["docs", "warehouse", "--output", str(target)]) == 0
    assert main(["docs", "warehouse", "--output", str(target), "--check"]) == 0


def _normal(value: object) -> object:
    """One spelling per value across drivers, never rounded: a number as the exact decimal it prints
    as (PostgreSQL's ``4910.9000000000000000`` and SQLite's float ``4910.9`` are both ``4910.9``; a
    drifted ``4910.899999999999`` stays itself and fails), times as UTC ISO text.
    """
    from datetime import datetime
    from decimal import Decimal

    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return format(Decimal(str(value)).normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _seed_examples(engine: sa.Engine) -> None:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from tests.validation.conftest import good_order, insert_orders
    from wishflow.validation import validate_pending
    from wishflow.warehouse.aftersales_schema import refunds
    from wishflow.warehouse.shipping_schema import shipments

    def shipped(order_id: str, when: datetime, late: bool = False, paid: str = "10.50") -> dict:
        deadline = when + timedelta(hours=-1 if late else 5)
        return good_order(
            order_id,
            state="SHIPPED",
            tracking_number=f"LX{order_id}",
            processing_status="SUCCEEDED",
            released_at=when - timedelta(days=2),
            expected_ship_time=deadline,
            shipped_at=when,
            payment_total=Decimal(paid),
        )

    # around two ISO year boundaries: 2020 has a week 53 that runs into January 2021; payments that
    # a binary sum gets wrong (0.1 + 0.2 + 4910.6)
    insert_orders(
        engine,
        "docs",
        [
            shipped("w53a", datetime(2020, 12, 31, 12, tzinfo=UTC), paid="0.10"),
            shipped("w53b", datetime(2021, 1, 3, 23, tzinfo=UTC), late=True, paid="0.20"),
            shipped("w01", datetime(2021, 1, 4, 0, 30, tzinfo=UTC), paid="4910.60"),
            shipped("y25", datetime(2024, 12, 30, 8, tzinfo=UTC)),
            good_order("held-1", zipcode=None, shipped_at=None),
            good_order("held-2", zipcode=None, country_code="XX", shipped_at=None),
        ],
    )
    validate_pending(engine, "docs", "docs-run")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            refunds.insert(),
            [
                {
                    "store": "docs",
                    "order_id": f"r-{i}",
                    "refund_index": 0,
                    "refund_reason": "ITEM_NOT_SHIPPED_IN_TIME" if i < 7 else "OTHER",
                    "refund_amount": Decimal("0.10") if i < 7 else Decimal("4910.90"),
                    "merchant_responsible_amount": Decimal("0.20"),
                    "currency_code": "USD",
                    "after_delivery": False,
                    "order_updated_at": now,
                    "raw": {},
                    "_loaded_at": now,
                }
                for i in range(8)
            ],
        )
        # postage: a combined parcel (two orders, its cost on one row), costs a binary sum gets wrong,
        # a parcel without a reported cost, and a second currency kept apart
        postage = [
            ("p1", "o1", "USPS", "0.10", "USD"),
            ("p2", "o2", "USPS", "0.20", "USD"),
            ("p3", "o3", "USPS", "4.35", "USD"),
            ("p3", "o4", "USPS", None, None),
            ("p4", "o5", "USPS", None, None),
            ("p5", "o6", "YunExpress", "3.10", "EUR"),
            ("p6", "o7", "YunExpress", "2.20", "USD"),
        ]
        conn.execute(
            shipments.insert(),
            [
                {
                    "shipment_id": f"s-{order_id}",
                    "store": "docs",
                    "order_id": order_id,
                    "kind": "ship",
                    "parcel_id": parcel,
                    "carrier": carrier,
                    "origin_country": "CN",
                    "tracking_number": f"T{parcel}",
                    "state": "confirmed",
                    "attempts": 1,
                    "planned_at": now,
                    "updated_at": now,
                    "_loaded_at": now,
                    "label_cost": Decimal(cost) if cost else None,
                    "label_cost_currency": currency,
                }
                for parcel, order_id, carrier, cost, currency in postage
            ],
        )


def _held_week() -> str:
    """The ISO week the two held orders were released in (a day before the fixtures' NOW)."""
    from datetime import timedelta

    from tests.validation.conftest import NOW
    from wishflow.report.data import iso_week

    return iso_week(NOW - timedelta(days=1))


#: Examples whose tables the seed leaves empty (parcel tracking has scenarios of its own, tests/tracking).
NO_ROWS_ON_THE_SEED = {"carrier_delivery_times"}

#: What the examples return on the seeded data, the same on both databases, exactly (no rounding).
EXPECTED_RESULTS = {
    "on_time_ship_rate_by_week": [
        ("2020-W53", "2", "50"),
        ("2021-W01", "1", "100"),
        ("2025-W01", "1", "100"),
    ],
    "refunds_by_reason": [
        ("ITEM_NOT_SHIPPED_IN_TIME", "7", "0.7", "1.4", "USD"),
        ("OTHER", "1", "4910.9", "0.2", "USD"),
    ],
    # released two days before shipping: w01 (Monday 4 January 2021) was released in 2020-W53
    "payments_by_week": [
        ("2020-W53", "USD", "3", "4910.9"),
        ("2024-W52", "USD", "1", "10.5"),
        (_held_week(), "USD", "2", "21"),
    ],
    "postage_by_carrier": [
        ("USPS", "USD", "3", "4.65"),
        ("YunExpress", "EUR", "1", "3.1"),
        ("YunExpress", "USD", "1", "2.2"),
    ],
    "quarantine_reasons": [("country_code_valid", "1"), ("zipcode_required", "1")],
    "todo_counts": [("quarantined_order", "action", "2")],
}


@pytest.mark.parametrize("key", sorted(EXPECTED_RESULTS))
def test_example_queries_give_the_same_results_on_both_databases(engine: sa.Engine, key: str) -> None:
    _seed_examples(engine)
    example = next(e for e in EXAMPLES if e.key == key)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(example.for_dialect(engine.dialect.name))).fetchall()
    assert [tuple(_normal(v) for v in row) for row in rows] == EXPECTED_RESULTS[key]


def test_no_example_rounds_money() -> None:
    """Sums of money are exact through the integer twins, so no example needs ROUND to hide drift."""
    import re

    money = {c.name for t in metadata.tables.values() for c in t.columns if isinstance(c.type, sa.Numeric)}
    assert {"refund_amount", "payment_total", "label_cost"} <= money
    for example in EXAMPLES:
        for sql in example.sql.values():
            summed = set(re.findall(r"(?:SUM|AVG|TOTAL)\(\s*(\w+)\s*\)", sql, flags=re.IGNORECASE))
            assert not summed & money, (example.key, summed & money)
            assert "ROUND(SUM" not in sql.upper(), example.key


def test_every_weekly_example_uses_the_one_iso_week_definition() -> None:
    """A week in any example is the ISO week of ``iso_week_sql`` (the report's ``iso_week`` in SQL)."""
    import re

    from wishflow.docs.queries import iso_week_sql

    weekly = [e for e in EXAMPLES if re.search(r"\bweek\b", " ".join(e.sql.values()), flags=re.IGNORECASE)]
    assert {e.key for e in weekly} >= {"on_time_ship_rate_by_week", "payments_by_week"}
    for example in weekly:
        for dialect in ("sqlite", "postgresql"):
            sql = example.for_dialect(dialect)
            column = re.search(r"(\w+_at)", sql.split("AS week")[0]).group(1)  # type: ignore[union-attr]
            assert iso_week_sql(dialect, column) + " AS week" in sql, (example.key, dialect)
            assert "strftime('%W'" not in sql
            assert "'%U'" not in sql
            assert "'WW'" not in sql
