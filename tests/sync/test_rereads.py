"""Orders a pull reads again, their version recorded already, are set aside before they are parsed.

Real warehouses (both backends), an in-memory lister with Wish's list semantics for the API. What is
set aside must be exactly what the merge would count unchanged: the warehouse after a re-read equals
the warehouse after the first read, every record is still counted, newer versions are recorded, and
records that cannot be read are quarantined as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

import wishflow.pull as pull_module
from tests.api.test_pagination import InclusiveLister, make_order
from wishflow.orders.flatten import format_wish_time
from wishflow.pull import PullWindow, pull_chunk
from wishflow.warehouse.orders_writer import ORDERS_STREAM, read_cursor
from wishflow.warehouse.schema import order_events, orders, rejected_records
from wishflow.warehouse.stored_versions import SetAside, record_ids, set_aside_recorded, stored_versions
from wishflow.warehouse.validation_schema import order_validation_queue

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = PullWindow(None, T0 + timedelta(days=1), incremental=True)


def _snapshot(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "orders": sorted(
                conn.execute(sa.select(orders.c.order_id, orders.c.updated_at, orders.c.state, orders.c.raw)).all()
            ),
            "events": conn.execute(sa.select(sa.func.count()).select_from(order_events)).scalar_one(),
            "queued": conn.execute(sa.select(sa.func.count()).select_from(order_validation_queue)).scalar_one(),
            "rejected": conn.execute(sa.select(sa.func.count()).select_from(rejected_records)).scalar_one(),
        }


@pytest.fixture
def parsed_records(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many records each page's parse saw (the real parse, counted)."""
    seen: list[int] = []
    parse = pull_module.parse_orders

    def counted(records: list[Any]) -> Any:
        seen.append(len(records))
        return parse(records)

    monkeypatch.setattr(pull_module, "parse_orders", counted)
    return seen


def test_a_re_read_window_is_set_aside_unparsed_and_changes_nothing(
    engine: sa.Engine, parsed_records: list[int]
) -> None:
    data = [make_order(i, T0 + timedelta(seconds=i)) for i in range(700)]
    lister = InclusiveLister(data)
    first = pull_chunk(lister, engine, "s", WINDOW, None, max_pages=50, page_size=100)
    assert (first.load.fetched, first.load.new) == (700, 700)
    assert sum(parsed_records) == 700
    before, cursor = _snapshot(engine), read_cursor(engine, "s", ORDERS_STREAM)
    parsed_records.clear()

    again = pull_chunk(lister, engine, "s", WINDOW, None, max_pages=50, page_size=100)

    assert sum(parsed_records) == 0  # nothing parsed: every record's version was stored
    load = again.load
    assert (load.fetched, load.new, load.changed, load.unchanged, load.quarantined) == (700, 0, 0, 700, 0)
    assert _snapshot(engine) == before
    assert read_cursor(engine, "s", ORDERS_STREAM) == cursor
    assert again.pages == first.pages
    assert again.max_updated_at == first.max_updated_at


def test_newer_versions_and_unreadable_records_among_re_reads_go_through_the_parse(
    engine: sa.Engine, parsed_records: list[int]
) -> None:
    data = [make_order(i, T0 + timedelta(seconds=i)) for i in range(300)]
    lister = InclusiveLister(data)
    pull_chunk(lister, engine, "s", WINDOW, None, max_pages=50, page_size=100)
    parsed_records.clear()
    # three orders changed (Wish stamps the change later), one new order, a new record without a
    # state, a stored order's newer record whose released_at cannot be read, and a stored order's
    # record as old as the stored one but unreadable (the version recorded already: set aside)
    for i in (5, 150, 299):
        data[i] = make_order(i, T0 + timedelta(seconds=i, milliseconds=500), state="SHIPPED")
    data.append(make_order(1000, T0 + timedelta(seconds=10)))
    broken = make_order(1001, T0 + timedelta(seconds=20))
    del broken["state"]
    data.append(broken)
    data[40] = dict(make_order(40, T0 + timedelta(seconds=40, milliseconds=250)), released_at="yesterday")
    data[41] = dict(data[41], released_at="yesterday")

    again = pull_chunk(lister, engine, "s", PullWindow(None, T0 + timedelta(days=1), incremental=False), None)

    load = again.load
    assert (load.fetched, load.new, load.changed, load.quarantined) == (302, 1, 3, 2)
    assert load.unchanged == 302 - 1 - 3 - 2
    assert sorted(load.changed_order_ids) == sorted(f"{i:024x}" for i in (5, 150, 299))
    assert sum(parsed_records) == 6  # the newer, the new and the unreadable ones only
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(orders.c.order_id, orders.c.state)).all())
        reasons = dict(conn.execute(sa.select(rejected_records.c.record_key, rejected_records.c.reason)).all())
    assert [states[f"{i:024x}"] for i in (5, 150, 299)] == ["SHIPPED"] * 3
    assert states[f"{1000:024x}"] == "APPROVED"
    assert "state" in reasons[f"{1001:024x}"]
    assert "released_at" in reasons[f"{40:024x}"]
    assert f"{41:024x}" not in reasons


def test_stored_versions_are_the_warehouse_s_own(engine: sa.Engine) -> None:
    data = [make_order(i, T0 + timedelta(seconds=i)) for i in range(600)]
    pull_chunk(InclusiveLister(data), engine, "s", WINDOW, None, page_size=200)
    ids = [f"{i:024x}" for i in range(590, 620)]  # ten stored, twenty not
    found = stored_versions(engine, "s", ids)
    assert found == {f"{i:024x}": T0 + timedelta(seconds=i) for i in range(590, 600)}
    assert all(v.tzinfo is not None for v in found.values())
    assert stored_versions(engine, "another store", ids) == {}
    assert stored_versions(engine, "s", []) == {}
    # more ids than one SQLite statement takes
    assert len(stored_versions(engine, "s", [f"{i:024x}" for i in range(-1, 1200)][1:])) == 600


def test_only_records_whose_stored_version_is_as_new_are_set_aside() -> None:
    at = T0 + timedelta(minutes=1)
    stored = {"a": at, "b": at, "c": at, "d": at}
    records: list[Any] = [
        {"id": "a", "updated_at": format_wish_time(at)},  # equal: aside
        {"id": "b", "updated_at": format_wish_time(at - timedelta(milliseconds=1))},  # older: aside
        {"id": "c", "updated_at": format_wish_time(at + timedelta(milliseconds=1))},  # newer: kept
        {"id": "d"},  # no updated_at: kept (the parse says why)
        {"id": "e", "updated_at": format_wish_time(at)},  # not stored: kept
        {"id": ["a"], "updated_at": format_wish_time(at)},  # an id that is no string: kept
        "not an order",
        {"id": "a", "updated_at": "2026-11-01T00:01:00.000+00:00"},  # the same instant, another zone spelling
    ]
    aside = set_aside_recorded(records, stored)
    assert aside.unchanged == 3
    assert aside.kept == [records[i] for i in (2, 3, 4, 5, 6)]
    assert aside.holds_stored  # "c" and "d" are stored: the page must be merged, not appended
    fresh = set_aside_recorded([records[0], records[4]], {"a": at + timedelta(seconds=1)})
    assert (fresh.kept, fresh.unchanged, fresh.holds_stored) == ([records[4]], 1, False)
    assert set_aside_recorded(records, {}) == SetAside(records, 0, False)
    assert record_ids(records) == ["a", "b", "c", "d", "e", "a"]


def test_a_stale_none_stored_answer_still_merges(engine: sa.Engine) -> None:
    """The pull asks before parsing, the loader writes later: an order stored in between (the page
    before, another pull) makes the page's append fail on its key, and the page is merged instead.
    """
    from wishflow.orders.parse import parse_orders
    from wishflow.warehouse.orders_writer import prepare_orders, write_orders

    page = [make_order(i, T0 + timedelta(seconds=i)) for i in range(50)]
    good, bad = parse_orders(page[:10])
    write_orders(engine, prepare_orders("s", good, bad, run_id="r1"))
    newer = [make_order(i, T0 + timedelta(seconds=i, milliseconds=1), state="SHIPPED") for i in range(5)]
    good, bad = parse_orders(newer + page[5:])
    encode = engine.dialect.name == "postgresql"
    load = write_orders(engine, prepare_orders("s", good, bad, run_id="r2", stored=False, unchanged=7, encode=encode))
    assert (load.fetched, load.new, load.changed, load.unchanged) == (57, 40, 5, 5 + 7)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(orders.c.order_id, orders.c.state)).all()
        queued = conn.execute(sa.select(sa.func.count()).select_from(order_validation_queue)).scalar_one()
    assert len(rows) == 50
    assert sum(state == "SHIPPED" for _, state in rows) == 5
    assert queued == 50
