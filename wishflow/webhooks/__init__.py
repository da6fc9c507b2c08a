"""Receiving Wish webhooks (no Prefect here).

Parse and check deliveries, authenticate them by the store's secret in the URL, serve an HTTP
endpoint that hands each one to a callback, and subscribe an endpoint to Wish's topics.

The ``wishflow webhooks serve`` command plugs in a callback that emits a Prefect event per delivery;
deployment triggers in ``prefect.yaml`` then start the matching flow for that store.
"""

from wishflow.webhooks.receiver import (
    TOPIC_EVENTS,
    Delivery,
    InvalidDelivery,
    WebhookReceiver,
    event_name,
    parse_delivery,
    serve_in_thread,
)
from wishflow.webhooks.secrets import (
    RateLimiter,
    WebhookSecretError,
    generate_secret,
    load_secrets_file,
    save_secret_to_file,
    secret_matches,
    subscription_url,
)
from wishflow.webhooks.subscribe import ensure_subscriptions

__all__ = [
    "TOPIC_EVENTS",
    "Delivery",
    "RateLimiter",
    "WebhookSecretError",
    "generate_secret",
    "load_secrets_file",
    "save_secret_to_file",
    "secret_matches",
    "subscription_url",
    "InvalidDelivery",
    "WebhookReceiver",
    "ensure_subscriptions",
    "event_name",
    "parse_delivery",
    "serve_in_thread",
]
