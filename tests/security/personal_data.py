"""A warehouse with the report's figures (tests/report's seed) and personal data on every order:
names (some customers ordering twice), streets, postcodes, phone numbers, payloads with the
address, and completed orders old and new.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.report.test_report import NOW, seed_warehouse
from wishflow.warehouse.aftersales_schema import order_completions
from wishflow.warehouse.schema import orders

PERSONAL_VALUES = ("Ada Lovelace-", "12 Analytical Engine Road", "Flat 9", "+44 7700 900", "SW1A 1AA", "Marylebone")


def add_personal_data(url: str) -> dict[str, Any]:
    """Seed the report's warehouse and give every order a recipient; returns the expected figures
    plus which orders are completed long ago (``old``) and recently (``recent``).
    """
    expected = seed_warehouse(url)
    engine = sa.create_engine(url)
    old: list[tuple[str, str]] = []
    recent: list[tuple[str, str]] = []
    with engine.begin() as conn:
        ids = conn.execute(sa.select(orders.c.store, orders.c.order_id).order_by(orders.c.order_id)).all()
        for i, (store, order_id) in enumerate(ids):
            customer = i % 7  # the same customer on several orders
            address = {
                "name": f"{PERSONAL_VALUES[0]}{customer}",
                "street_address1": f"{PERSONAL_VALUES[1]} {customer}",
                "street_address2": PERSONAL_VALUES[2],
                "city": PERSONAL_VALUES[5],
                "zipcode": PERSONAL_VALUES[4],
                "country": "GB",
                "phone_number": {"country_code": "44", "number": f"{PERSONAL_VALUES[3]}{customer:03d}"},
            }
            conn.execute(
                orders.update()
                .where(orders.c.store == store, orders.c.order_id == order_id)
                .values(
                    recipient_name=address["name"],
                    street_address1=address["street_address1"],
                    street_address2=address["street_address2"],
                    city=PERSONAL_VALUES[5],
                    province="London",
                    zipcode=PERSONAL_VALUES[4],
                    country_code="GB",
                    phone_number=address["phone_number"]["number"],
                    raw={"id": order_id, "state": "SHIPPED", "full_address": {"shipping_detail": address}},
                )
            )
            if i % 3 == 0:
                # completed 200 days ago (old) or 10 days ago (recent)
                completed = NOW - timedelta(days=200 if i % 2 == 0 else 10)
                (old if i % 2 == 0 else recent).append((store, order_id))
                conn.execute(
                    order_completions.insert().values(
                        store=store,
                        order_id=order_id,
                        completed_at=completed,
                        delivered_at=completed - timedelta(days=7),
                        rule="delivered + 7 days",
                        _loaded_at=NOW,
                    )
                )
    engine.dispose()
    return {**expected, "old": old, "recent": recent, "orders": len(ids)}
