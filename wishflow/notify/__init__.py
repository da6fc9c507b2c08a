"""Notification texts (Prefect-free): digests of new orders and of orders near their deadline."""

from wishflow.notify.digest import Digest, deadline_risk_digest, new_orders_digest

__all__ = ["Digest", "deadline_risk_digest", "new_orders_digest"]
