"""Tracking and ticket scenarios under every sandbox read profile (small: a few orders each).

Each scenario also meets a scripted 429 and 503 on its reads, so the profile's reset header and
error-body shape are exercised, not only its happy path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tracking"))

from track_helpers import (  # noqa: E402
    STORE,
    admin,
    advance,
    create_orders,
    fates,
    follow_up,
    freeze,
    make_client,
    poll,
    rows,
    ship,
    snapshot,
    tracking_number,
    wish_now,
)

from wishflow.aftersales import awaiting_merchant  # noqa: E402
from wishflow.api.client import RetryPolicy, WishClient  # noqa: E402
from wishflow.sandbox.read_profiles import READ_PROFILES  # noqa: E402
from wishflow.warehouse.aftersales_schema import tickets  # noqa: E402
from wishflow.warehouse.tracking_schema import shipment_tracking, tracking_events  # noqa: E402


@pytest.fixture(params=sorted(READ_PROFILES))
def clock(sandbox: Any, request: pytest.FixtureRequest) -> Any:
    sandbox.sandbox.config.read_profile = request.param
    freeze(sandbox)
    return sandbox


@pytest.fixture
def client(clock: Any) -> Iterator[WishClient]:
    with make_client(clock) as c:
        c.retry = RetryPolicy(base=0.05, cap=0.2)
        yield c


def script_faults(sandbox: Any, path: str) -> None:
    faults = {"rate_limit_burst": 1, "script": [{"kind": "http_429", "path": path}, {"kind": "http_503", "path": path}]}
    httpx.put(f"{sandbox.base_url}/sandbox/faults", json=faults, timeout=30).raise_for_status()


def test_tracking_under_every_read_profile(clock: Any, client: WishClient, engine: sa.Engine) -> None:
    with fates(clock):
        ids = create_orders(clock, 3)
        for i, order_id in enumerate(ids):
            ship(client, order_id, tracking_number(200 + i))
        advance(clock, minutes=5)
        script_faults(clock, "/orders")
        poll(client, engine)
        assert client.retried_requests >= 2
        assert sorted(r["order_id"] for r in rows(engine, shipment_tracking)) == sorted(ids)
        advance(clock, days=1)
        poll(client, engine)
        before = snapshot(engine, [shipment_tracking, tracking_events])
        poll(client, engine)
    assert snapshot(engine, [shipment_tracking, tracking_events]) == before


def test_tickets_under_every_read_profile(clock: Any, client: WishClient, engine: sa.Engine) -> None:
    with fates(clock):
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(7))
        advance(clock, minutes=5)
        ticket_id = admin(clock, "POST", "/sandbox/tickets", json={"order_id": order_id, "reason": "OTHER"})["id"]
        advance(clock, hours=2)
        script_faults(clock, "/tickets$")
        follow_up(client, engine)
        assert client.retried_requests >= 2
        (ticket,) = rows(engine, tickets, ticket_id=ticket_id)
        assert ticket["state"] == "AWAITING_MERCHANT"
        (waiting,) = awaiting_merchant(engine, STORE, now=wish_now(client))
        assert waiting["ticket_id"] == ticket_id
