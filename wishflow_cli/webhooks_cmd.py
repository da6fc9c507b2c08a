"""``wishflow webhooks``: receive Wish webhook deliveries and turn each into a Prefect event.

``wishflow webhooks serve`` listens on ``/wish/webhooks/<store>``; a delivery becomes the event
``wish.webhook.<topic>`` (e.g. ``wish.webhook.order-release``) on the resource
``wishflow.store.<store>``, labelled with the store and, when configured, the store's credentials
block. The deployment triggers in ``prefect.yaml`` start the pull (``ORDER_RELEASE``), the tracking
poll (``ORDER_TRACKING_UPDATE``) or the follow-up (``TICKET_AWAITING_MERCHANT``) for that store.
``wishflow webhooks subscribe`` subscribes an endpoint to those topics at Wish (or the sandbox).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any


def delivery_to_event(delivery: Any, wish_block_template: str | None, warehouse_block: str | None) -> dict[str, Any]:
    """The keyword arguments of ``emit_event`` for a delivery."""
    resource = {
        "prefect.resource.id": f"wishflow.store.{delivery.store}",
        "prefect.resource.name": delivery.store,
        "wishflow.store": delivery.store,
    }
    if wish_block_template:
        resource["wishflow.wish-block"] = wish_block_template.format(store=delivery.store)
    if warehouse_block:
        resource["wishflow.warehouse-block"] = warehouse_block
    data = delivery.payload.get("data") if isinstance(delivery.payload.get("data"), dict) else {}
    return {
        "event": delivery.event,
        "resource": resource,
        "payload": {
            "topic": delivery.topic,
            "api_version": delivery.api_version,
            "subject_id": delivery.subject_id,
            "data": {k: v for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None},
        },
    }


def run_serve(args: argparse.Namespace) -> int:
    from prefect.events import emit_event

    from wishflow.webhooks import serve_in_thread

    def on_delivery(delivery: Any) -> None:
        event = emit_event(**delivery_to_event(delivery, args.wish_block_template, args.warehouse_block))
        if event is None:
            raise RuntimeError("Prefect events are not available (is PREFECT_API_URL set?)")
        print(f"{delivery.topic} for store {delivery.store} ({delivery.subject_id}) -> {event.event}", flush=True)

    stores = set(args.stores.split(",")) if args.stores else None
    running = serve_in_thread(on_delivery, host=args.host, port=args.port, stores=stores)
    print(f"receiving Wish webhooks at {running.url}/wish/webhooks/<store>", flush=True)
    print(f"events go to {os.environ.get('PREFECT_API_URL') or 'the Prefect API of the current profile'}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    running.stop()
    return 0


def run_subscribe(args: argparse.Namespace) -> int:
    from wishflow.config import wish_settings_from_env
    from wishflow.webhooks import ensure_subscriptions

    settings = wish_settings_from_env()
    api_url = args.api_url or settings.api_base_url
    token = args.access_token or settings.access_token.get_secret_value()
    topics = args.topics.split(",") if args.topics else None
    subs = ensure_subscriptions(api_url, token, args.endpoint, *([topics] if topics else []))
    for sub in subs:
        print(f"{sub['id']} {sub['status']} -> {sub['endpoint']}")
    return 0


def add_parser(subparsers: Any) -> None:
    hooks = subparsers.add_parser("webhooks", help="receive Wish webhooks as Prefect events; subscribe to them")
    sub = hooks.add_subparsers(dest="webhooks_command", required=True)
    serve = sub.add_parser("serve", help="serve the webhook endpoint (/wish/webhooks/<store>)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8770)
    serve.add_argument("--stores", help="comma-separated stores to accept (default: any)")
    serve.add_argument(
        "--wish-block-template",
        help="WishCredentials block per store for the triggered runs, e.g. wish-{store} (default: environment)",
    )
    serve.add_argument("--warehouse-block", help="Warehouse block for the triggered runs (default: environment)")
    serve.set_defaults(func=run_serve)
    subscribe = sub.add_parser("subscribe", help="subscribe an endpoint to ORDER_RELEASE, tracking and ticket topics")
    subscribe.add_argument("--endpoint", required=True, help="public URL of /wish/webhooks/<store>")
    subscribe.add_argument("--api-url", help="Wish API root (default: WISH_API_BASE_URL)")
    subscribe.add_argument("--access-token", help="default: WISH_ACCESS_TOKEN")
    subscribe.add_argument("--topics", help="comma-separated topics (default: the three Wishflow acts on)")
    subscribe.set_defaults(func=run_subscribe)
