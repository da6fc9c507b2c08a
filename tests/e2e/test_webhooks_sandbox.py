"""Webhooks without Prefect: the sandbox's subscription endpoints (as Wish's spec describes them), its
deliveries with Wish's headers for the three topics Wishflow acts on, and the receiver's checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from wishflow.webhooks import (
    Delivery,
    InvalidDelivery,
    ensure_subscriptions,
    generate_secret,
    parse_delivery,
    serve_in_thread,
)

SECRETS = {"shop-1": generate_secret(), "s": generate_secret()}


def _url(running: Any, store: str) -> str:
    return running.endpoint(store, SECRETS[store].get_secret_value())


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    got: list[Delivery] = []
    cond = threading.Condition()

    def on_delivery(delivery: Delivery) -> None:
        with cond:
            got.append(delivery)
            cond.notify_all()

    running = serve_in_thread(on_delivery, SECRETS)
    running.got = got  # type: ignore[attr-defined]
    running.cond = cond  # type: ignore[attr-defined]
    yield running
    running.stop()


def _wait_for(receiver: Any, predicate, timeout: float = 30) -> list[Delivery]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    with receiver.cond:
        while not predicate(receiver.got):
            left = deadline - time.monotonic()
            assert left > 0, f"deliveries so far: {[(d.topic, d.payload) for d in receiver.got]}"
            receiver.cond.wait(left)
        return list(receiver.got)


@pytest.fixture
def http(sandbox: Any) -> Iterator[httpx.Client]:
    """A client on the sandbox's API root with its token (closed after the test: no socket left to the GC)."""
    with httpx.Client(
        base_url=sandbox.api_url, headers={"Authorization": f"Bearer {sandbox.access_token}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def admin(sandbox: Any) -> Iterator[httpx.Client]:
    """A client on the sandbox's admin endpoints."""
    with httpx.Client(base_url=sandbox.base_url, timeout=30) as client:
        yield client


def test_subscription_crud_follows_the_spec(http: httpx.Client) -> None:
    topics = http.get("/webhook/topics").json()["data"]
    by_name = {t["topic_name"]: t for t in topics}
    assert {"ORDER_RELEASE", "ORDER_TRACKING_UPDATE", "TICKET_AWAITING_MERCHANT"} <= set(by_name)
    assert all(t["api_version"] == "V3" and len(t["id"]) == 24 for t in topics)
    tid = by_name["ORDER_RELEASE"]["id"]
    created = http.post("/webhook/subscriptions", params={"topic_id": tid, "endpoint": "http://127.0.0.1:9/x"})
    sub = created.json()["data"]
    assert sub["status"] == "ACTIVE"
    assert sub["topic_id"] == tid
    assert http.get(f"/webhook/subscriptions/{sub['id']}").json()["data"] == sub
    assert [s["id"] for s in http.get("/webhook/subscriptions").json()["data"]] == [sub["id"]]
    dup = http.post("/webhook/subscriptions", params={"topic_id": tid, "endpoint": "http://127.0.0.1:9/x"})
    assert dup.status_code == 400
    assert dup.json()["code"] == 1001
    bad = http.post("/webhook/subscriptions", params={"topic_id": "0" * 24, "endpoint": "http://127.0.0.1:9/x"})
    assert bad.status_code == 400
    moved = http.put(f"/webhook/subscriptions/{sub['id']}", params={"endpoint": "http://127.0.0.1:9/y"})
    assert moved.status_code == 400  # an active subscription keeps its endpoint
    assert http.delete(f"/webhook/subscriptions/{sub['id']}").json()["code"] == 0
    assert http.get(f"/webhook/subscriptions/{sub['id']}").status_code == 400
    assert http.get("/webhook/subscriptions", headers={"Authorization": ""}).status_code == 401


def test_a_reset_starts_without_subscriptions(sandbox: Any, http: httpx.Client, admin: httpx.Client) -> None:
    """``POST /sandbox/reset`` is a new account: the subscriptions made before it are gone, not delivered to."""
    tid = {t["topic_name"]: t["id"] for t in http.get("/webhook/topics").json()["data"]}["ORDER_RELEASE"]
    made = http.post("/webhook/subscriptions", params={"topic_id": tid, "endpoint": "http://127.0.0.1:9/x"})
    assert made.json()["data"]["status"] == "ACTIVE"
    assert len(http.get("/webhook/subscriptions").json()["data"]) == 1
    token = admin.post("/sandbox/reset", json={"seed": 7}).json()["access_token"]
    after = http.get("/webhook/subscriptions", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 200
    assert after.json()["data"] == []


def test_deliveries_for_release_tracking_and_tickets_carry_wish_headers(
    sandbox: Any, receiver: Any, http: httpx.Client, admin: httpx.Client
) -> None:
    sandbox.sandbox.config.ship_processing_seconds = 0
    before = admin.post("/sandbox/orders", json={"count": 2}).json()["ids"]
    subs = ensure_subscriptions(sandbox.api_url, sandbox.access_token, _url(receiver, "shop-1"))
    assert len(subs) == 3
    # idempotent
    assert [s["id"] for s in ensure_subscriptions(sandbox.api_url, sandbox.access_token, _url(receiver, "shop-1"))] == [
        s["id"] for s in subs
    ]
    [new_id] = admin.post("/sandbox/orders", json={"orders": [{}]}).json()["ids"]
    got = _wait_for(receiver, lambda g: any(d.topic == "ORDER_RELEASE" for d in g))
    release = [d for d in got if d.topic == "ORDER_RELEASE"]
    assert [d.subject_id for d in release] == [new_id]  # orders older than the subscription do not fire
    assert release[0].store == "shop-1"
    assert release[0].api_version == "V3"
    assert release[0].event == "wish.webhook.order-release"

    label = admin.post("/sandbox/labels", json={"order_ids": [new_id], "carrier": "Yanwen"}).json()["labels"][0]
    order = http.get(f"/orders/{new_id}").json()["data"]
    shipped = http.put(
        f"/orders/{new_id}/tracking",
        json={"tracking_number": label["tracking_number"], "shipping_provider": "Yanwen", "origin_country": "CN"},
    )
    assert shipped.status_code == 200, (shipped.json(), order["full_address"])
    number = label["tracking_number"]

    def tracked(g: list[Delivery]) -> bool:
        return any(d.topic == "ORDER_TRACKING_UPDATE" and d.payload["data"]["tracking_number"] == number for d in g)

    got = _wait_for(receiver, tracked)
    assert {d.subject_id for d in got if d.topic == "ORDER_TRACKING_UPDATE"} == {new_id}

    ticket = admin.post("/sandbox/tickets", json={"order_id": before[0]}).json()
    got = _wait_for(receiver, lambda g: any(d.topic == "TICKET_AWAITING_MERCHANT" for d in g))
    assert next(d for d in got if d.topic == "TICKET_AWAITING_MERCHANT").subject_id in str(ticket)
    log = admin.get("/sandbox/webhooks/deliveries").json()["deliveries"]
    assert log
    assert all(entry["ok"] for entry in log)


def test_the_receiver_rejects_what_is_not_a_wish_delivery(receiver: Any) -> None:
    url = _url(receiver, "shop-1")
    assert httpx.post(url, content=b"{}").status_code == 400  # no Wish-Topic
    headers = {"Wish-Topic": "ORDER_RELEASE", "Wish-API-Version": "V2"}
    assert httpx.post(url, content=b"{}", headers=headers).status_code == 400
    headers["Wish-API-Version"] = "V3"
    assert httpx.post(url, content=b"not json", headers=headers).status_code == 400
    assert httpx.get(url).status_code == 405
    assert httpx.post(url, content=b'{"data": {"order_id": "abc"}}', headers=headers).status_code == 200
    with pytest.raises(InvalidDelivery):
        parse_delivery({"Wish-Topic": "ORDER_RELEASE", "Wish-API-Version": "V3"}, b"[]", "s")


def test_a_failing_callback_answers_500_so_wish_retries() -> None:
    def boom(delivery: Delivery) -> None:
        raise RuntimeError("events API down")

    running = serve_in_thread(boom, SECRETS)
    try:
        r = httpx.post(
            _url(running, "s"), content=b"{}", headers={"Wish-Topic": "ORDER_RELEASE", "Wish-API-Version": "V3"}
        )
        assert r.status_code == 500
    finally:
        running.stop()


def test_a_delivery_becomes_a_prefect_event_for_the_store() -> None:
    from wishflow_cli.webhooks_cmd import delivery_to_event

    delivery = parse_delivery(
        {"Wish-Topic": "ORDER_RELEASE", "Wish-API-Version": "V3"},
        b'{"topic": "ORDER_RELEASE", "data": {"order_id": "o1", "updated_at": "x"}}',
        "shop-2",
    )
    event = delivery_to_event(delivery, "wish-{store}", None)
    assert event["event"] == "wish.webhook.order-release"
    assert event["resource"]["prefect.resource.id"] == "wishflow.store.shop-2"
    assert event["resource"]["wishflow.wish-block"] == "wish-shop-2"
    assert "wishflow.warehouse-block" not in event["resource"]
    assert event["payload"]["subject_id"] == "o1"
