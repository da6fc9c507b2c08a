"""The order loader on SQLite and PostgreSQL: idempotent, guarded, history kept, nothing lost."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from wishflow.orders.flatten import format_wish_time
from wishflow.orders.parse import parse_orders
from wishflow.warehouse.orders_writer import CursorAdvance, load_orders, read_cursor
from wishflow.warehouse.schema import order_events, orders, rejected_records

T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)


def order(i: int, updated: datetime = T0, state: str = "APPROVED", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": f"{i:024x}",
        "state": state,
        "released_at": format_wish_time(T0 - timedelta(days=1)),
        "updated_at": format_wish_time(updated),
        "fulfillment_requirements": {"expected_ship_time": format_wish_time(T0 + timedelta(days=4))},
        "product_information": {"id": "p1", "sku": f"SKU-{i}", "name": "Mug \t with tab\nand newline \\ slash"},
        "order_payment": {
            "general_payment_details": {
                "product_quantity": 2,
                "product_price": {"amount": 12.34, "currency_code": "USD"},
                "payment_total": {"amount": 20.1, "currency_code": "USD"},
            }
        },
        "full_address": {"shipping_detail": {"name": "Zoë O'Brien", "country_code": "US", "city": "Boston"}},
        "fulfillment_records": [
            {"event_type": "ORDER_RELEASED", "event_time": format_wish_time(T0 - timedelta(days=1))}
        ],
        "fulfillment_order_types": ["FULFILLED_BY_STORE", "WISH_EXPRESS"],
    }
    payload.update(extra)
    return payload


def snapshot(engine: sa.Engine) -> tuple[list[Any], list[Any], list[Any]]:
    with engine.connect() as conn:
        o = conn.execute(sa.select(orders).order_by(orders.c.order_id)).all()
        e = conn.execute(
            sa.select(order_events.c.order_id, order_events.c.event_type, order_events.c.event_time).order_by(
                order_events.c.event_id
            )
        ).all()
        r = conn.execute(sa.select(rejected_records.c.record_key, rejected_records.c.reason)).all()
    return o, e, r


def test_loading_the_same_page_twice_changes_nothing(engine: sa.Engine) -> None:
    payloads = [order(i) for i in range(50)] + [{"id": "broken", "state": "APPROVED"}, "not an order"]
    good, bad = parse_orders(payloads)
    first = load_orders(engine, "s1", good, bad, run_id="r1")
    before = snapshot(engine)
    second = load_orders(engine, "s1", good, bad, run_id="r2")
    assert (first.new, first.quarantined) == (50, 2)
    assert (second.new, second.changed, second.unchanged) == (0, 0, 50)
    after = snapshot(engine)
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]


def test_every_record_lands_in_orders_or_quarantine_with_a_reason(engine: sa.Engine) -> None:
    payloads = [order(1), {"id": "x" * 24, "state": "NOT_A_STATE", "updated_at": "2026-01-01T00:00:00Z"}, 42, None]
    good, bad = parse_orders(payloads)
    load_orders(engine, "s1", good, bad)
    rows, _, rejected = snapshot(engine)
    assert len(rows) == 1
    assert len(rejected) == 3
    assert any("state" in reason for _, reason in rejected)


def test_older_payload_never_overwrites_a_newer_one(engine: sa.Engine) -> None:
    newer = order(1, updated=T0 + timedelta(hours=2), state="SHIPPED")
    older = order(1, updated=T0, state="APPROVED")
    load_orders(engine, "s1", *parse_orders([newer]))
    result = load_orders(engine, "s1", *parse_orders([older]))
    assert result.unchanged == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.state)).scalar_one() == "SHIPPED"


def test_state_changes_and_milestones_are_appended_not_overwritten(engine: sa.Engine) -> None:
    load_orders(engine, "s1", *parse_orders([order(1)]))
    shipped = order(1, updated=T0 + timedelta(hours=3), state="SHIPPED")
    shipped["fulfillment_records"] = [
        *shipped["fulfillment_records"],
        {"event_type": "MARK_SHIPPED", "event_time": format_wish_time(T0 + timedelta(hours=3))},
    ]
    result = load_orders(engine, "s1", *parse_orders([shipped]))
    assert result.changed == 1
    _, events, _ = snapshot(engine)
    kinds = [e.event_type for e in events]
    assert kinds.count("STATE_CHANGED") == 2
    assert kinds.count("ORDER_RELEASED") == 1
    assert "MARK_SHIPPED" in kinds
    with engine.connect() as conn:
        row = conn.execute(sa.select(orders.c.state, orders.c.shipped_at)).one()
    assert row.state == "SHIPPED"
    assert row.shipped_at == T0 + timedelta(hours=3)


def test_flattened_columns_keep_exact_money_text_and_raw_payload(engine: sa.Engine) -> None:
    payload = order(7, extra_field_from_the_future={"x": 1})
    load_orders(engine, "s1", *parse_orders([payload]))
    with engine.connect() as conn:
        row = conn.execute(sa.select(orders)).one()
    assert str(row.product_price.quantize(row.product_price.__class__("0.01"))) == "12.34"
    assert row.currency_code == "USD"
    assert row.quantity == 2
    assert row.is_wish_express
    assert row.product_name == payload["product_information"]["name"]
    assert row.recipient_name == "Zoë O'Brien"
    assert row.raw["extra_field_from_the_future"] == {"x": 1}


def test_cursor_moves_with_the_data_and_never_backwards(engine: sa.Engine) -> None:
    load_orders(engine, "s1", *parse_orders([order(1)]), cursor=CursorAdvance("orders", T0 + timedelta(hours=1)))
    assert read_cursor(engine, "s1") == T0 + timedelta(hours=1)
    load_orders(engine, "s1", *parse_orders([order(2)]), cursor=CursorAdvance("orders", T0))
    assert read_cursor(engine, "s1") == T0 + timedelta(hours=1)
    assert read_cursor(engine, "other-store") is None


def test_a_failed_batch_leaves_neither_rows_nor_cursor(engine: sa.Engine) -> None:
    good, bad = parse_orders([order(1)])
    bad_cursor = CursorAdvance("x" * 500, T0)  # too long for sync_state.stream on PostgreSQL
    try:
        load_orders(engine, "s1", good, bad, cursor=bad_cursor)
    except sa.exc.DBAPIError:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 0
    else:  # SQLite does not enforce VARCHAR lengths: the batch is then simply recorded whole
        assert read_cursor(engine, "s1", "x" * 500) == T0


def test_stores_are_kept_apart(engine: sa.Engine) -> None:
    load_orders(engine, "a", *parse_orders([order(1)]))
    load_orders(engine, "b", *parse_orders([copy.deepcopy(order(1))]))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 2


def test_a_fixed_record_resolves_its_quarantine(engine: sa.Engine) -> None:
    broken = order(3)
    del broken["updated_at"]
    load_orders(engine, "s1", *parse_orders([broken]))
    load_orders(engine, "s1", *parse_orders([order(3, updated=T0 + timedelta(minutes=5))]))
    with engine.connect() as conn:
        resolved = conn.execute(sa.select(rejected_records.c.resolved_at)).scalar_one()
    assert resolved is not None


def test_empty_strings_nul_characters_and_nulls_survive_the_bulk_path(engine: sa.Engine) -> None:
    payload = order(8)
    payload["full_address"]["shipping_detail"].update({"street_address2": "", "city": "Bo\x00ston"})
    payload["product_information"]["color"] = None
    bad_id = order(9)
    bad_id["id"] = "abc\x00def"
    good, bad = parse_orders([payload, bad_id])
    load_orders(engine, "s1", good, bad)
    with engine.connect() as conn:
        row = conn.execute(sa.select(orders)).one()
        rejected = conn.execute(sa.select(rejected_records.c.reason)).scalar_one()
    assert row.street_address2 == ""
    assert row.color is None
    assert row.city == "Boston"
    assert row.raw["full_address"]["shipping_detail"]["city"] == "Bo\ufffdston"
    assert "id" in rejected


def test_text_beyond_ascii_goes_through_copy_in_and_out_unchanged(engine: sa.Engine) -> None:
    # PostgreSQL's COPY carries UTF-8 bytes both ways (the stage's load, validation's read)
    from wishflow.validation.store import read_pending_batch

    name = "Jos\u00e9 M\u00fcller-\u0141ukasz \u674e\u96f7 \U0001f600"
    payload = order(11)
    payload["full_address"]["shipping_detail"].update({"name": name, "city": "Z\u00fcrich"})
    load_orders(engine, "s1", *parse_orders([payload]))
    with engine.connect() as conn:
        row = conn.execute(sa.select(orders.c.recipient_name, orders.c.city, orders.c.raw)).one()
    assert (row.recipient_name, row.city) == (name, "Z\u00fcrich")
    assert row.raw["full_address"]["shipping_detail"]["name"] == name
    frame = read_pending_batch(engine, "s1")
    assert list(frame["recipient_name"]) == [name]
    assert list(frame["city"]) == ["Z\u00fcrich"]


def test_validation_reads_every_timestamp_to_the_microsecond(engine: sa.Engine) -> None:
    # PostgreSQL's read carries timestamps as integer microseconds (bulk._epoch_microseconds): each
    # must come back as stored, a null as NaT, on both databases
    from wishflow.validation.store import read_pending_batch

    times = [
        T0 + timedelta(microseconds=1),
        T0 + timedelta(seconds=59, microseconds=999_999),
        datetime(1999, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(2099, 6, 30, 12, 0, 0, 123_457, tzinfo=UTC),
    ]
    good, _ = parse_orders([order(i) for i in range(len(times))])
    load_orders(engine, "s1", good)
    with engine.begin() as conn:
        # Wish's times have whole seconds: the microseconds are written here
        for i, t in enumerate(times):
            exact = {"updated_at": t, "released_at": t - timedelta(days=1, microseconds=7)}
            conn.execute(sa.update(orders).where(orders.c.order_id == f"{i:024x}").values(**exact))
        conn.execute(sa.update(orders).where(orders.c.order_id == f"{3:024x}").values(expected_ship_time=None))
        stored = {r.order_id: r for r in conn.execute(sa.select(orders))}
    frame = read_pending_batch(engine, "s1")
    assert list(frame["order_id"]) == sorted(stored)
    for row in frame.itertuples():
        assert row.updated_at.to_pydatetime() == stored[row.order_id].updated_at
        assert row.released_at.to_pydatetime() == stored[row.order_id].released_at
    assert [t.to_pydatetime() for t in frame["updated_at"]] == times
    assert frame["expected_ship_time"].isna().tolist() == [False, False, False, True]
    assert str(frame["updated_at"].dt.tz) == "UTC"


def test_text_that_looks_like_the_null_marker_or_an_escape_is_stored_as_it_is(engine: sa.Engine) -> None:
    payload = order(10)
    payload["full_address"]["shipping_detail"].update(
        {"street_address1": "\\N", "street_address2": "C:\\new\\table\r\n", "city": "\\\\N"}
    )
    good, bad = parse_orders([payload])
    load_orders(engine, "s1", good, bad)
    with engine.connect() as conn:
        row = conn.execute(sa.select(orders)).one()
    assert row.street_address1 == "\\N"
    assert row.street_address2 == "C:\\new\\table\r\n"
    assert row.city == "\\\\N"
    assert row.raw["full_address"]["shipping_detail"]["street_address1"] == "\\N"


def _queued(engine: sa.Engine, store: str) -> dict[str, datetime]:
    from wishflow.warehouse.validation_schema import order_validation_queue as q

    with engine.connect() as conn:
        return dict(conn.execute(sa.select(q.c.order_id, q.c.updated_at).where(q.c.store == store)).all())


def test_new_and_newer_versions_await_validation_and_a_reload_does_not_requeue(engine: sa.Engine) -> None:
    from wishflow.validation.outcome import ValidationOutcome
    from wishflow.validation.store import count_pending, read_pending_batch, record_outcome

    good, _ = parse_orders([order(i) for i in range(3)])
    load_orders(engine, "s1", good, run_id="r1")
    ids = [f"{i:024x}" for i in range(3)]
    assert _queued(engine, "s1") == dict.fromkeys(ids, T0)
    assert list(read_pending_batch(engine, "s1")["order_id"]) == ids
    verdict = ValidationOutcome(rows=3, validated=[(i, T0) for i in ids], failures=[], gx_result={})
    record_outcome(engine, "s1", "v1", verdict)
    assert count_pending(engine, "s1") == 0
    # the same payloads again: already judged, not queued again
    load_orders(engine, "s1", good, run_id="r2")
    assert _queued(engine, "s1") == {}
    # a newer version of one order is queued with its own updated_at; judging the old one leaves it
    later = T0 + timedelta(hours=1)
    newer, _ = parse_orders([order(1, updated=later, state="SHIPPED")])
    load_orders(engine, "s1", newer, run_id="r3")
    assert _queued(engine, "s1") == {ids[1]: later}
    record_outcome(engine, "s1", "v2", verdict)
    assert _queued(engine, "s1") == {ids[1]: later}
    judged = ValidationOutcome(rows=1, validated=[(ids[1], later)], failures=[], gx_result={})
    record_outcome(engine, "s1", "v3", judged)
    assert count_pending(engine, "s1") == 0
    # a page mixing stored, older and newer versions queues the newer one only
    even_later = later + timedelta(hours=1)
    mixed, _ = parse_orders([order(0), order(1, updated=T0, state="SHIPPED"), order(2, updated=even_later)])
    assert load_orders(engine, "s1", mixed, run_id="r4").changed == 1
    assert _queued(engine, "s1") == {ids[2]: even_later}


def test_a_write_transaction_that_has_read_waits_for_a_concurrent_writer_instead_of_failing(
    engine: sa.Engine,
) -> None:
    """SQLite in WAL mode refuses at once to upgrade a read transaction after another connection
    has committed a write; ``write_transaction`` takes the lock first, so the other writer waits.
    """
    import threading
    import time

    from wishflow.warehouse.bulk import write_transaction

    good, _ = parse_orders([order(1)])
    load_orders(engine, "s1", good, run_id="r1")
    done: list[BaseException | None] = []

    def other_writer() -> None:
        try:
            later, _ = parse_orders([order(2)])
            load_orders(engine, "s1", later, run_id="r2")
            done.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            done.append(exc)

    with write_transaction(engine) as conn:
        # as ``load_orders`` does: fill a temporary stage, then read the stored versions, then write
        conn.execute(sa.text("CREATE TEMPORARY TABLE IF NOT EXISTS _probe_stage (x integer)"))
        conn.execute(sa.text("INSERT INTO _probe_stage VALUES (1)"))
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 1
        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.5)  # the other load commits here unless this transaction holds the write lock
        conn.execute(sa.update(orders).values(sku="changed"))
    thread.join(timeout=30)
    assert done == [None]
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 2


def test_a_pending_batch_reads_every_value_as_stored(engine: sa.Engine) -> None:
    """PostgreSQL reads the batch with COPY ... TO STDOUT (CSV): values that CSV or pandas would
    change on the way (text that looks like a null, quotes, commas, separators, a leading zero) must
    arrive as stored, SQL NULL as missing, and times as the same UTC instants.
    """
    from wishflow.validation.store import read_pending_batch
    from wishflow.validation.validate import prepare_frame

    tricky = [
        ("NA", "null", "0123", 'He said "hi", then left'),
        ("N/A", "NaN", "00501", "line one\nline two\ttabbed \\ slash"),
        ("Zoë, O'Brien", "東京都", "-", "  padded  "),
    ]
    payloads = []
    for i, (name, city, zipcode, street) in enumerate(tricky):
        updated = T0 + timedelta(milliseconds=123 * (i + 1))
        payload = order(i, updated=updated)
        payload["full_address"] = {
            "shipping_detail": {
                "name": name,
                "city": city,
                "zipcode": zipcode,
                "street_address1": street,
                "country_code": "US",
                "phone_number": {"number": "5550100"} if i == 0 else None,
            }
        }
        payloads.append(payload)
    good, bad = parse_orders(payloads)
    assert not bad
    load_orders(engine, "s1", good, run_id="r1")
    frame = prepare_frame(read_pending_batch(engine, "s1"))
    assert list(frame["recipient_name"]) == [t[0] for t in tricky]
    assert list(frame["city"]) == [t[1] for t in tricky]
    assert list(frame["zipcode"]) == [t[2] for t in tricky]
    assert list(frame["street_address1"]) == [t[3] for t in tricky]
    assert frame["street_address2"].isna().all()
    assert list(frame["phone_number"].isna()) == [False, True, True]
    assert list(frame["quantity"]) == [2.0, 2.0, 2.0]
    assert list(frame["product_price"]) == [12.34, 12.34, 12.34]
    assert [ts.to_pydatetime() for ts in frame["updated_at"]] == [
        T0 + timedelta(milliseconds=123 * (i + 1)) for i in range(3)
    ]
    assert str(frame["updated_at"].dt.tz) == "UTC"


def test_run_changes_counts_in_the_database_and_keeps_the_soonest_new_ids(engine: sa.Engine) -> None:
    """A backfill of a million new orders must not come back as a million ids: the database counts
    them and only the soonest due are listed (what a digest shows).
    """
    from wishflow.warehouse.orders_writer import run_changes

    payloads = []
    for i in range(5):
        p = order(i)
        p["fulfillment_requirements"] = {"expected_ship_time": format_wish_time(T0 + timedelta(days=5 - i))}
        payloads.append(p)
    good, _ = parse_orders(payloads)
    load_orders(engine, "s1", good, run_id="r1")
    changed, _ = parse_orders([order(0, updated=T0 + timedelta(hours=1), state="SHIPPED")])
    load_orders(engine, "s1", changed + parse_orders([order(9)])[0], run_id="r2")
    first = run_changes(engine, "s1", "r1", keep_ids=2)
    assert (first.new, first.changed) == (4, 0)  # order 0 was last written by r2
    assert first.new_order_ids == [f"{4:024x}", f"{3:024x}"]
    second = run_changes(engine, "s1", "r2")
    assert (second.new, second.changed, second.new_order_ids) == (1, 1, [f"{9:024x}"])


def test_a_stage_filled_in_several_copy_chunks_stores_every_row_as_one_copy_does(
    engine: sa.Engine, monkeypatch: Any
) -> None:
    # rows are encoded a chunk at a time while COPY reads them: chunk edges must not split or drop a row
    import wishflow.warehouse.bulk as bulk

    payloads = [order(i) for i in range(7)]
    for p in payloads:
        p["full_address"]["shipping_detail"]["street_address1"] = f"Road {p['id'][-1]} \\ \t end"
    load_orders(engine, "one", *parse_orders(copy.deepcopy(payloads)))
    monkeypatch.setattr(bulk, "COPY_CHUNK_ROWS", 2)
    load_orders(engine, "chunked", *parse_orders(copy.deepcopy(payloads)))

    def stored(store: str) -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            o = conn.execute(
                sa.select(orders.c.order_id, orders.c.street_address1, orders.c.raw)
                .where(orders.c.store == store)
                .order_by(orders.c.order_id)
            ).all()
            e = conn.execute(
                sa.select(order_events.c.order_id, order_events.c.event_type, order_events.c.event_time)
                .where(order_events.c.store == store)
                .order_by(order_events.c.order_id, order_events.c.event_type)
            ).all()
        return [tuple(r) for r in o] + [tuple(r) for r in e]

    assert len(stored("chunked")) == 7 + 7 * 2  # each order: a state change and its release milestone
    assert stored("chunked") == stored("one")


def _plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *[n for child in node.get("Plans", []) for n in _plan_nodes(child)]]


def test_pending_batches_read_each_order_of_the_batch_only(engine: sa.Engine) -> None:
    # every queued order once, in order; and on PostgreSQL, a batch reads the orders of its own keys,
    # not the store's orders before the keyset (a merge join did: each batch cost more than the last)
    from wishflow.validation.store import pending_batch_statement, read_pending_batch

    good, _ = parse_orders([order(i) for i in range(1_200)])
    load_orders(engine, "s1", good, run_id="r1")
    seen: list[str] = []
    after: str | None = None
    while not (batch := read_pending_batch(engine, "s1", after_order_id=after, limit=250)).empty:
        seen += list(batch["order_id"])
        after = seen[-1]
    assert seen == [f"{i:024x}" for i in range(1_200)]
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:  # a history the planner takes seriously: 100,000 more orders, all queued
        columns = ", ".join(c.name for c in orders.c if c.computed is None)
        copies = "jsonb_populate_record(o, jsonb_build_object('order_id', lpad(to_hex(g), 24, '0')))"
        conn.exec_driver_sql(
            f"INSERT INTO orders ({columns}) SELECT {', '.join('r.' + c.strip() for c in columns.split(','))}"
            f" FROM orders o, generate_series(10000, 109999) g, LATERAL {copies} r"
            " WHERE o.store = 's1' AND o.order_id = %(t)s",
            {"t": f"{0:024x}"},
        )
        conn.exec_driver_sql(
            "INSERT INTO order_validation_queue SELECT store, order_id, updated_at, now() FROM orders"
            " WHERE store = 's1' AND order_id > %(t)s ON CONFLICT DO NOTHING",
            {"t": f"{1199:024x}"},
        )
    stmt = pending_batch_statement("s1", after_order_id=f"{70_000:024x}", limit=100)
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        # the key columns only: statistics outlive the suite's TRUNCATEs, and the statistics tests
        # check which of orders' columns the warehouse's own ANALYZE counts
        conn.exec_driver_sql("ANALYZE orders (store, order_id)")
        conn.exec_driver_sql("ANALYZE order_validation_queue")
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).scalar_one()[0]["Plan"]
    scans = [n for n in _plan_nodes(plan) if n.get("Relation Name") == "orders"]
    assert scans
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in scans) == 100  # the batch's orders, no others
    assert all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in scans)


def _store_contents(engine: sa.Engine, store: str) -> tuple[list[Any], list[Any], list[Any]]:
    """A store's orders, events and validation queue, without the store's name or surrogate keys."""
    from wishflow.warehouse.validation_schema import order_validation_queue as q

    order_columns = [c for c in orders.c if c.name != "store"]
    event_columns = [c for c in order_events.c if c.name not in ("store", "event_id")]
    with engine.connect() as conn:
        o = conn.execute(sa.select(*order_columns).where(orders.c.store == store).order_by(orders.c.order_id)).all()
        e = conn.execute(
            sa.select(*event_columns)
            .where(order_events.c.store == store)
            .order_by(order_events.c.order_id, order_events.c.event_type, order_events.c.event_time)
        ).all()
        queued = conn.execute(
            sa.select(q.c.order_id, q.c.updated_at, q.c.queued_at).where(q.c.store == store).order_by(q.c.order_id)
        ).all()
    return o, e, queued


def _pages() -> list[list[Any]]:
    """Three pages: two of new orders (a milestone repeated, text COPY must escape), then a mix."""
    released = {"event_type": "ORDER_RELEASED", "event_time": format_wish_time(T0 - timedelta(days=1))}
    first = [order(i, fulfillment_records=[released, released]) for i in range(40)]
    first.append(order(99, product_information={"id": "p", "sku": "\\N", "name": "tab\there \\. end"}))
    second = [order(i) for i in range(40, 80)]
    mixed = [order(i, updated=T0 + timedelta(hours=1), state="SHIPPED") for i in range(0, 80, 7)] + [order(200)]
    return [first, second, mixed]


def test_a_page_of_new_orders_appended_straight_is_stored_as_the_merge_stores_it(
    engine: sa.Engine, monkeypatch: Any
) -> None:
    """PostgreSQL appends a page none of whose orders is stored with COPY (no stage, no ON CONFLICT):
    orders, events (a page's repeated milestone once) and queue entries equal the merge's.
    """
    from wishflow.warehouse import orders_writer
    from wishflow.warehouse.orders_writer import prepare_orders, write_orders

    now = T0 + timedelta(days=1)
    appended: list[str] = []  # the stores whose pages were appended (the append said so)
    append_new = orders_writer._append_new

    def spied(conn: Any, prepared: Any) -> Any:
        result = append_new(conn, prepared)
        if result is not None:
            appended.append(prepared.store)
        return result

    monkeypatch.setattr(orders_writer, "_append_new", spied)
    straight, from_rows = [], []
    for i, page in enumerate(_pages()):
        good, bad = parse_orders(page)
        # the pull's way: the page's COPY text (orders, events, queue) made before the transaction
        straight.append(write_orders(engine, prepare_orders("fast", good, bad, run_id=f"r{i}", now=now, encode=True)))
        from_rows.append(write_orders(engine, prepare_orders("rows", good, bad, run_id=f"r{i}", now=now)))
    if engine.dialect.name == "postgresql":
        assert appended == ["fast", "rows", "fast", "rows"]  # the third page holds stored orders: merged
    monkeypatch.setattr(orders_writer, "_append_new", lambda _conn, _prepared: None)
    merged = []
    for i, page in enumerate(_pages()):
        good, bad = parse_orders(page)
        merged.append(write_orders(engine, prepare_orders("merged", good, bad, run_id=f"r{i}", now=now)))
    assert [(r.new, r.changed, r.unchanged) for r in straight] == [(41, 0, 0), (40, 0, 0), (1, 12, 0)]
    for results in (straight, from_rows):
        assert [(r.new, r.changed, r.unchanged, r.new_order_ids) for r in results] == [
            (r.new, r.changed, r.unchanged, r.new_order_ids) for r in merged
        ]
    fast, slow = _store_contents(engine, "fast"), _store_contents(engine, "merged")
    assert len(fast[0]) == 82
    assert len(fast[2]) == 82  # nothing judged yet: every stored version is queued
    assert fast == slow
    assert _store_contents(engine, "rows") == slow


def test_a_new_page_whose_events_are_stored_already_is_merged_and_nothing_is_lost(engine: sa.Engine) -> None:
    """An event already stored for an order the warehouse does not hold makes the append's COPY hit
    a unique key: the page is merged from its savepoint instead, every order stored and queued once.
    """
    if engine.dialect.name != "postgresql":
        return  # SQLite always merges
    from wishflow.warehouse.orders_writer import prepare_orders, write_orders

    with engine.begin() as conn:
        conn.execute(
            order_events.insert().values(
                store="s1",
                order_id=f"{3:024x}",
                event_type="ORDER_RELEASED",
                event_time=T0 - timedelta(days=1),
                _loaded_at=T0,
            )
        )
    good, _ = parse_orders([order(i) for i in range(10)])
    result = write_orders(engine, prepare_orders("s1", good, run_id="r1", encode=True))
    assert (result.new, result.changed) == (10, 0)
    rows, events, queued = _store_contents(engine, "s1")
    assert len(rows) == 10
    assert len(queued) == 10
    assert sorted((e.order_id, e.event_type) for e in events) == sorted(
        [(f"{i:024x}", "ORDER_RELEASED") for i in range(10)] + [(f"{i:024x}", "STATE_CHANGED") for i in range(10)]
    )


def test_a_writer_storing_one_of_the_new_orders_meanwhile_makes_the_page_merge(engine: sa.Engine) -> None:
    """The append's probe does not lock. Another transaction inserts one of the page's orders (an
    older version) and commits while the append waits on it: the append's COPY fails on the key, the
    page is merged from its savepoint, and the newer payload wins, counted as a change.
    """
    if engine.dialect.name != "postgresql":
        return  # SQLite serialises writers before they read (test above)
    import threading
    import time

    from wishflow.warehouse.orders_writer import _merge, prepare_orders, write_orders

    older, _ = parse_orders([order(5, updated=T0 - timedelta(hours=1), state="APPROVED")])
    page, _ = parse_orders([order(i, updated=T0, state="SHIPPED") for i in range(10)])
    prepared = prepare_orders("s1", page, run_id="page", encode=True)
    outcome: list[Any] = []

    def append() -> None:
        try:
            outcome.append(write_orders(engine, prepared))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    other = engine.connect()
    try:
        with other.begin():
            _merge(other, prepare_orders("s1", older, run_id="other"))  # the other writer's rows, not committed yet
            thread = threading.Thread(target=append)
            thread.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the append waits on the uncommitted key
                other.execute(sa.text("SELECT pg_stat_clear_snapshot()"))  # else kept for the transaction
                waiting = other.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting, "the append never waited on the other writer's row"
        thread.join(timeout=30)
    finally:
        other.close()
    assert len(outcome) == 1
    assert not isinstance(outcome[0], BaseException), outcome
    assert (outcome[0].new, outcome[0].changed) == (9, 1)
    rows, events, queued = _store_contents(engine, "s1")
    assert {r.order_id: r.state for r in rows} == {f"{i:024x}": "SHIPPED" for i in range(10)}
    assert dict((q.order_id, q.updated_at) for q in queued) == {f"{i:024x}": T0 for i in range(10)}
    changed = [
        (e.from_state, e.to_state) for e in events if e.order_id == f"{5:024x}" and e.event_type == "STATE_CHANGED"
    ]
    assert sorted(changed, key=str) == sorted([(None, "APPROVED"), ("APPROVED", "SHIPPED")], key=str)


def test_the_new_page_probe_looks_each_id_up_by_key_before_orders_has_statistics(engine: sa.Engine) -> None:
    """A backfill's ``orders`` has no statistics yet: ``order_id = ANY(ids)`` was then planned as a scan
    of the store's rows through another index (every page dearer than the last). The probe must
    look each of the page's ids up in the primary key, in a database never analyzed.
    """
    if engine.dialect.name != "postgresql":
        return
    import uuid

    from wishflow.warehouse.engine import make_engine, upgrade
    from wishflow.warehouse.stored_versions import STORED_PROBE

    name = f"wishflow_probe_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    fresh = None
    try:
        url = engine.url.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        fresh = make_engine(url)
        with fresh.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE orders SET (autovacuum_enabled = false)")
        for start in range(0, 6_000, 500):
            good, _ = parse_orders([order(i) for i in range(start, start + 500)])
            load_orders(fresh, "s1", good, run_id="r1")
        ids = [f"{i:024x}" for i in range(10_000, 10_500)]
        with fresh.connect() as conn:
            assert conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'orders'").scalar() < 0
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + STORED_PROBE, {"store": "s1", "ids": ids}
            ).scalar_one()[0]["Plan"]
            hits = conn.exec_driver_sql(STORED_PROBE, {"store": "s1", "ids": [f"{7:024x}", *ids]}).all()
            assert [order_id for order_id, _ in hits] == [f"{7:024x}"]
        scans = [n for n in _plan_nodes(plan) if n.get("Relation Name") == "orders"]
        assert [(n["Index Name"], n["Actual Loops"]) for n in scans] == [("pk_orders", 500)]
    finally:
        if fresh is not None:
            fresh.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_control_characters_in_text_survive_the_pull_s_copy_text(engine: sa.Engine) -> None:
    """The pull's COPY text joins a page with control characters standing for tab, NULL and newline;
    an order whose text holds them is stored as it was sent.
    """
    from wishflow.warehouse.orders_writer import prepare_orders, write_orders

    payload = order(12)
    payload["full_address"]["shipping_detail"].update({"street_address1": "a\x01b\x02c", "city": "\x02"})
    good, bad = parse_orders([payload, order(13)])
    write_orders(engine, prepare_orders("s1", good, bad, run_id="r1", encode=True))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(orders.c.order_id, orders.c.street_address1, orders.c.city, orders.c.raw)).all()
    stored = {r.order_id: r for r in rows}
    assert len(stored) == 2
    row = stored[payload["id"]]
    assert (row.street_address1, row.city) == ("a\x01b\x02c", "\x02")
    assert row.raw["full_address"]["shipping_detail"]["street_address1"] == "a\x01b\x02c"
