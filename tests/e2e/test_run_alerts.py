"""On a real Prefect server: after ``wishflow notify setup``, a failed run of a Wishflow deployment
sends a message through the notification block to a local webhook receiver (the server's automation
and actions services deliver it).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import PrefectServer, wait_for_flow_run, wait_until

pytestmark = pytest.mark.e2e


def test_a_failed_deployment_run_notifies_the_merchant(
    prefect_server: PrefectServer, worker: Any, webhook: tuple[str, list[dict]]
) -> None:
    from blocks.notifications import setup_notifications

    url, received = webhook
    with prefect_server.settings():
        setup = setup_notifications(url, "e2e-alerts", allow_private_urls=True)
    assert setup.block_slug == "custom-webhook/e2e-alerts"

    with prefect_server.client() as client:
        deployment = client.read_deployment_by_name("ship_orders/ship-orders")
        # an order the warehouse does not know: the run fails, naming it
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"store": "e2e-alerts", "order_ids": ["doesnotexist123"], "follow_seconds": 0},
            tags=["e2e"],
        )
    finished = wait_for_flow_run(prefect_server, run.id, timeout=300)
    assert finished.state.is_failed(), finished.state
    assert "doesnotexist123" in (finished.state.message or "")

    def alerted() -> list[dict]:
        return [b for b in received if "ship_orders" in b.get("title", "") and "failed" in b.get("title", "").lower()]

    (message, *_) = wait_until(alerted, 120, interval=1, what="the failed-run notification at the receiver")
    assert finished.name in message["title"] + message["text"]
