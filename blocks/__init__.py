"""Prefect blocks: configuration and secrets, and the clients and engines built from them."""

from blocks.warehouse import Warehouse
from blocks.wish import WishCredentials

__all__ = ["Warehouse", "WishCredentials"]
