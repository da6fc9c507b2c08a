"""The pull under every sandbox read profile: real HTTP, real warehouses, small data.

A tie no filter splits (the download job), ordinary pages, a scripted 429 and 503, and an order dated
a year ahead: every order recorded exactly once whatever the profile, and a second pull changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from wishflow.api.auth import TokenSet
from wishflow.api.client import RetryPolicy, WishClient
from wishflow.orders.flatten import format_wish_time
from wishflow.pull import PullWindow, plan_window, pull_chunk
from wishflow.sandbox.read_profiles import READ_PROFILES
from wishflow.sync.flags import FUTURE_SOURCE
from wishflow.warehouse.schema import orders, rejected_records

START = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def pull(client: WishClient, engine: sa.Engine) -> int:
    """One incremental pull (window, then the future sweep); returns the orders new to the warehouse."""
    window = plan_window(engine, "s", now=client.server_now(), safety_lag=timedelta(0))
    new = 0
    for current in [window, window.future_sweep()]:
        if current is None:
            continue
        position = None
        while True:
            chunk = pull_chunk(client, engine, "s", PullWindow.from_json(current.to_json()), position, page_size=100)
            new += chunk.load.new
            position = chunk.next_position
            if position is None:
                break
    return new


def count(engine: sa.Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


@pytest.mark.parametrize("profile", sorted(READ_PROFILES))
def test_a_pull_is_exact_under_every_read_profile(sandbox, engine: sa.Engine, profile: str) -> None:  # type: ignore[no-untyped-def]
    sandbox.sandbox.config.read_profile = profile
    admin = httpx.Client(base_url=f"{sandbox.base_url}/sandbox", timeout=60)
    admin.post("/clock", json={"now": START.isoformat(), "running": False}).raise_for_status()
    tie = format_wish_time(START - timedelta(hours=1))
    ahead = format_wish_time(START + timedelta(days=365))
    admin.post("/orders", json={"count": 250, "template": {"updated_at": tie, "released_at": tie}}).raise_for_status()
    admin.post("/orders", json={"count": 60}).raise_for_status()
    admin.post("/orders", json={"orders": [{"updated_at": ahead, "released_at": ahead}]}).raise_for_status()
    admin.post("/clock", json={"advance_seconds": 60}).raise_for_status()
    admin.put("/faults", json={"rate_limit_burst": 1, "script": [{"kind": "http_429"}, {"kind": "http_503"}]})
    with WishClient(
        sandbox.api_url, TokenSet(SecretStr(sandbox.access_token)), retry=RetryPolicy(base=0.05, cap=0.2)
    ) as client:
        assert pull(client, engine) == 311
        assert count(engine, orders) == 311
        assert count(engine, rejected_records, rejected_records.c.source == FUTURE_SOURCE) == 1
        assert pull(client, engine) == 0
        assert client.retried_requests >= 2
    admin.close()
