"""Notification texts (Prefect-free): digests of new orders and of orders near their deadline."""

from wishflow.notify.digest import Digest, deadline_risk_digest, new_orders_digest

#: the notification block ``wishflow notify setup`` saves and prefect.yaml's deployments name as
#: ``notify_block`` (one name: a test checks prefect.yaml against it). Here, not in ``blocks``, so
#: that the CLI can name it without importing Prefect.
DEFAULT_BLOCK_NAME = "wishflow-alerts"

__all__ = ["DEFAULT_BLOCK_NAME", "Digest", "deadline_risk_digest", "new_orders_digest"]
