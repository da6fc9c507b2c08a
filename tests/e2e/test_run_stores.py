"""On the real Prefect server: two stores (two sandboxes, one credentials block each) and two process
workers sharing the work pool. ``run_stores`` starts one order-cycle deployment run per store, each
store's data lands under its own name and nothing mixes; each store has its own concurrency limit.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.conftest import WORK_POOL, PrefectServer, run_logs, wait_for_flow_run, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_sandboxes():  # type: ignore[no-untyped-def]
    from wishflow.sandbox import SandboxConfig, serve_in_thread

    a = serve_in_thread(SandboxConfig(seed=81, orders=0, ship_processing_seconds=0))
    b = serve_in_thread(SandboxConfig(seed=82, orders=0, ship_processing_seconds=0))
    yield a, b
    a.stop()
    b.stop()


def test_two_stores_run_concurrently_on_two_workers_without_mixing_data(
    prefect_server: PrefectServer,
    worker: Any,
    worker_env: dict[str, str],
    two_sandboxes: Any,
    e2e_warehouse: str,
    e2e_dir: Any,
) -> None:
    from pydantic import SecretStr

    from blocks.wish import WishCredentials

    ids: dict[str, set[str]] = {}
    with prefect_server.settings():
        for store, sb in zip(("store-a", "store-b"), two_sandboxes, strict=True):
            WishCredentials(
                store=store,
                api_base_url=sb.api_url,
                access_token=SecretStr(sb.access_token),
                refresh_token=SecretStr(sb.refresh_token),
                client_id=sb.client_id,
                client_secret=SecretStr(sb.client_secret),
            ).save(f"wish-{store}", overwrite=True)
            with httpx.Client(base_url=sb.base_url, timeout=60) as admin:
                ids[store] = set(admin.post("/sandbox/orders", json={"count": 15, "spread_seconds": 900}).json()["ids"])
    assert not ids["store-a"] & ids["store-b"]

    second = prefect_server.start_worker("worker-2", worker_env, e2e_dir)

    def both_online() -> bool:
        assert second.poll() is None, (e2e_dir / "worker-worker-2.log").read_text()[-3000:]
        with prefect_server.client() as client:
            names = {w.name for w in client.read_workers_for_work_pool(WORK_POOL)}
        return {"worker-1", "worker-2"} <= names

    wait_until(both_online, 120, interval=1, what="two workers on the pool")

    with prefect_server.client() as client:
        deployment = client.read_deployment_by_name("run_stores/run-stores")
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"stores": ["store-a", "store-b"], "parameters": {"ship": False}},
        )
    finished = wait_for_flow_run(prefect_server, run.id, timeout=600)
    assert finished.state.is_completed(), f"{finished.state}\n{run_logs(prefect_server, run.id)}"

    engine = sa.create_engine(e2e_warehouse)
    with engine.connect() as conn:
        stored = {
            store: set(conn.execute(sa.text("SELECT order_id FROM orders WHERE store = :s"), {"s": store}).scalars())
            for store in ids
        }
        stages = set(
            conn.execute(
                sa.text("SELECT store || ':' || stage FROM pipeline_runs WHERE store IN ('store-a', 'store-b')")
            ).scalars()
        )
    engine.dispose()
    assert stored == ids  # each store's orders, and only those, under its name
    assert {"store-a:pull", "store-b:pull"} <= stages

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with prefect_server.client() as client:
        limits = [client.read_global_concurrency_limit_by_name(f"wishflow-store-{s}") for s in ids]
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id]))
        )
    assert all(limit.limit == 1 and limit.active_slots == 0 for limit in limits)
    cycles = [c for c in children if c.parameters.get("store") in ids and c.work_pool_name == WORK_POOL]
    assert {c.parameters["store"] for c in cycles} == set(ids)
    assert {c.parameters["wish_block"] for c in cycles} == {"wish-store-a", "wish-store-b"}
    assert all(c.state is not None and c.state.is_completed() for c in cycles)
