"""Digest texts: capped, deadline-ordered, quarantined orders called out, no personal data."""

from __future__ import annotations

from datetime import UTC, datetime

from wishflow.notify.digest import deadline_risk_digest, new_orders_digest

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_new_orders_digest_caps_lines() -> None:
    orders = [
        {"order_id": f"o{i}", "sku": "S", "quantity": 1, "country_code": "US", "expected_ship_time": WHEN}
        for i in range(3)
    ]
    digest = new_orders_digest("shop", orders, max_lines=2)
    assert digest.title == "Wishflow [shop]: 3 new orders"
    assert digest.body.splitlines()[-1] == "… and 1 more"
    assert "2026-12-01 09:30 UTC" in digest.body


def test_deadline_digest_puts_overdue_first_and_flags_quarantine() -> None:
    orders = [
        {"order_id": "a", "hours_left": 5.0, "validation_status": "valid", "expected_ship_time": WHEN},
        {"order_id": "b", "hours_left": -2.0, "validation_status": "quarantined", "expected_ship_time": WHEN},
    ]
    digest = deadline_risk_digest("shop", orders, 24)
    lines = [line for line in digest.body.splitlines() if line.startswith("- ")]
    assert lines[0].startswith("- `b` OVERDUE by 2.0 h")
    assert "QUARANTINED" in lines[0]
    assert lines[1].startswith("- `a` 5.0 h left")
    assert "1 overdue, 1 quarantined" in digest.body
    assert digest.title == "Wishflow [shop]: 2 orders due within 24 h"


def test_new_orders_digest_counts_the_orders_it_does_not_list() -> None:
    """A backfill's digest lists the soonest due and counts the rest (they are not all read)."""
    orders = [
        {"order_id": f"o{i}", "sku": "S", "quantity": 1, "country_code": "US", "expected_ship_time": WHEN}
        for i in range(3)
    ]
    digest = new_orders_digest("shop", orders, max_lines=2, total=250_000)
    assert digest.title == "Wishflow [shop]: 250000 new orders"
    assert digest.body.splitlines()[-1] == "… and 249998 more"
    assert len([line for line in digest.body.splitlines() if line.startswith("- ")]) == 2


def test_deadline_digest_states_the_counted_totals_of_what_it_does_not_list() -> None:
    """The validation stage reads only the lines shown; the totals come from the database's counts."""
    orders = [
        {"order_id": f"o{i}", "hours_left": -1.0 + i, "validation_status": "valid", "expected_ship_time": WHEN}
        for i in range(2)
    ]
    digest = deadline_risk_digest("shop", orders, 24, max_lines=2, total=3_000, overdue=1_200, quarantined=40)
    assert digest.title == "Wishflow [shop]: 3000 orders due within 24 h"
    assert "1200 overdue, 40 quarantined" in digest.body
    assert digest.body.splitlines()[-1] == "… and 2998 more"
    assert len([line for line in digest.body.splitlines() if line.startswith("- ")]) == 2
