"""Saturated ties of tickets and penalties (more at one instant than a page holds): synced exactly
once on the first run, with and without faults, and a second sync changes nothing. A group no
filter of Wish's splits is flagged and passed, never a wedge.

Real HTTP to the sandbox and real warehouses; pages of 50 keep the data small.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tracking"))

from track_helpers import STORE, advance, create_orders, fates, freeze, make_client, snapshot, wish_now  # noqa: E402

from wishflow.aftersales import sync_penalties, sync_tickets  # noqa: E402
from wishflow.aftersales.tickets import TICKETS  # noqa: E402
from wishflow.api.client import RetryPolicy, WishClient  # noqa: E402
from wishflow.pull import PullWindow, plan_window, pull_chunk  # noqa: E402
from wishflow.sandbox.core import TICKET_STATES  # noqa: E402
from wishflow.sandbox.ties import open_tickets_at, penalise_at  # noqa: E402
from wishflow.sandbox.timeutil import dt_to_ms  # noqa: E402
from wishflow.warehouse.aftersales_schema import penalties, tickets  # noqa: E402
from wishflow.warehouse.schema import rejected_records  # noqa: E402

PAGE = 50


def pull(client: WishClient, engine: sa.Engine) -> None:
    window = plan_window(engine, STORE, now=wish_now(client))
    position = None
    while True:
        chunk = pull_chunk(client, engine, STORE, PullWindow.from_json(window.to_json()), position, page_size=PAGE)
        position = chunk.next_position
        if position is None:
            return


def fresh(client: WishClient) -> WishClient:
    """The client, having just read Wish's clock (the syncs take Wish's now from the last answer)."""
    wish_now(client)
    return client


def count(engine: sa.Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def faulty(sandbox: Any, path: str) -> None:
    """A 30% mix of 5xx, cut-off and malformed answers on every Wish read, and a scripted 429 and two
    503s on ``path`` (the client retries each at the request).
    """
    script = [
        {"kind": "http_429", "path": path},
        {"kind": "http_503", "path": path},
        {"kind": "http_503", "path": path},
    ]
    mix = {"http_500": 0.1, "http_503": 0.1, "cut_off": 0.05, "malformed_json": 0.05}
    httpx.put(
        f"{sandbox.base_url}/sandbox/faults", json={"rate_limit_burst": 1, "script": script, **mix}, timeout=30
    ).raise_for_status()


@pytest.fixture
def client(sandbox: Any) -> Any:
    freeze(sandbox)
    with make_client(sandbox) as c:
        c.retry = RetryPolicy(base=0.05, cap=0.2)
        yield c


@pytest.mark.parametrize("faults", [False, True], ids=["calm", "faults"])
def test_a_saturated_ticket_tie_is_synced_exactly_once(
    sandbox: Any, client: WishClient, engine: sa.Engine, faults: bool
) -> None:
    with fates(sandbox):
        ids = create_orders(sandbox, 3 * PAGE)
        at = wish_now(client)
        made = open_tickets_at(sandbox.sandbox, ids, dt_to_ms(at), states=TICKET_STATES)
        advance(sandbox, minutes=5)
        if faults:
            faulty(sandbox, "/tickets")
        first = sync_tickets(fresh(client), engine, STORE, page_size=PAGE)
        assert first.inserted == len(made) == 3 * PAGE
        assert first.unresolved == 0
        assert count(engine, tickets) == 3 * PAGE
        if faults:
            assert client.retried_requests >= 3
        before = snapshot(engine, [tickets])
        second = sync_tickets(fresh(client), engine, STORE, page_size=PAGE)
        assert (second.inserted, second.updated) == (0, 0)
        assert snapshot(engine, [tickets]) == before


def test_a_ticket_group_no_filter_splits_is_flagged_and_passed(
    sandbox: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(sandbox):
        ids = create_orders(sandbox, PAGE + 10)
        at = wish_now(client)
        open_tickets_at(sandbox.sandbox, ids[: PAGE + 5], dt_to_ms(at))  # one type, one state, one instant
        advance(sandbox, seconds=1)
        later = open_tickets_at(sandbox.sandbox, ids[PAGE + 5 :], dt_to_ms(wish_now(client)))
        advance(sandbox, minutes=5)
        result = sync_tickets(fresh(client), engine, STORE, page_size=PAGE)
        assert result.unresolved == 1
        assert count(engine, tickets) == PAGE + len(later)  # what one page could read of the group ...
        assert count(engine, tickets, tickets.c.ticket_id.in_(later)) == len(later)  # ... and past it
        (flag,) = [r for r in snapshot(engine, [rejected_records])["rejected_records"]]
        assert TICKETS.flag_source in flag
        again = sync_tickets(fresh(client), engine, STORE, page_size=PAGE)  # the look-back re-reads it
        assert (again.inserted, again.unresolved) == (0, 1)
        assert count(engine, rejected_records) == 1  # the same flag, upserted


@pytest.mark.parametrize("faults", [False, True], ids=["calm", "faults"])
def test_a_saturated_penalty_tie_is_synced_exactly_once(
    sandbox: Any, client: WishClient, engine: sa.Engine, faults: bool
) -> None:
    with fates(sandbox):
        ids = create_orders(sandbox, 2 * PAGE + 7)
        advance(sandbox, minutes=1)
        made = penalise_at(sandbox.sandbox, ids, dt_to_ms(wish_now(client)))
        advance(sandbox, minutes=5)
        pull(client, engine)  # the orders name their penalties
        if faults:
            faulty(sandbox, "/penalties")
        first = sync_penalties(fresh(client), engine, STORE, page_size=PAGE)
        assert first.inserted == len(made) == 2 * PAGE + 7
        assert first.unresolved == 0
        assert count(engine, penalties) == len(made)
        if faults:
            assert client.retried_requests >= 3
        before = snapshot(engine, [penalties])
        second = sync_penalties(fresh(client), engine, STORE, page_size=PAGE)
        assert (second.inserted, second.updated, second.unresolved) == (0, 0, 0)
        assert snapshot(engine, [penalties]) == before
        assert count(engine, rejected_records) == 0
