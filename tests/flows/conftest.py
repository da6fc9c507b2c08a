"""Fixtures for flow tests: the environment that points flows at the sandbox and the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

# A little ahead of real time (the sandbox clock never goes back; its tokens last 30 days).
CLOCK_START = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


class SandboxAdmin:
    """The sandbox's admin API, over HTTP like any client."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()  # not left to the GC: an open client's socket is a ResourceWarning

    def create(self, orders: list[dict]) -> list[str]:
        r = self.http.post("/sandbox/orders", json={"orders": orders})
        r.raise_for_status()
        return r.json()["data"]["ids"] if "data" in r.json() else r.json()["ids"]

    def generate(self, count: int) -> list[str]:
        r = self.http.post("/sandbox/orders", json={"count": count})
        r.raise_for_status()
        body = r.json()
        return (body.get("data") or body)["ids"]

    def set_clock(self, when: datetime) -> None:
        self.http.post("/sandbox/clock", json={"now": when.isoformat(), "running": False}).raise_for_status()

    def advance(self, seconds: float) -> None:
        self.http.post("/sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()

    def faults(self, **mix: object) -> None:
        self.http.put("/sandbox/faults", json=mix).raise_for_status()

    def stats(self) -> dict:
        body = self.http.get("/sandbox/stats").json()
        return body.get("data", body)

    def writes(self, order_id: str) -> list[dict]:
        body = self.http.get(f"/sandbox/orders/{order_id}/writes").json()
        return (body.get("data") or body)["writes"]


@pytest.fixture
def admin(sandbox) -> Iterator[SandboxAdmin]:  # type: ignore[no-untyped-def]
    client = SandboxAdmin(sandbox.base_url)
    client.set_clock(CLOCK_START)
    yield client
    client.http.close()


@pytest.fixture
def flow_env(monkeypatch: pytest.MonkeyPatch, sandbox, warehouse_url: str, prefect_harness) -> str:  # type: ignore[no-untyped-def]
    """Environment-based configuration (no blocks) pointing at the sandbox and the test warehouse."""
    monkeypatch.setenv("WISH_API_BASE_URL", sandbox.api_url)
    monkeypatch.setenv("WISHFLOW_PROFILE", "sandbox")  # a sandbox on a random port, on purpose
    monkeypatch.setenv("WISH_ACCESS_TOKEN", sandbox.access_token)
    monkeypatch.setenv("WISH_REFRESH_TOKEN", sandbox.refresh_token)
    monkeypatch.setenv("WISH_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("WISH_CLIENT_SECRET", sandbox.client_secret)
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    return warehouse_url
