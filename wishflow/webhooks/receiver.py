"""An ASGI endpoint for Wish webhook deliveries.

``POST /wish/webhooks/<store>/<secret>`` with Wish's headers ``Wish-Topic`` and ``Wish-API-Version``
and a JSON body. Wish's spec defines no signature for deliveries, so the only proof that a delivery
comes from Wish is the unguessable secret in the subscription URL (``wishflow webhooks subscribe``
generates it): without it, with a wrong one or for a store with no secret the answer is 401 and
nothing happens. Bodies over ``max_body`` bytes get 413 and more than the rate limit per store 429,
both before the callback. Each accepted delivery is handed to ``on_delivery``; the response is 200
once it returned, 400 for a malformed delivery (Wish would retry a 5xx, not a 4xx) and 500 when the
callback failed (so Wish retries). ``GET /healthz`` says the receiver is up.

The secret is never logged: the access log is off and no message carries the request path.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from wishflow.config import DEFAULT_STORE
from wishflow.webhooks.secrets import RateLimiter, StoreSecrets, secret_matches

logger = logging.getLogger(__name__)

#: the topics Wishflow acts on, and the Prefect event each becomes
TOPIC_EVENTS = {
    "ORDER_RELEASE": "wish.webhook.order-release",
    "ORDER_TRACKING_UPDATE": "wish.webhook.order-tracking-update",
    "TICKET_AWAITING_MERCHANT": "wish.webhook.ticket-awaiting-merchant",
}
STORE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
PATH = re.compile(r"^/wish/webhooks(?:/(?P<store>[^/]+)(?:/(?P<secret>[^/]+))?)?/?$")


class InvalidDelivery(ValueError):
    """A request that is not a well-formed Wish webhook delivery."""


def event_name(topic: str) -> str:
    """The event name of a topic: ``ORDER_RELEASE`` -> ``wish.webhook.order-release``."""
    return TOPIC_EVENTS.get(topic) or "wish.webhook." + topic.lower().replace("_", "-")


@dataclass(frozen=True)
class Delivery:
    """One authenticated webhook message: the store it is for, Wish's topic and API version, and the payload."""

    store: str
    topic: str
    api_version: str
    payload: dict[str, Any]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def event(self) -> str:
        """The Prefect event name this delivery is emitted as (deployment triggers match on it)."""
        return event_name(self.topic)

    @property
    def subject_id(self) -> str | None:
        """The order or ticket the delivery is about, if it says."""
        data = self.payload.get("data") if isinstance(self.payload.get("data"), dict) else self.payload
        for key in ("order_id", "ticket_id", "id"):
            if isinstance(data, dict) and data.get(key):
                return str(data[key])
        return None


def parse_delivery(headers: dict[str, str], body: bytes, store: str | None = None) -> Delivery:
    """Check Wish's headers and the JSON body; raise :class:`InvalidDelivery` when malformed."""
    lowered = {k.lower(): v for k, v in headers.items()}
    topic = (lowered.get("wish-topic") or "").strip().upper()
    if not topic or not re.fullmatch(r"[A-Z_]{1,64}", topic):
        raise InvalidDelivery("missing or malformed Wish-Topic header")
    version = (lowered.get("wish-api-version") or "").strip().upper()
    if version != "V3":
        raise InvalidDelivery(f"unsupported Wish-API-Version {version or '(missing)'}; expected V3")
    store = store or DEFAULT_STORE
    if not STORE_PATTERN.match(store):
        raise InvalidDelivery("malformed store name in the path")
    try:
        payload = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidDelivery("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidDelivery("body is not a JSON object")
    return Delivery(store=store, topic=topic, api_version=version, payload=payload)


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookReceiver:
    """ASGI app: every authenticated, well-formed delivery within the rate limit goes to ``on_delivery``.

    ``on_delivery`` is called in a worker thread. ``secrets`` maps each accepted store to its secret: a
    store missing from it is unknown and rejected.
    """

    max_body = 1_000_000

    def __init__(
        self,
        on_delivery: Callable[[Delivery], None],
        secrets: StoreSecrets,
        limiter: RateLimiter | None = None,
        max_body: int | None = None,
    ) -> None:
        self.on_delivery = on_delivery
        self.secrets = secrets
        self.limiter = limiter or RateLimiter()
        if max_body is not None:
            self.max_body = max_body
        self.received = 0
        self.failed = 0
        self.rejected: dict[int, int] = {}

    async def _reject(self, send: Send, status: int, error: str) -> None:
        self.rejected[status] = self.rejected.get(status, 0) + 1
        await _reply(send, status, {"error": error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: check path, secret, rate and body, then hand the delivery on and answer 200."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/healthz" and method == "GET":
            await _reply(send, 200, {"ok": True, "received": self.received, "failed": self.failed})
            return
        match = PATH.match(path)
        if match is None:
            await _reply(send, 404, {"error": "not found"})
            return
        if method != "POST":
            await _reply(send, 405, {"error": "POST only"})
            return
        store = match.group("store") or DEFAULT_STORE
        expected = self.secrets.get(store)
        # compare even for an unknown store, so the answer takes as long either way
        if not secret_matches(expected, match.group("secret")):
            if expected is None:
                logger.warning("webhook delivery for a store with no webhook secret rejected")
            await self._reject(send, 401, "unauthorized")
            return
        if not self.limiter.allow(store):
            await self._reject(send, 429, "too many deliveries")
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length") or headers.get("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_body:
            await self._reject(send, 413, "body too large")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._reject(send, 413, "body too large")
                return
            if not message.get("more_body"):
                break
        try:
            delivery = parse_delivery(headers, body, store)
        except InvalidDelivery as exc:
            await self._reject(send, 400, str(exc))
            return
        import asyncio

        try:
            await asyncio.to_thread(self.on_delivery, delivery)
        except Exception as exc:  # noqa: BLE001 - answered 500 so that Wish delivers again
            self.failed += 1
            logger.exception("webhook %s for store %s could not be handled", delivery.topic, delivery.store)
            await _reply(send, 500, {"error": type(exc).__name__})
            return
        self.received += 1
        await _reply(send, 200, {"ok": True, "event": delivery.event})


async def _reply(send: Send, status: int, doc: dict[str, Any]) -> None:
    body = orjson.dumps(doc)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class RunningReceiver:
    """A receiver served by uvicorn in a daemon thread (tests and ``wishflow webhooks serve``)."""

    url: str
    server: Any
    thread: threading.Thread
    app: WebhookReceiver

    def endpoint(self, store: str, secret: str | None = None) -> str:
        """The delivery URL of ``store``; with ``secret``, the full subscription URL."""
        base = f"{self.url}/wish/webhooks/{store}"
        return f"{base}/{secret}" if secret else base

    def stop(self) -> None:
        """Stop serving, waiting up to 10 s for the server thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_in_thread(
    on_delivery: Callable[[Delivery], None],
    secrets: StoreSecrets,
    host: str = "127.0.0.1",
    port: int = 0,
    limiter: RateLimiter | None = None,
    max_body: int | None = None,
) -> RunningReceiver:
    """Serve a receiver in a daemon thread (0 = a free port); returns once it accepts connections."""
    import uvicorn

    app = WebhookReceiver(on_delivery, secrets, limiter, max_body)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="wish-webhooks", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the webhook receiver did not start")
        time.sleep(0.01)
    return RunningReceiver(f"http://{host}:{actual}", server, thread, app)
