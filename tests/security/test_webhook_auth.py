"""Item 3 of issue 22: webhooks only from whoever holds the store's secret.

Deliveries without the secret, with a wrong one, for an unknown store, oversized, and beyond the
rate limit are refused before anything happens: none becomes a Prefect event. A correct delivery
does. The receiver runs over loopback HTTP with the command's own event emitter, against the
session's Prefect API; the events are read back from that API.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import httpx
import pytest

from wishflow.webhooks import RateLimiter, generate_secret, secret_matches, serve_in_thread

HEADERS = {"Wish-Topic": "ORDER_RELEASE", "Wish-API-Version": "V3", "Content-Type": "application/json"}


def _body(order_id: str, pad: int = 0) -> bytes:
    import orjson

    return orjson.dumps({"topic": "ORDER_RELEASE", "data": {"order_id": order_id, "pad": "x" * pad}})


def _events_for(store: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    with get_client(sync_client=True) as client:
        page = client.read_events(
            EventFilter(
                event=EventNameFilter(prefix=["wish.webhook."]),
                resource=EventResourceFilter(id=[f"wishflow.store.{store}"]),
            ),
            limit=50,
        )
    return list(page.events)


def _wait_for_events(store: str, count: int, timeout: float = 120) -> list[Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        events = _events_for(store)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def test_only_deliveries_with_the_stores_secret_become_prefect_events(
    prefect_harness: None, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from wishflow_cli.webhooks_cmd import emit_delivery_event

    caplog.set_level(logging.DEBUG)
    # httpx logs this test's own requests, whose URLs carry the secret on purpose: keep them quiet
    caplog.set_level(logging.WARNING, logger="httpx")
    tag = uuid.uuid4().hex[:8]
    shop, burst_shop, unknown = f"sec-shop-{tag}", f"sec-burst-{tag}", f"sec-unknown-{tag}"
    secrets = {shop: generate_secret(), burst_shop: generate_secret()}
    frozen = [1000.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: frozen[0])  # no refill while the clock stands
    calls: list[str] = []
    lock = threading.Lock()

    def on_delivery(delivery: Any) -> None:
        with lock:
            calls.append(f"{delivery.store}:{delivery.subject_id}")
        emit_delivery_event(delivery, None, None)

    running = serve_in_thread(on_delivery, secrets, limiter=limiter, max_body=10_000)
    good = secrets[shop].get_secret_value()
    wrong = good[:-1] + ("B" if good.endswith("A") else "A")  # differs from the secret in its last character
    http = httpx.Client(timeout=30)
    try:
        base = f"{running.url}/wish/webhooks"
        answers = {
            "no secret": http.post(f"{base}/{shop}", content=_body("no-secret"), headers=HEADERS),
            "no store": http.post(base, content=_body("no-store"), headers=HEADERS),
            "empty secret": http.post(f"{base}/{shop}/", content=_body("empty"), headers=HEADERS),
            "wrong secret": http.post(f"{base}/{shop}/{wrong}", content=_body("wrong"), headers=HEADERS),
            "other store's secret": http.post(
                f"{base}/{shop}/{secrets[burst_shop].get_secret_value()}", content=_body("other"), headers=HEADERS
            ),
            "unknown store": http.post(f"{base}/{unknown}/{good}", content=_body("unknown"), headers=HEADERS),
            "oversized": http.post(f"{base}/{shop}/{good}", content=_body("big", pad=20_000), headers=HEADERS),
        }

        # chunked, with no Content-Length: the receiver counts what arrives
        def chunks() -> Any:
            body = _body("big-chunked", pad=12_000)
            yield body[:6_000]
            yield body[6_000:]

        answers["oversized, chunked"] = http.post(f"{base}/{shop}/{good}", content=chunks(), headers=HEADERS)
        burst = [
            http.post(
                f"{base}/{burst_shop}/{secrets[burst_shop].get_secret_value()}",
                content=_body(f"burst-{i}"),
                headers=HEADERS,
            ).status_code
            for i in range(10)
        ]
        accepted = http.post(f"{base}/{shop}/{good}", content=_body("good-1"), headers=HEADERS)
    finally:
        http.close()  # not left to the GC: an open client's socket is a ResourceWarning
        running.stop()

    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {
        "no secret": 401,
        "no store": 401,
        "empty secret": 401,
        "wrong secret": 401,
        "other store's secret": 401,
        "unknown store": 401,
        "oversized": 413,
        "oversized, chunked": 413,
    }
    assert burst == [200] * 3 + [429] * 7
    assert accepted.status_code == 200, accepted.text
    assert sorted(calls) == sorted([f"{burst_shop}:burst-{i}" for i in range(3)] + [f"{shop}:good-1"])

    shop_events = _wait_for_events(shop, 1)
    burst_events = _wait_for_events(burst_shop, 3)
    assert [e.payload["subject_id"] for e in shop_events] == ["good-1"]
    assert sorted(e.payload["subject_id"] for e in burst_events) == ["burst-0", "burst-1", "burst-2"]
    assert _events_for(unknown) == []
    assert shop_events[0].event == "wish.webhook.order-release"

    # the secret appears nowhere: logs, output, the events, the rejections
    out, err = capfd.readouterr()
    # (httpx and httpcore log this test's own requests, whose URLs carry the secret on purpose)
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    texts = [*logged, out, err, *(r.text for r in answers.values()), accepted.text]
    texts += [e.model_dump_json() for e in shop_events + burst_events]
    for secret in secrets.values():
        assert not [t[:300] for t in texts if secret.get_secret_value() in t]


def test_secret_comparison_and_generation() -> None:
    one, two = generate_secret(), generate_secret()
    assert one.get_secret_value() != two.get_secret_value()
    assert len(one.get_secret_value()) >= 43
    assert secret_matches(one, one.get_secret_value())
    assert not secret_matches(one, two.get_secret_value())
    assert not secret_matches(one, None)
    assert not secret_matches(one, "")
    assert not secret_matches(None, one.get_secret_value())
    assert not secret_matches(None, "")
    assert "**" in repr(one)
    assert one.get_secret_value() not in repr(one)


def test_the_rate_limit_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b")  # per store
    now[0] += 1.0  # one delivery per second refills one token
    assert limiter.allow("a")
    assert not limiter.allow("a")
