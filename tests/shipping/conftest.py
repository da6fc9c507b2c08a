"""Fixtures of the shipping tests (helpers live in ``shipping_helpers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from shipping_helpers import STORE, admin, make_client, mark_valid, record

from wishflow.api.client import WishClient


@pytest.fixture(autouse=True)
def _short_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run the sandbox in real time with 1-2 s client timeouts: a send settles after 2 s (the
    production horizon is a policy setting of minutes; tests that need it pass their own clock).
    """
    monkeypatch.setenv("WISHFLOW_WRITE_SETTLE_SECONDS", "2")


@pytest.fixture
def client(sandbox: Any) -> Iterator[WishClient]:
    with make_client(sandbox, timeout=2.0) as c:
        yield c


@pytest.fixture
def seed(sandbox: Any, engine: sa.Engine) -> Callable[..., list[str]]:
    """``seed(orders=[partial, ...])`` or ``seed(count=N)``: create, pull into the warehouse, mark valid."""

    def _seed(
        orders: list[dict[str, Any]] | None = None, count: int | None = None, valid: bool = True, **template: Any
    ) -> list[str]:
        body: dict[str, Any] = {"orders": orders} if orders is not None else {"count": count or 1}
        if template and orders is None:
            body["template"] = template
        ids = admin(sandbox, "POST", "/sandbox/orders", json=body)["ids"]
        record(sandbox, engine, ids)
        if valid:
            mark_valid(engine, STORE, ids)
        return ids

    return _seed
