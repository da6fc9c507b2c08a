"""Prefect blocks: configuration and secrets, and the clients and engines built from them."""

from blocks.retention import RetentionPolicy
from blocks.shipping import ShippingPolicy
from blocks.warehouse import Warehouse
from blocks.webhooks import WebhookSecret
from blocks.wish import WishCredentials

__all__ = ["RetentionPolicy", "ShippingPolicy", "Warehouse", "WebhookSecret", "WishCredentials"]
