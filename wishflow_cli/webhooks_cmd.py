"""``wishflow webhooks``: receive Wish webhook deliveries and turn each into a Prefect event.

``wishflow webhooks serve`` listens on ``/wish/webhooks/<store>/<secret>`` and accepts only the
stores it has a secret for (401 otherwise, see :mod:`wishflow.webhooks.receiver`); a delivery becomes the event
``wish.webhook.<topic>`` (e.g. ``wish.webhook.order-release``) on the resource
``wishflow.store.<store>``, labelled with the store and, when configured, the store's credentials
block. The deployment triggers in ``prefect.yaml`` start the pull (``ORDER_RELEASE``), the tracking
poll (``ORDER_TRACKING_UPDATE``) or the follow-up (``TICKET_AWAITING_MERCHANT``) for that store.
``wishflow webhooks subscribe`` generates the store's secret (kept in an owner-only file or a
``WebhookSecret`` block, never printed) and subscribes the URL ending with it to those topics at Wish
(or the sandbox).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
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


def _secrets_for_serve(args: argparse.Namespace) -> dict[str, Any]:
    """The secrets of the stores the receiver accepts.

    From blocks (``--secret-block-template`` and ``--stores``), else the owner-only secrets file.
    """
    from wishflow.webhooks import load_secrets_file

    stores = [s for s in (args.stores or "").split(",") if s]
    if args.secret_block_template:
        if not stores:
            raise SystemExit(_config_error("--secret-block-template needs --stores (the stores to accept)"))
        from blocks.webhooks import load_webhook_secrets

        return load_webhook_secrets(args.secret_block_template, stores)
    secrets = load_secrets_file(args.secrets_file)
    if stores:
        missing = sorted(set(stores) - set(secrets))
        if missing:
            raise SystemExit(
                _config_error(f"no webhook secret for {', '.join(missing)}: run `wishflow webhooks subscribe` first")
            )
        secrets = {k: v for k, v in secrets.items() if k in stores}
    if not secrets:
        raise SystemExit(
            _config_error(f"no webhook secrets in {args.secrets_file}: run `wishflow webhooks subscribe` first")
        )
    return secrets


def _config_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def emit_delivery_event(delivery: Any, wish_block_template: str | None, warehouse_block: str | None) -> Any:
    """Emit the Prefect event of an accepted delivery; raise when Prefect events are unavailable."""
    from prefect.events import emit_event

    event = emit_event(**delivery_to_event(delivery, wish_block_template, warehouse_block))
    if event is None:
        raise RuntimeError("Prefect events are not available (is PREFECT_API_URL set?)")
    return event


def run_serve(args: argparse.Namespace) -> int:
    """``wishflow webhooks serve``: receive Wish's webhooks and emit each as a Prefect event."""
    from wishflow.webhooks import RateLimiter, WebhookSecretError, serve_in_thread

    def on_delivery(delivery: Any) -> None:
        event = emit_delivery_event(delivery, args.wish_block_template, args.warehouse_block)
        print(f"{delivery.topic} for store {delivery.store} ({delivery.subject_id}) -> {event.event}", flush=True)

    try:
        secrets = _secrets_for_serve(args)
    except WebhookSecretError as exc:
        return _config_error(str(exc))
    limiter = RateLimiter(per_minute=args.rate_per_minute, burst=args.burst)
    running = serve_in_thread(
        on_delivery, secrets, host=args.host, port=args.port, limiter=limiter, max_body=args.max_body
    )
    print(f"receiving Wish webhooks at {running.url}/wish/webhooks/<store>/<secret>", flush=True)
    print(f"stores accepted: {', '.join(sorted(secrets))}", flush=True)
    print(f"events go to {os.environ.get('PREFECT_API_URL') or 'the Prefect API of the current profile'}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    running.stop()
    return 0


def run_subscribe(args: argparse.Namespace) -> int:
    """``wishflow webhooks subscribe``: keep (or generate) the store's secret and subscribe its URL to the topics."""
    from wishflow.api.factory import settings_from_env_and_token_file
    from wishflow.webhooks import (
        WebhookSecretError,
        ensure_subscriptions,
        generate_secret,
        load_secrets_file,
        save_secret_to_file,
        subscription_url,
    )
    from wishflow.webhooks.receiver import PATH
    from wishflow.webhooks.secrets import masked_url

    match = PATH.match(httpx_path(args.endpoint))
    store = args.store or (match.group("store") if match and match.group("store") else None)
    if not store or (match and match.group("secret")):
        return _config_error("--endpoint must be the public URL of /wish/webhooks/<store> (without a secret)")
    settings = settings_from_env_and_token_file()
    api_url = args.api_url or settings.api_base_url
    token = args.access_token or settings.access_token.get_secret_value()
    topics = args.topics.split(",") if args.topics else None
    try:
        secret = None if args.new_secret else load_secrets_file(args.secrets_file).get(store)
    except WebhookSecretError as exc:
        return _config_error(str(exc))
    if args.secret_block and not args.new_secret:
        from blocks.webhooks import WebhookSecret

        try:
            secret = WebhookSecret.load(args.secret_block).secret  # type: ignore[attr-defined]
        except ValueError:
            secret = None
    secret = secret or generate_secret()
    if args.secret_block:
        from blocks.webhooks import save_webhook_secret

        save_webhook_secret(args.secret_block, store, secret)
        where = f"block {args.secret_block}"
    else:
        save_secret_to_file(args.secrets_file, store, secret)
        where = f"{args.secrets_file} (owner-only)"
    endpoint = subscription_url(args.endpoint, secret)
    subs = ensure_subscriptions(api_url, token, endpoint, *([topics] if topics else []))
    print(f"webhook secret of store {store} kept in {where}")
    for sub in subs:
        print(f"{sub['id']} {sub['status']} -> {masked_url(args.endpoint)}")
    return 0


def httpx_path(url: str) -> str:
    """The path of a URL (``/wish/webhooks/<store>``)."""
    from urllib.parse import urlsplit

    return urlsplit(url).path


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow webhooks``."""
    from wishflow.webhooks.secrets import DEFAULT_SECRETS_FILE

    hooks = subparsers.add_parser("webhooks", help="receive Wish webhooks as Prefect events; subscribe to them")
    sub = hooks.add_subparsers(dest="webhooks_command", required=True)
    serve = sub.add_parser("serve", help="serve the webhook endpoint (/wish/webhooks/<store>/<secret>)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8770)
    serve.add_argument("--stores", help="comma-separated stores to accept (default: every store with a secret)")
    serve.add_argument(
        "--secrets-file",
        default=str(DEFAULT_SECRETS_FILE),
        help="owner-only JSON of store -> webhook secret, written by `webhooks subscribe` (default: %(default)s)",
    )
    serve.add_argument(
        "--secret-block-template", help="load each store's secret from this WebhookSecret block, e.g. webhook-{store}"
    )
    serve.add_argument("--max-body", type=int, default=1_000_000, help="largest delivery in bytes (413 above)")
    serve.add_argument("--rate-per-minute", type=float, default=120.0, help="deliveries per minute per store (429)")
    serve.add_argument("--burst", type=int, default=60, help="deliveries accepted at once per store")
    serve.add_argument(
        "--wish-block-template",
        help="WishCredentials block per store for the triggered runs, e.g. wish-{store} (default: environment)",
    )
    serve.add_argument("--warehouse-block", help="Warehouse block for the triggered runs (default: environment)")
    serve.set_defaults(func=run_serve)
    subscribe = sub.add_parser(
        "subscribe",
        help="generate the store's webhook secret and subscribe its URL to ORDER_RELEASE, tracking and ticket topics",
    )
    subscribe.add_argument("--endpoint", required=True, help="public URL of /wish/webhooks/<store> (no secret)")
    subscribe.add_argument("--store", help="the store (default: the last part of --endpoint)")
    subscribe.add_argument("--secrets-file", default=str(DEFAULT_SECRETS_FILE), help="where the secret is kept")
    subscribe.add_argument("--secret-block", help="keep the secret in this WebhookSecret block instead of the file")
    subscribe.add_argument("--new-secret", action="store_true", help="replace the store's secret with a new one")
    subscribe.add_argument("--api-url", help="Wish API root (default: WISH_API_BASE_URL)")
    subscribe.add_argument("--access-token", help="default: WISH_ACCESS_TOKEN")
    subscribe.add_argument("--topics", help="comma-separated topics (default: the three Wishflow acts on)")
    subscribe.set_defaults(func=run_subscribe)
