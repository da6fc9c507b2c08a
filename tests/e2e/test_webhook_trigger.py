"""On the real Prefect server: a sandbox webhook for a newly released order reaches
``wishflow webhooks serve``, becomes a Prefect event, the pull deployment's trigger starts a run for
that store, and the worker lands the order, without waiting for the 10-minute schedule.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.conftest import REPO, PrefectServer, free_port, wait_until
from wishflow.webhooks import ensure_subscriptions, generate_secret, save_secret_to_file, subscription_url

pytestmark = pytest.mark.e2e


def test_an_order_release_webhook_starts_a_pull_that_lands_the_order(
    prefect_server: PrefectServer,
    worker: Any,
    e2e_sandbox: Any,
    e2e_admin: Any,
    e2e_warehouse: str,
    e2e_dir: Any,
) -> None:
    with prefect_server.client() as client:
        automations = client.read_automations()
    assert {"pull on ORDER_RELEASE webhook", "poll tracking on ORDER_TRACKING_UPDATE webhook"} <= {
        a.name for a in automations
    }

    port = free_port()
    secret = generate_secret()
    secrets_file = e2e_dir / "webhook-secrets.json"
    save_secret_to_file(secrets_file, "e2e-hook", secret)
    # the receiver writes to its own copy of the descriptor; ours is closed once it has started
    with open(e2e_dir / "webhooks.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wishflow_cli.main",
                "webhooks",
                "serve",
                "--port",
                str(port),
                "--secrets-file",
                str(secrets_file),
            ],
            cwd=REPO,
            env=prefect_server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    prefect_server.processes.append(proc)
    wait_until(
        lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200,
        60,
        what="wishflow webhooks serve",
    )
    endpoint = subscription_url(f"http://127.0.0.1:{port}/wish/webhooks/e2e-hook", secret)
    ensure_subscriptions(e2e_sandbox.api_url, e2e_sandbox.access_token, endpoint, ["ORDER_RELEASE"])

    started = time.monotonic()
    admin = e2e_admin
    [order_id] = admin.post("/sandbox/orders", json={"orders": [{}]}).json()["ids"]

    engine = sa.create_engine(e2e_warehouse)

    def landed() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text("SELECT 1 FROM orders WHERE store = 'e2e-hook' AND order_id = :id"), {"id": order_id}
                ).first()
            )

    try:
        wait_until(landed, 240, interval=1, what=f"order {order_id} to land through the webhook-triggered pull")
    except AssertionError as exc:
        deliveries = admin.get("/sandbox/webhooks/deliveries").json()["deliveries"]
        raise AssertionError(
            f"deliveries: {deliveries}\nreceiver log:\n{(e2e_dir / 'webhooks.log').read_text()}"
        ) from exc
    finally:
        engine.dispose()
    elapsed = time.monotonic() - started
    assert elapsed < 240
    deliveries = admin.get("/sandbox/webhooks/deliveries").json()["deliveries"]
    assert any(d["topic"] == "ORDER_RELEASE" and d["data"]["order_id"] == order_id and d["ok"] for d in deliveries)
    with prefect_server.client() as client:
        deployment = client.read_deployment_by_name("pull_orders/pull-orders")
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))
    triggered = [r for r in runs if r.parameters.get("store") == "e2e-hook"]
    assert triggered, "no pull run for the webhook's store"
    assert triggered[0].created_by is None or triggered[0].created_by.type in ("AUTOMATION", None)
    print(f"webhook -> order in the warehouse in {elapsed:.1f} s")
