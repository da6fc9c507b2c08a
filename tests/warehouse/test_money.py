"""Money sums are exact on both databases: every money column's integer twin (``*_e4``) sums without
the binary drift of SQLite's numbers, and the 0008 migration fills the twins of rows already stored.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from wishflow.warehouse.aftersales_schema import refunds
from wishflow.warehouse.engine import make_engine, upgrade

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
#: 0.1 + 0.2 style amounts, many of them: a binary sum of these drifts
AMOUNTS = [Decimal("0.10"), Decimal("0.20"), Decimal("4910.90"), Decimal("0.07"), Decimal("1234.5678")] * 400


def _refund_rows(store: str, amounts: list[Decimal]) -> list[dict]:
    return [
        {
            "store": store,
            "order_id": f"o-{i}",
            "refund_index": 0,
            "refund_reason": "OTHER",
            "refund_amount": amount,
            "merchant_responsible_amount": amount / 2,
            "currency_code": "USD",
            "after_delivery": False,
            "order_updated_at": NOW,
            "raw": {},
            "_loaded_at": NOW,
        }
        for i, amount in enumerate(amounts)
    ]


def _exact(value: object) -> Decimal:
    """The decimal a driver's number prints as (a float by its shortest repr)."""
    return Decimal(str(value))


def test_sums_of_many_amounts_are_exact(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(refunds.insert(), _refund_rows("money", AMOUNTS))
        row = conn.execute(
            sa.text(
                "SELECT SUM(refund_amount_e4) / 10000.0 AS total, SUM(merchant_responsible_amount_e4) AS half_e4, "
                "SUM(refund_amount) AS binary_total FROM refunds WHERE store = 'money'"
            )
        ).one()
        twins = conn.execute(sa.select(refunds.c.refund_amount, refunds.c.refund_amount_e4)).all()
    assert _exact(row.total) == sum(AMOUNTS) == Decimal("2458335.12")
    assert Decimal(row.half_e4) == sum(a / 2 for a in AMOUNTS) * 10000
    assert all(Decimal(e4) == amount * 10000 for amount, e4 in twins)
    if engine.dialect.name == "sqlite":
        # why the twins exist: SQLite's own sum of the same column drifts
        assert _exact(row.binary_total) != sum(AMOUNTS)
    else:
        assert row.binary_total == sum(AMOUNTS)


def test_the_migration_fills_the_twins_of_stored_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Rows written before 0008 get their exact twins when it runs; downgrading and upgrading again
    keeps the decimals.
    """
    urls = [f"sqlite:///{tmp_path / 'old.db'}"]
    admin_url = os.environ.get("WISHFLOW_TEST_POSTGRES_URL")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT") if admin_url else None
    name = f"wishflow_money_{uuid.uuid4().hex[:8]}"
    if admin is not None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        urls.append(sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    try:
        for url in urls:
            upgrade(url, "0007_analytics")
            engine = make_engine(url)
            old = sa.Table("refunds", sa.MetaData(), autoload_with=engine)
            assert "refund_amount_e4" not in old.c
            with engine.begin() as conn:
                conn.execute(old.insert(), _refund_rows("before", AMOUNTS[:5]))
            upgrade(url, "0008_money")
            with engine.connect() as conn:
                got = conn.execute(
                    sa.text("SELECT SUM(refund_amount_e4), COUNT(refund_amount_e4) FROM refunds WHERE store = 'before'")
                ).one()
            assert (Decimal(got[0]), got[1]) == (sum(AMOUNTS[:5]) * 10000, 5), url
            from alembic import command

            from wishflow.warehouse.engine import alembic_config

            command.downgrade(alembic_config(url), "0007_analytics")
            upgrade(url, "0008_money")
            with engine.connect() as conn:
                amounts = conn.execute(sa.select(refunds.c.refund_amount).where(refunds.c.store == "before")).scalars()
                assert sorted(amounts) == sorted(AMOUNTS[:5])
            engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.mark.parametrize("amount", ["0.0001", "99999999999.9999", "-12.3456"])
def test_a_twin_is_the_amount_times_ten_thousand(engine: sa.Engine, amount: str) -> None:
    with engine.begin() as conn:
        conn.execute(refunds.insert(), _refund_rows("edge", [Decimal(amount)]))
        e4 = conn.execute(sa.select(refunds.c.refund_amount_e4).where(refunds.c.store == "edge")).scalar_one()
    assert e4 == int(Decimal(amount) * 10000)
