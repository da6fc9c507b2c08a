"""On a real Prefect server: a merchant's manual run of a deployment is never cancelled because a
scheduled run holds the deployment's one-at-a-time slot; it waits for the slot and then completes.
A scheduled run that overlapped is still cancelled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import PrefectServer, run_logs, wait_for_flow_run, wait_until

pytestmark = pytest.mark.e2e


def test_a_manual_run_waits_for_the_scheduled_run_holding_the_slot_and_completes(
    prefect_server: PrefectServer, worker: Any
) -> None:
    from prefect.states import Completed, Pending, Running, Scheduled

    with prefect_server.client() as client:
        deployment = client.read_deployment_by_name("ship_orders/ship-orders")
        assert deployment.global_concurrency_limit is not None
        assert deployment.global_concurrency_limit.limit == 1
        # the scheduled run: due in an hour (no worker takes it), moved to Pending and Running as a
        # worker would, so it holds the deployment's only slot
        held = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"store": "e2e-held"},
            state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(hours=1)),
            tags=["e2e", "scheduled"],
        )
        assert client.set_flow_run_state(held.id, Pending()).state.is_pending()
        # (forced: its scheduled time is an hour away; the slot was taken on Pending)
        assert client.set_flow_run_state(held.id, Running(), force=True).state.is_running()

        # the merchant's run, as the UI's Run button sends it
        manual = client.create_flow_run_from_deployment(
            deployment.id, parameters={"store": "e2e-manual-ship", "follow_seconds": 0}, tags=["e2e", "manual"]
        )
        # the next scheduled run, due while the first one still runs (tagged as the scheduler tags them)
        overlapping = client.create_flow_run_from_deployment(
            deployment.id, parameters={"store": "e2e-overlap", "follow_seconds": 0}, tags=["e2e", "auto-scheduled"]
        )

    def waiting() -> bool:
        with prefect_server.client() as c:
            state = c.read_flow_run(manual.id).state
            # the overlapping run must have met the held slot too (else it simply runs after the manual
            # one, which is no overlap): the worker may offer it the slot later than the manual run
            overlap_waited = any(s.name == "AwaitingConcurrencySlot" for s in c.read_flow_run_states(overlapping.id))
        assert state is not None, f"the manual run was cancelled: {state}"
        assert not state.is_cancelled(), f"the manual run was cancelled: {state}"
        return state.name == "AwaitingConcurrencySlot" and overlap_waited

    wait_until(waiting, 120, interval=0.5, what="both runs to wait for the deployment's slot")

    with prefect_server.client() as client:
        client.set_flow_run_state(held.id, Completed())  # the scheduled run ends: its slot is free
    finished = wait_for_flow_run(prefect_server, manual.id, timeout=300)
    assert finished.state.is_completed(), f"{finished.state}\n{run_logs(prefect_server, manual.id)}"
    # the overlapping scheduled run is still cancelled (by the flow, once it gets the slot)
    skipped = wait_for_flow_run(prefect_server, overlapping.id, timeout=300)
    assert skipped.state.is_cancelled(), f"{skipped.state}\n{run_logs(prefect_server, overlapping.id)}"
    assert "overlapped" in (skipped.state.message or "")
