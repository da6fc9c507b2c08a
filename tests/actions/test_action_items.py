"""``v_action_items`` lists every kind of thing to do once, with its current severity; its counts equal
the views'; ``wishflow todo`` prints the same list; follow-up texts follow their deadline.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.validation.conftest import NOW, good_order, insert_orders
from wishflow.actions import ACTION_KINDS, action_items, queue_counts
from wishflow.aftersales.follow_ups import update_follow_ups
from wishflow.validation import validate_pending
from wishflow.validation.queries import orders_at_risk
from wishflow.warehouse.aftersales_schema import follow_ups, penalties, tickets
from wishflow.warehouse.shipping_schema import shipments
from wishflow.warehouse.tracking_schema import tracking_exceptions
from wishflow_cli import todo_cmd

STORE = "default"


def _seed(engine: sa.Engine) -> None:
    insert_orders(
        engine,
        STORE,
        [
            good_order(
                "held-overdue",
                zipcode=None,
                expected_ship_time=NOW - timedelta(hours=2),
                released_at=NOW - timedelta(days=6),
            ),
            good_order("held-later", country_code="XX"),
            good_order(
                "held-shipped", zipcode=None, state="SHIPPED", tracking_number="LX9", processing_status="SUCCEEDED"
            ),
            good_order("soon", expected_ship_time=NOW + timedelta(hours=5)),
            good_order("relaxed"),
            good_order("sent", tracking_number="YT1", processing_status="IN_PROGRESS"),
            good_order("shipped-late", state="SHIPPED", tracking_number="YT2", processing_status="SUCCEEDED"),
        ],
    )
    insert_orders(engine, "other", [good_order("elsewhere", zipcode=None)])
    validate_pending(engine, STORE, "run", now=NOW)
    validate_pending(engine, "other", "run", now=NOW)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            shipments.insert(),
            [
                {
                    "shipment_id": "s-1",
                    "store": STORE,
                    "order_id": "sent",
                    "kind": "ship",
                    "parcel_id": "p-1",
                    "carrier": "YunExpress",
                    "origin_country": "CN",
                    "tracking_number": "YT1",
                    "state": "submitted",
                    "attempts": 1,
                    "planned_at": now - timedelta(hours=30),
                    "submitted_at": now - timedelta(hours=29),
                    "updated_at": now - timedelta(hours=29),
                    "_loaded_at": now,
                }
            ],
        )
        conn.execute(
            tracking_exceptions.insert(),
            [
                {
                    "store": STORE,
                    "order_id": "shipped-late",
                    "tracking_number": "YT2",
                    "exception_type": "WISH_EXPRESS_LATE",
                    "opened_at": now - timedelta(days=1),
                    "severity": "at_risk",
                    "deadline_at": now + timedelta(hours=3),
                    "details": "delivery due by soon",
                    "_loaded_at": now,
                }
            ],
        )
        conn.execute(
            tickets.insert(),
            [
                {
                    "store": STORE,
                    "ticket_id": "t-1",
                    "state": "AWAITING_MERCHANT",
                    "subject": "Where is it?",
                    "order_id": "shipped-late",
                    "opened_at": now - timedelta(hours=10),
                    "awaiting_merchant_since": now - timedelta(hours=10),
                    "updated_at": now - timedelta(hours=10),
                    "reply_count": 1,
                    "raw": {},
                    "_loaded_at": now,
                }
            ],
        )
        conn.execute(
            penalties.insert(),
            [
                {
                    "store": STORE,
                    "penalty_id": "pen-1",
                    "order_id": "shipped-late",
                    "penalty_reason": "LATE_FULFILLMENT",
                    "penalty_amount": Decimal("5.00"),
                    "currency_code": "USD",
                    "created_at": now - timedelta(days=1),
                    "reversed": False,
                    "raw": {},
                    "_loaded_at": now,
                }
            ],
        )
    update_follow_ups(engine, STORE, now=now)


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(sql).scalar_one())


def test_the_action_list_covers_every_kind_once_with_counts_equal_to_the_views(engine: sa.Engine) -> None:
    _seed(engine)
    items = action_items(engine, STORE)
    by_kind: dict[str, list[str]] = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item["order_id"])
    assert by_kind == {
        "quarantined_order": ["held-overdue", "held-later"],
        "order_at_risk": ["soon"],
        "shipment_pending_at_wish": ["sent"],
        "tracking_exception": ["shipped-late"],
        "ticket_awaiting_merchant": ["shipped-late"],
        "penalty_to_review": ["shipped-late"],
    }
    assert set(by_kind) == set(ACTION_KINDS)
    # missed first, then at risk, then the rest, each by due time
    assert [i["severity"] for i in items][:1] == ["missed"]
    assert items[0]["order_id"] == "held-overdue"
    ranks = [{"missed": 0, "at_risk": 1, "action": 2}[i["severity"]] for i in items]
    assert ranks == sorted(ranks)
    held = next(i for i in items if i["order_id"] == "held-later")
    assert "country_code_valid" in held["what_to_do"]
    assert held["severity"] == "action"

    counts = queue_counts(engine, STORE)
    assert counts.quarantined == _count(engine, "SELECT count(*) FROM v_quarantined_orders WHERE store = 'default'")
    assert counts.quarantined == 2  # the shipped one is not on the list, nor the other store's
    assert counts.waiting_to_ship == _count(engine, "SELECT count(*) FROM v_unprocessed_orders WHERE store = 'default'")
    assert counts.waiting_to_ship == 2  # soon, relaxed
    # at risk has one meaning: open, not quarantined (held-overdue is counted once, as quarantined)
    assert counts.at_risk == _count(engine, "SELECT count(*) FROM v_orders_at_risk WHERE store = 'default'") == 1
    assert counts.at_risk == counts.actions["order_at_risk"]
    assert [r["order_id"] for r in orders_at_risk(engine, STORE)] == by_kind["order_at_risk"]
    assert counts.actions == {kind: len(ids) for kind, ids in by_kind.items()}
    assert (
        counts.total_actions
        == len(items)
        == _count(engine, "SELECT count(*) FROM v_action_items WHERE store = 'default'")
    )
    assert queue_counts(engine, "other").quarantined == 1


def test_a_follow_up_says_missed_once_its_deadline_has_passed(engine: sa.Engine) -> None:
    _seed(engine)
    item = next(i for i in action_items(engine, STORE) if i["kind"] == "tracking_exception")
    assert item["severity"] == "at_risk"
    assert "(at_risk)" in item["what_to_do"]

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            tracking_exceptions.update().values(severity="missed", details="delivery was due", escalated_at=now)
        )
    result = update_follow_ups(engine, STORE, now=now)
    assert [u["kind"] for u in result.updated] == ["WISH_EXPRESS_LATE"]
    item = next(i for i in action_items(engine, STORE) if i["kind"] == "tracking_exception")
    assert item["severity"] == "missed"
    assert "(missed)" in item["what_to_do"]
    assert "at_risk" not in item["what_to_do"]
    with engine.connect() as conn:
        summaries = conn.execute(sa.select(follow_ups.c.summary).where(follow_ups.c.kind == "WISH_EXPRESS_LATE")).all()
    assert len(summaries) == 1
    assert "(missed)" in summaries[0][0]
    assert update_follow_ups(engine, STORE, now=now).updated == []  # a rerun writes nothing


def test_todo_prints_the_same_list(engine: sa.Engine, warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(engine)
    parser = argparse.ArgumentParser(prog="wishflow")
    todo_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["todo", "--warehouse-url", warehouse_url, "--json"])
    assert args.func(args) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = action_items(engine, STORE)
    assert [(i["kind"], i["order_id"]) for i in payload["items"]] == [(i["kind"], i["order_id"]) for i in expected]
    assert payload["counts"]["quarantined"] == 2
    assert payload["counts"]["total_actions"] == len(expected)

    args = parser.parse_args(["todo", "--warehouse-url", warehouse_url])
    assert args.func(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"store default: {len(expected)} thing(s) to do (1 missed")
    assert "2 quarantined, 2 waiting to ship" in out[0]
    assert out[1].split()[:3] == ["severity", "kind", "order_id"]
    assert out[3].split()[:3] == ["missed", "quarantined_order", "held-overdue"]


def test_the_daily_summary_shows_the_same_list(engine: sa.Engine, warehouse_url: str) -> None:
    from tasks.aftersales import daily_summary_task
    from wishflow.notify.digest import action_list_markdown

    _seed(engine)
    items = action_items(engine, STORE)
    markdown = daily_summary_task.fn(STORE, warehouse_url, NOW.date()).markdown
    assert f"## To do today ({len(items)})" in markdown
    assert "2 quarantined (open orders held by validation), 2 waiting to ship, 1 at risk" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "quarantined_order" in line]
    assert [r.split("|")[3].strip() for r in rows] == ["held-overdue", "held-later"]
    capped = action_list_markdown(STORE, queue_counts(engine, STORE), items[:2], max_lines=2)
    assert capped.rstrip().endswith(f"… and {len(items) - 2} more")
