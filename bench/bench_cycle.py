"""Orchestration overhead: the task runs a whole ``order_cycle`` creates, and Prefect's share of it.

    python -m bench.bench_cycle --orders 10000

One cycle (pull, validate, ship, track, follow up) of a store with ``orders`` new orders, against a
sandbox in its own process, a fresh PostgreSQL warehouse and a ``prefect server`` in its own process.
The flow runs and task runs are then read back from the Prefect API. Time inside task bodies is the
sum of the leaf task runs' run times (a task run that stands for a subflow is left out, its subflow's
tasks are counted); everything else of the cycle's wall time is charged to Prefect, which makes the
"Prefect share" an upper bound (flow bodies between tasks count as Prefect).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from uuid import UUID


def _flow_runs_under(client: Any, root: UUID) -> list[Any]:
    """The flow run ``root`` and every subflow run below it."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId

    runs = list(client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[root]))))
    frontier = [root]
    while frontier:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier))
        )
        runs.extend(children)
        frontier = [c.id for c in children]
    return runs


def _task_runs_of(client: Any, flow_run_ids: list[UUID]) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    out: list[Any] = []
    while True:
        page = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)), limit=200, offset=len(out)
        )
        out.extend(page)
        if len(page) < 200:
            return out


def run(orders: int = 10_000) -> dict[str, Any]:
    """One cycle over ``orders`` new orders; task runs, flow runs and time shares."""
    from prefect.client.orchestration import get_client

    from bench.bench_pull import point_at, warm_up
    from bench.common import fresh_database, sandbox_process
    from flows.order_cycle import order_cycle

    with sandbox_process(orders=orders) as sb:
        url = fresh_database("wishflow_bench_cycle")
        warm_up()
        point_at(sb.api_url, sb.access_token, url)
        started = time.perf_counter()
        state = order_cycle(return_state=True)
        wall = time.perf_counter() - started
        if not state.is_completed():
            raise RuntimeError(f"the cycle did not complete: {state.message}")
        result = state.result()
        root = state.state_details.flow_run_id
        with get_client(sync_client=True) as client:
            flow_runs = _flow_runs_under(client, root)
            task_runs = _task_runs_of(client, [f.id for f in flow_runs])
            flow_names = {f.flow_id: client.read_flow(f.flow_id).name for f in flow_runs}
    subflow_tasks = {f.parent_task_run_id for f in flow_runs if f.parent_task_run_id}
    leaves = [t for t in task_runs if t.id not in subflow_tasks]
    in_tasks = sum(t.total_run_time.total_seconds() for t in leaves)
    by_stage = {flow_names[f.flow_id]: round(f.total_run_time.total_seconds(), 1) for f in flow_runs if f.id != root}
    ship = result["results"].get("ship", {}) if isinstance(result.get("results"), dict) else {}
    return {
        "orders": orders,
        "wall_seconds": round(wall, 1),
        "flow_runs": len(flow_runs),
        "task_runs": len(leaves),
        "task_run_budget": orders // 500,
        "seconds_in_task_bodies": round(in_tasks, 1),
        "prefect_share_at_most": round(max(0.0, 1 - in_tasks / wall), 3),
        "stage_seconds": by_stage,
        "outcome": result.get("outcome"),
        "shipped": ship.get("sent") if isinstance(ship, dict) else None,
    }


def main() -> int:
    """Run the cycle benchmark the command line describes and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    from bench.common import prefect_server_process

    with prefect_server_process():
        print(json.dumps(run(args.orders)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
