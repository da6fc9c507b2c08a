"""Prefect blocks: configuration and secrets, and the clients and engines built from them."""

from blocks.shipping import ShippingPolicy
from blocks.warehouse import Warehouse
from blocks.wish import WishCredentials

__all__ = ["ShippingPolicy", "Warehouse", "WishCredentials"]
