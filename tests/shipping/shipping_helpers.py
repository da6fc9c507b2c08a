"""Helpers for the shipping tests: orders made in the sandbox, pulled into the warehouse, and marked
valid (as the validation stage would), plus a client with a short timeout for fault tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from wishflow.api.auth import TokenSet
from wishflow.api.client import WishClient
from wishflow.orders.parse import parse_orders
from wishflow.warehouse.orders_writer import load_orders

STORE = "default"


def admin(sandbox: Any, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{sandbox.base_url}{path}", timeout=60, **kw)
    response.raise_for_status()
    body = response.json()
    return body.get("data", body) if isinstance(body, dict) else body


def writes(sandbox: Any, order_id: str) -> list[dict[str, Any]]:
    return admin(sandbox, "GET", f"/sandbox/orders/{order_id}/writes")["writes"]


def accepted_tracking(sandbox: Any, order_id: str) -> list[dict[str, Any]]:
    return [w for w in writes(sandbox, order_id) if w["endpoint"] == "tracking" and w["outcome"] == "accepted"]


def set_faults(sandbox: Any, **faults: Any) -> None:
    admin(sandbox, "PUT", "/sandbox/faults", json=faults)


def advance(sandbox: Any, seconds: float) -> None:
    admin(sandbox, "POST", "/sandbox/clock", json={"advance_seconds": seconds})


def mark_valid(engine: sa.Engine, store: str, order_ids: list[str]) -> None:
    """What the validation stage records for orders that passed (so ``v_unprocessed_orders`` has them)."""
    from wishflow.warehouse.schema import metadata, orders

    validations = metadata.tables["order_validations"]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        updated = dict(
            conn.execute(
                sa.select(orders.c.order_id, orders.c.updated_at).where(
                    orders.c.store == store, orders.c.order_id.in_(order_ids)
                )
            ).all()
        )
        conn.execute(validations.delete().where(validations.c.store == store, validations.c.order_id.in_(order_ids)))
        conn.execute(
            validations.insert(),
            [
                {
                    "store": store,
                    "order_id": oid,
                    "validated_updated_at": updated[oid],
                    "status": "valid",
                    "blocking_failures": 0,
                    "warning_failures": 0,
                    "run_id": "test",
                    "validated_at": now,
                    "quarantined_since": None,
                    "released_from_quarantine_at": None,
                    "_loaded_at": now,
                }
                for oid in order_ids
            ],
        )


def make_client(sandbox: Any, timeout: float = 10.0) -> WishClient:
    return WishClient(sandbox.api_url, TokenSet(SecretStr(sandbox.access_token), None), timeout=timeout)


def record(sandbox: Any, engine: sa.Engine, ids: list[str]) -> None:
    """Read the orders from the sandbox (as the pull would) and load them into the warehouse."""
    payloads = [sandbox.sandbox.get_order(i) for i in ids]
    parsed, bad = parse_orders(payloads)
    assert not bad
    for start in range(0, len(parsed), 1000):
        load_orders(engine, STORE, parsed[start : start + 1000])
