"""Wish webhooks in the sandbox: topics, subscriptions (``/api/v3/webhook/...``) and deliveries.

Wish POSTs a JSON message to a subscription's endpoint when a subscribed event happens, with the
headers ``Wish-Topic`` (the topic name) and ``Wish-API-Version`` (``V3``). The sandbox delivers
three topics: ``ORDER_RELEASE`` (an order is released to the merchant, including a re-release),
``ORDER_TRACKING_UPDATE`` (a tracking write completed, or a fulfillment milestone: first scan,
delivery, tracking cancelled) and ``TICKET_AWAITING_MERCHANT`` (a ticket waits for the merchant's
reply); ``ORDER_ALL`` receives both order topics. The other topics of Wish's list can be subscribed
to but never fire here.

Deliveries come from a watcher thread (started with the first subscription) that fires what is due
on the sandbox clock and compares each changed order and ticket with what it saw before, every
``interval`` seconds; ``POST /sandbox/webhooks/scan`` runs one pass at once. Existing orders at the
first subscription do not fire. A delivery is retried 3 times; an endpoint failing 5 deliveries in a
row makes the subscription INACTIVE (reactivate with ``PUT /webhook/subscriptions/{id}``), as Wish
does. The log of deliveries is at ``GET /sandbox/webhooks/deliveries``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson

from . import errors as E
from .errors import SandboxError
from .timeutil import fmt_ms

TOPIC_NAMES = (
    "ORDER_ALL",
    "ORDER_RELEASE",
    "ORDER_FULFILLMENT_DEADLINE",
    "ORDER_ADDRESS_CHANGE",
    "ORDER_PENALTY",
    "ORDER_TRACKING_UPDATE",
    "ORDER_REFUND",
    "ORDER_TAX",
    "POLICY_PENALTY_ISSUE",
    "POLICY_PENALTY_REVERSE",
    "POLICY_PENALTY_CANCEL",
    "TICKET_AWAITING_MERCHANT",
    "PRODUCT_BOOST_CAMPAIGN_STATS_UPDATE",
    "PRODUCT_BOOST_CAMPAIGN_CREATION",
    "PRODUCT_BOOST_CAMPAIGN_ATTRIBUTE_UPDATE",
    "PRODUCT_BOOST_CAMPAIGN_PRODUCT_STATS_UPDATE",
    "PRODUCT_BOOST_CAMPAIGN_PRODUCT_LOW_PERFORMANCE",
    "PRODUCT_BOOST_TRENDING_CATEGORIES",
    "PRODUCT_BOOST_ACCOUNT_BALANCE_UPDATE",
    "PRODUCT_UPDATE_MERCHANT",
    "PRODUCT_IMAGE_JOB_STATUS_UPDATE",
    "PRODUCT_TAGGING_UPDATE",
    "PRODUCT_INVENTORY_CHANGE_WISH_USER",
    "PRODUCT_INVENTORY_CHANGE_MERCHANT",
    "PRODUCT_SOLDOUT",
)
DELIVERED_TOPICS = ("ORDER_RELEASE", "ORDER_TRACKING_UPDATE", "TICKET_AWAITING_MERCHANT")
#: a subscription to one of these also receives the delivered topics listed
TOPIC_COVERS = {"ORDER_ALL": ("ORDER_RELEASE", "ORDER_TRACKING_UPDATE")}
API_VERSION = "V3"
MAX_CONSECUTIVE_FAILURES = 5
ATTEMPTS = 3


def topic_id(name: str) -> str:
    """A stable 24-hex object id per topic name."""
    return hashlib.sha256(f"topic:{name}".encode()).hexdigest()[:24]


TOPICS = {topic_id(name): name for name in TOPIC_NAMES}


@dataclass
class Subscription:
    """One webhook subscription: a topic, the merchant's endpoint, and its delivery health."""

    id: str
    topic_id: str
    endpoint: str
    status: str = "ACTIVE"
    failures: int = 0

    def public(self) -> dict[str, Any]:
        """The subscription as Wish's API shows it (without delivery counters)."""
        return {"id": self.id, "topic_id": self.topic_id, "endpoint": self.endpoint, "status": self.status}

    @property
    def topic(self) -> str:
        """The topic's name (``ORDER_RELEASE``, ...)."""
        return TOPICS[self.topic_id]

    def receives(self, topic: str) -> bool:
        """Whether an event of ``topic`` is delivered to this subscription (directly or by a covering topic)."""
        return self.topic == topic or topic in TOPIC_COVERS.get(self.topic, ())


@dataclass
class WebhookHub:
    """Subscriptions and deliveries of one sandbox."""

    sandbox: Any
    interval: float = 0.25
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _orders_seen: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _tickets_awaiting: set[str] = field(default_factory=set)
    _cursor: str | None = None
    _counter: int = 0
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _scan_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- subscriptions (the Wish API) -------------------------------------------------------------

    def topics(self) -> list[dict[str, Any]]:
        """``GET /webhook/topics``: every topic with its id."""
        return [{"id": tid, "topic_name": name, "api_version": API_VERSION} for tid, name in TOPICS.items()]

    def create(self, topic: str | None, endpoint: str | None) -> dict[str, Any]:
        """Subscribe ``endpoint`` to ``topic`` (the same pair twice is refused); the first starts delivery."""
        if not topic or topic not in TOPICS:
            raise SandboxError(E.INVALID_PARAMETER, "topic_id is not a valid topic id (see GET /webhook/topics)")
        _check_endpoint(endpoint)
        assert endpoint is not None
        for sub in self.subscriptions.values():
            if sub.topic_id == topic and sub.endpoint == endpoint:
                raise SandboxError(E.INVALID_PARAMETER, "a subscription to this topic and endpoint already exists")
        first = not self.subscriptions
        if first:
            self._snapshot()
        self._counter += 1
        sid = hashlib.sha256(f"subscription:{self.sandbox.merchant_id}:{self._counter}".encode()).hexdigest()[:24]
        sub = self.subscriptions[sid] = Subscription(sid, topic, endpoint)
        self._start()
        return sub.public()

    def get(self, sid: str) -> Subscription:
        """The subscription ``sid``, or Wish's not-found error."""
        sub = self.subscriptions.get(sid)
        if sub is None:
            raise SandboxError(E.NOT_FOUND, f"No subscription with id {sid}")
        return sub

    def update(self, sid: str, endpoint: str | None, status: str | None) -> dict[str, Any]:
        """Change the endpoint of a suspended subscription or reactivate it, as Wish allows."""
        sub = self.get(sid)
        if status not in (None, "", "ACTIVE"):
            raise SandboxError(E.INVALID_PARAMETER, "status can only be set to ACTIVE")
        if endpoint:
            if sub.status == "ACTIVE" and endpoint != sub.endpoint:
                raise SandboxError(E.INVALID_PARAMETER, "the endpoint of an active subscription cannot change")
            _check_endpoint(endpoint)
            sub.endpoint = endpoint
        if status == "ACTIVE":
            sub.status, sub.failures = "ACTIVE", 0
        return sub.public()

    def delete(self, sid: str) -> None:
        """Remove the subscription ``sid`` (not-found error if there is none)."""
        self.get(sid)
        del self.subscriptions[sid]

    # -- deliveries -------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the delivery thread."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.subscriptions:
                continue
            try:
                self.scan()
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad pass
                time.sleep(self.interval)

    def _order_key(self, order: dict[str, Any]) -> tuple[Any, ...]:
        tracking = tuple(t.get("tracking_number") for t in order.get("tracking_information") or [])
        milestones = tuple(r.get("event_type") for r in order.get("fulfillment_records") or [])
        return (order.get("state"), order.get("processing_status"), tracking, milestones)

    def _changed_orders(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = (
                self.sandbox.list_orders(updated_at_min=self._cursor, sort_by="updated_at.asc", limit=500)
                if self._cursor
                else self.sandbox.list_orders(sort_by="updated_at.asc", limit=500)
            )
            out.extend(page)
            if len(page) < 500 or page[-1]["updated_at"] == self._cursor:
                if page:
                    self._cursor = page[-1]["updated_at"]
                return out
            self._cursor = page[-1]["updated_at"]

    def _snapshot(self) -> None:
        with self._scan_lock:
            for order in self._changed_orders():
                self._orders_seen[order["id"]] = self._order_key(order)
            self._tickets_awaiting = {
                t["id"] for t in self.sandbox.list_tickets({"states": ["AWAITING_MERCHANT"], "limit": ["500"]})
            }

    def scan(self) -> int:
        """One pass: find what happened since the last pass and deliver it; returns deliveries sent."""
        with self._scan_lock:
            messages: list[tuple[str, dict[str, Any]]] = []
            with self.sandbox.lock:
                for order in self._changed_orders():
                    key = self._order_key(order)
                    before = self._orders_seen.get(order["id"])
                    if before == key:
                        continue
                    self._orders_seen[order["id"]] = key
                    data = {"order_id": order["id"], "state": order["state"], "updated_at": order["updated_at"]}
                    released_again = before is not None and key[0] == "APPROVED" and before[0] != "APPROVED"
                    if before is None and order["state"] in ("APPROVED", "REQUIRE_REVIEW") or released_again:
                        messages.append(("ORDER_RELEASE", data))
                    elif before is not None and (key[2] != before[2] or key[3] != before[3] or key[1] != before[1]):
                        tracking = order.get("tracking_information") or []
                        messages.append(
                            (
                                "ORDER_TRACKING_UPDATE",
                                {
                                    **data,
                                    "tracking_number": tracking[0].get("tracking_number") if tracking else None,
                                    "processing_status": order.get("processing_status"),
                                    "milestone": key[3][-1] if key[3] else None,
                                },
                            )
                        )
                awaiting = {
                    t["id"]: t for t in self.sandbox.list_tickets({"states": ["AWAITING_MERCHANT"], "limit": ["500"]})
                }
                for tid in sorted(set(awaiting) - self._tickets_awaiting):
                    ticket = awaiting[tid]
                    messages.append(
                        (
                            "TICKET_AWAITING_MERCHANT",
                            {"ticket_id": tid, "state": ticket.get("state"), "updated_at": ticket.get("updated_at")},
                        )
                    )
                self._tickets_awaiting = set(awaiting)
                now = fmt_ms(self.sandbox.now_ms())
            sent = 0
            for topic, data in messages:
                for sub in list(self.subscriptions.values()):
                    if sub.status == "ACTIVE" and sub.receives(topic):
                        self._deliver(sub, topic, data, now)
                        sent += 1
            return sent

    def _deliver(self, sub: Subscription, topic: str, data: dict[str, Any], now: str) -> None:
        body = orjson.dumps({"topic": topic, "merchant_id": self.sandbox.merchant_id, "event_time": now, "data": data})
        headers = {"Content-Type": "application/json", "Wish-Topic": topic, "Wish-API-Version": API_VERSION}
        status: int | None = None
        error = None
        for attempt in range(ATTEMPTS):
            try:
                status = httpx.post(sub.endpoint, content=body, headers=headers, timeout=5).status_code
                if 200 <= status < 300:
                    break
            except httpx.HTTPError as exc:
                error = repr(exc)
            time.sleep(0.1 * (attempt + 1))
        ok = status is not None and 200 <= status < 300
        sub.failures = 0 if ok else sub.failures + 1
        if sub.failures >= MAX_CONSECUTIVE_FAILURES:
            sub.status = "INACTIVE"
        self.deliveries.append(
            {
                "subscription_id": sub.id,
                "endpoint": sub.endpoint,
                "topic": topic,
                "data": data,
                "status": status,
                "ok": ok,
                "error": None if ok else error,
                "at": now,
            }
        )


def _check_endpoint(endpoint: str | None) -> None:
    parsed = urlparse(endpoint or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SandboxError(E.INVALID_PARAMETER, "endpoint must be an http(s) URL")


def hub_of(sandbox: Any) -> WebhookHub:
    """The sandbox's webhook hub, created on first use."""
    with sandbox.lock:
        hub = getattr(sandbox, "_webhook_hub", None)
        if hub is None:
            hub = WebhookHub(sandbox)
            sandbox._webhook_hub = hub
        return hub


def drop_hub(sandbox: Any) -> None:
    """Stop the sandbox's deliveries and forget its subscriptions (a reset starts with none, as a new account does)."""
    with sandbox.lock:
        hub = getattr(sandbox, "_webhook_hub", None)
        sandbox._webhook_hub = None
    if hub is not None:
        hub.stop()


def _param(req: Any, name: str) -> str | None:
    value: str | None = req.single(name)
    if value is None and req.body.strip():
        body = req.json()
        if isinstance(body, dict) and body.get(name) is not None:
            value = str(body[name])
    return value


# -- route handlers (registered in app.py); Wish handlers return the ``data`` JSON ---------------------


def h_topics(app: Any, _req: Any) -> bytes:
    """``GET /webhook/topics``."""
    return orjson.dumps(hub_of(app.sandbox).topics())


def h_list_subscriptions(app: Any, _req: Any) -> bytes:
    """``GET /webhook/subscriptions``."""
    return orjson.dumps([s.public() for s in hub_of(app.sandbox).subscriptions.values()])


def h_create_subscription(app: Any, req: Any) -> bytes:
    """``POST /webhook/subscriptions`` with ``topic_id`` and ``endpoint`` (query or JSON body); a write."""
    return orjson.dumps(hub_of(app.sandbox).create(_param(req, "topic_id"), _param(req, "endpoint")))


def h_get_subscription(app: Any, req: Any) -> bytes:
    """``GET /webhook/subscriptions/{id}``."""
    return orjson.dumps(hub_of(app.sandbox).get(req.params["id"]).public())


def h_update_subscription(app: Any, req: Any) -> bytes:
    """``PUT /webhook/subscriptions/{id}`` with ``endpoint`` or ``status``; a write."""
    hub = hub_of(app.sandbox)
    return orjson.dumps(hub.update(req.params["id"], _param(req, "endpoint"), _param(req, "status")))


def h_delete_subscription(app: Any, req: Any) -> bytes:
    """``DELETE /webhook/subscriptions/{id}``; a write."""
    hub_of(app.sandbox).delete(req.params["id"])
    return b"null"


def a_scan(app: Any, _req: Any) -> Any:
    """Admin ``POST /sandbox/webhooks/scan``: emit the events due now and deliver them; returns how many were sent."""
    return {"sent": hub_of(app.sandbox).scan()}


def a_deliveries(app: Any, _req: Any) -> Any:
    """Admin ``GET /sandbox/webhooks/deliveries``: the delivery log, for tests to assert on."""
    return {"deliveries": list(hub_of(app.sandbox).deliveries)}
