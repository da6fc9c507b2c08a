"""Fault injection (each kind), rate limiting, and the rule that /sandbox/ is never faulted."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from wishflow.sandbox import RunningSandbox, SandboxConfig, serve_in_thread

TRACKING = {"tracking_number": "1Z999AA10123456784", "shipping_provider": "UPS", "origin_country": "CN"}


def set_faults(admin: httpx.Client, **faults: Any) -> None:
    admin.put("/faults", json=faults).raise_for_status()


def approved_id(admin: httpx.Client) -> str:
    body = {"orders": [{"full_address": {"shipping_detail": {"country_code": "US"}}, "fulfillment_order_types": []}]}
    return admin.post("/orders", json=body).json()["ids"][0]


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503)])
def test_server_errors(api: httpx.Client, admin: httpx.Client, kind: str, status: int) -> None:
    set_faults(admin, script=[{"kind": kind, "path": "/orders$"}])
    response = api.get("/orders")
    assert response.status_code == status
    assert response.headers["wish-request-id"]
    if status != 502:
        assert response.json()["code"] == 1000
    assert api.get("/orders").status_code == 200  # one-shot


def test_429_bursts(api: httpx.Client, admin: httpx.Client) -> None:
    set_faults(admin, rate_limit_burst=3, script=[{"kind": "http_429"}])
    statuses = [api.get("/orders", params={"limit": 1}).status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]


def test_cut_off_body_is_a_transport_error(api: httpx.Client, admin: httpx.Client) -> None:
    set_faults(admin, script=[{"kind": "cut_off", "method": "GET"}])
    with pytest.raises(httpx.TransportError):
        api.get("/orders", params={"limit": 100})
    assert api.get("/orders").status_code == 200


def test_malformed_json(api: httpx.Client, admin: httpx.Client) -> None:
    set_faults(admin, script=[{"kind": "malformed_json"}])
    response = api.get("/orders")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_schema_drift_adds_unknown_fields(api: httpx.Client, admin: httpx.Client) -> None:
    set_faults(admin, script=[{"kind": "schema_drift"}])
    body = api.get("/orders", params={"limit": 3}).json()
    assert body["code"] == 0
    assert "request_meta" in body
    assert all("x_sandbox_added" in order for order in body["data"])


def test_write_applied_response_lost(api: httpx.Client, admin: httpx.Client) -> None:
    """The tracking PUT takes effect, then the connection drops: a client must read back, not resend."""
    oid = approved_id(admin)
    set_faults(admin, script=[{"kind": "response_lost", "method": "PUT", "path": "/tracking$"}])
    with pytest.raises(httpx.TransportError):
        api.put(f"/orders/{oid}/tracking", json=TRACKING)
    readback = api.get(f"/orders/{oid}").json()["data"]
    assert readback["processing_source"] == "UPDATE_TRACKING"
    assert readback["tracking_information"][0]["tracking_number"] == TRACKING["tracking_number"]
    writes = admin.get(f"/orders/{oid}/writes").json()["writes"]
    assert len(writes) == 1
    assert writes[0]["outcome"] == "accepted"
    assert writes[0]["response_lost"] is True


def test_timeout_processes_the_request_then_stalls(api: httpx.Client, admin: httpx.Client) -> None:
    oid = approved_id(admin)
    set_faults(admin, timeout_seconds=1.0, script=[{"kind": "timeout", "method": "PUT"}])
    with pytest.raises(httpx.ReadTimeout):
        api.put(f"/orders/{oid}/tracking", json=TRACKING, timeout=0.3)
    assert api.get(f"/orders/{oid}").json()["data"]["processing_status"] == "IN_PROGRESS"


def test_latency(api: httpx.Client, admin: httpx.Client) -> None:
    set_faults(admin, latency_ms=500)
    started = time.perf_counter()
    api.get("/orders", params={"limit": 1})
    assert time.perf_counter() - started >= 0.5
    started = time.perf_counter()
    admin.get("/stats")
    assert time.perf_counter() - started < 0.5  # the admin API is never delayed


def test_random_shares_are_seeded_and_restricted_by_path(
    api: httpx.Client, admin: httpx.Client, running: RunningSandbox
) -> None:
    set_faults(admin, http_503=0.5, paths="/orders$")
    first = [api.get("/orders", params={"limit": 1}).status_code for _ in range(30)]
    assert 503 in first
    assert 200 in first
    assert all(api.get("/oauth/test").status_code == 200 for _ in range(10))
    admin.post("/reset", json={"seed": 7}).raise_for_status()
    set_faults(admin, http_503=0.5, paths="/orders$")
    again = [api.get("/orders", params={"limit": 1}).status_code for _ in range(30)]
    assert again == first  # same seed, same fault sequence
    stats = admin.get("/stats").json()["requests"]["GET /api/v3/orders"]
    assert stats["fault:http_503"] + stats["200"] == 30


def test_admin_api_is_never_faulted(admin: httpx.Client) -> None:
    set_faults(admin, http_500=1.0, cut_off=1.0)
    for _ in range(5):
        assert admin.get("/stats").status_code == 200
        assert admin.get("/faults").json()["http_500"] == 1.0


def test_bad_fault_settings_are_rejected(admin: httpx.Client) -> None:
    assert admin.put("/faults", json={"http_500": 2}).status_code == 400
    assert admin.put("/faults", json={"lightning": 0.1}).status_code == 400
    assert admin.put("/faults", json={"script": [{"kind": "meteor"}]}).status_code == 400


def test_rate_limit_is_a_token_bucket_per_token() -> None:
    config = SandboxConfig(seed=1, orders=5, rate_limit=2, start_time=datetime(2025, 3, 1, tzinfo=UTC))
    with (
        serve_in_thread(config) as running,
        httpx.Client(base_url=running.api_url, headers={"Authorization": f"Bearer {running.access_token}"}) as api,
    ):
        responses = [api.get("/orders", params={"limit": 1}) for _ in range(20)]
        statuses = [r.status_code for r in responses]
        assert statuses[:2] == [200, 200]
        assert 429 in statuses
        assert [int(r.headers["wish-rate-limit-remaining"]) for r in responses[:2]] == [1, 0]
        limited = next(r for r in responses if r.status_code == 429)
        assert limited.json()["code"] == 1029
        assert limited.headers["wish-rate-limit-remaining"] == "0"
        reset = int(limited.headers["wish-rate-limit-reset"])  # Unix epoch seconds
        assert time.time() - 5 <= reset <= time.time() + 2
        other = httpx.post(f"{running.base_url}/sandbox/oauth/token").json()["access_token"]
        assert api.get("/orders", headers={"Authorization": f"Bearer {other}"}).status_code == 200
        for _ in range(10):  # the admin API is not rate limited
            assert httpx.get(f"{running.base_url}/sandbox/stats").status_code == 200
        time.sleep(max(0.0, reset - time.time()) + 0.1)
        assert api.get("/orders", params={"limit": 1}).status_code == 200
