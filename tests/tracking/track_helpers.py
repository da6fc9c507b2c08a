"""Helpers of the tracking and after-sales tests: a frozen sandbox clock moved by hand, carrier fates
forced through the sandbox's configuration, orders created and shipped through the API, and one-call
library versions of the poll and the follow-up (the flows run the same steps as tasks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from wishflow.aftersales import (
    ReplyPolicy,
    plan_replies,
    send_replies,
    sync_penalties,
    sync_refunds,
    sync_tickets,
    update_completions,
    update_follow_ups,
)
from wishflow.api.auth import TokenSet
from wishflow.api.client import WishClient
from wishflow.orders.parse import parse_orders
from wishflow.tracking import PollResult, TrackingPolicy, poll_once
from wishflow.warehouse.orders_writer import load_orders

STORE = "default"
CARRIER = "DHL"  # delivers everywhere and is a confirmed-delivery carrier
#: A little ahead of real time (the sandbox clock never goes back).
CLOCK_START = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
#: Every carrier fate off: parcels are scanned and delivered on time, no tickets.
CALM = {"delayed_share": 0.0, "never_scanned_share": 0.0, "cancelled_share": 0.0, "ticket_share": 0.0}
PLAIN = ["FULFILLED_BY_STORE"]  # no Wish Express, no confirmed delivery


def admin(sandbox: Any, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{sandbox.base_url}{path}", timeout=120, **kw)
    response.raise_for_status()
    body = response.json()
    return body.get("data", body) if isinstance(body, dict) else body


def freeze(sandbox: Any, when: datetime = CLOCK_START) -> datetime:
    admin(sandbox, "POST", "/sandbox/clock", json={"now": when.isoformat(), "running": False})
    return when


def advance(sandbox: Any, **delta: float) -> datetime:
    seconds = timedelta(**delta).total_seconds()
    body = admin(sandbox, "POST", "/sandbox/clock", json={"advance_seconds": seconds})
    return datetime.fromisoformat(body["now"].replace("Z", "+00:00"))


def advance_until_cancelled(sandbox: Any, client: WishClient, order_id: str, max_days: int = 9) -> datetime:
    """Move the clock a day at a time until the carrier has cancelled ``order_id``'s tracking.

    The carrier cancels 3 to 8 days after shipment (drawn per order id), and Wish refunds a
    re-released order 5 days later if it is not shipped again; a fixed jump could overshoot that
    deadline, depending on which id the sandbox handed out.
    """
    for _ in range(max_days):
        now = advance(sandbox, days=1)
        records = client.get_order(order_id).get("fulfillment_records") or []
        if any(r.get("event_type") == "TRACKING_CANCELLED" for r in records):
            return now
    raise AssertionError(f"the carrier did not cancel {order_id}'s tracking within {max_days} days")


def sandbox_now(sandbox: Any) -> datetime:
    body = admin(sandbox, "GET", "/sandbox/clock")
    return datetime.fromisoformat(body["now"].replace("Z", "+00:00"))


@contextmanager
def fates(sandbox: Any, **shares: float) -> Iterator[None]:
    """Force carrier behaviour (delayed / never scanned / cancelled / tickets) for parcels shipped
    inside the block, through the running sandbox's configuration; restored afterwards.
    """
    config = sandbox.sandbox.config
    saved = {name: getattr(config, name) for name in {**CALM, **shares}}
    for name, value in {**CALM, **shares}.items():
        setattr(config, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(config, name, value)


def make_client(sandbox: Any) -> WishClient:
    return WishClient(sandbox.api_url, TokenSet(SecretStr(sandbox.access_token), None), timeout=30.0)


def create_orders(sandbox: Any, count: int = 1, *, types: list[str] | None = None, **template: Any) -> list[str]:
    """Approved orders released now (``count`` of them), with ``template`` merged over each."""
    body = {"count": count, "template": {"fulfillment_order_types": types or PLAIN, **template}, "spread_seconds": 0}
    return admin(sandbox, "POST", "/sandbox/orders", json=body)["ids"]


def pull(client: WishClient, engine: sa.Engine, order_ids: list[str]) -> None:
    """Record orders as the pull would (tracking leaves orders it has never seen, unshipped, to it)."""
    parsed, bad = parse_orders([client.get_order(i) for i in order_ids])
    assert not bad
    load_orders(engine, STORE, parsed)


def ship(client: WishClient, order_id: str, number: str, carrier: str = CARRIER) -> None:
    client.ship_order(order_id, tracking_number=number, shipping_provider=carrier, origin_country="CN")


def tracking_number(i: int, prefix: str = "1") -> str:
    return f"{prefix}{i:09d}"


def wish_now(client: WishClient) -> datetime:
    """Wish's clock now (``server_now`` alone returns the Date of the client's last response)."""
    client.test_token()
    return client.server_now()


def poll(client: WishClient, engine: sa.Engine, **policy: Any) -> PollResult:
    return poll_once(client, engine, STORE, now=wish_now(client), policy=TrackingPolicy(**policy))


def follow_up(
    client: WishClient,
    engine: sa.Engine,
    *,
    quiet_period: timedelta = timedelta(days=3),
    replies: ReplyPolicy | None = None,
) -> dict[str, Any]:
    """The follow-up stage, library-level: refresh, sync, reply, complete, follow-ups."""
    now = wish_now(client)
    poll_once(client, engine, STORE, now=now)
    out: dict[str, Any] = {
        "refunds": sync_refunds(engine, STORE),
        "tickets": sync_tickets(client, engine, STORE),
        "penalties": sync_penalties(client, engine, STORE),
    }
    policy = replies or ReplyPolicy()
    plans = plan_replies(engine, STORE, policy)
    out["replies"] = send_replies(client, engine, STORE, plans, dry_run=policy.dry_run) if plans else []
    out["completions"] = update_completions(engine, STORE, now=now, quiet_period=quiet_period)
    out["follow_ups"] = update_follow_ups(engine, STORE, now=now)
    return out


def rows(engine: sa.Engine, table: sa.Table, **where: Any) -> list[dict[str, Any]]:
    query = sa.select(table).where(*[table.c[k] == v for k, v in where.items()])
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def snapshot(engine: sa.Engine, tables: list[sa.Table]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables`` (``_loaded_at`` included): equal snapshots mean nothing was written."""
    out = {}
    with engine.connect() as conn:
        for table in tables:
            key = [c for c in table.primary_key.columns]
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*key))]
    return out
