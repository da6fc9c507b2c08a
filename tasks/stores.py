"""The task of ``run_stores``: one store's order cycle, never two of the same store at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from prefect import get_run_logger, task
from prefect.client.schemas.objects import FlowRun, State

from tasks.common import LOCAL_TASK

STORE_LIMIT_PREFIX = "wishflow-store-"


@dataclass(frozen=True)
class StoreOutcome:
    """How one store's cycle ended: its flow run, the final state's name and message."""

    store: str
    flow_run_id: str | None
    state: str
    ok: bool
    message: str = ""


def store_limit_name(store: str) -> str:
    """The name of the store's global concurrency limit: one run per store at a time."""
    return f"{STORE_LIMIT_PREFIX}{store}"


def ensure_store_limit(store: str) -> str:
    """The store's global concurrency limit (limit 1), created if it does not exist yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = store_limit_name(store)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # another fan-out may create it meanwhile
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    return name


@task(name="run-store", **LOCAL_TASK)
def run_store(
    store: str,
    wish_block: str | None,
    warehouse_block: str | None,
    deployment: str | None,
    parameters: dict[str, Any],
    wait_minutes: float,
    timeout_minutes: float,
    cycle: Callable[..., State[Any]] | None = None,
) -> StoreOutcome:
    """Run one store's cycle while holding the store's limit.

    A run of ``deployment``, else ``cycle`` (the ``order_cycle`` flow) as a subflow in this process.
    """
    from prefect.concurrency.sync import concurrency

    logger = get_run_logger()
    child = {"store": store, "wish_block": wish_block, "warehouse_block": warehouse_block, **parameters}
    limit = ensure_store_limit(store)
    with concurrency(limit, occupy=1, timeout_seconds=wait_minutes * 60, strict=True):
        if deployment:
            from prefect.deployments import run_deployment

            # run_deployment is typed for both sync and async callers; called from sync code it returns the FlowRun.
            run = cast(
                "FlowRun",
                run_deployment(
                    deployment,
                    parameters=child,
                    timeout=timeout_minutes * 60,
                    poll_interval=2,
                    tags=["wishflow", f"store:{store}"],
                    flow_run_name=f"{store}",
                    as_subflow=True,
                ),
            )
            state = run.state
            logger.info("store %s: %s run %s ended %s", store, deployment, run.name, state.name if state else None)
            return StoreOutcome(
                store,
                str(run.id),
                # A State's name is Optional in its schema but always set (Prefect fills it from the state's type).
                cast("str", state.name) if state else "UNKNOWN",
                bool(state and state.is_completed()),
                (state.message or "") if state else "",
            )
        if cycle is None:
            raise ValueError("run_store needs a deployment or the cycle flow to run")
        state = cycle(**child, return_state=True)
        return StoreOutcome(
            store,
            str(state.state_details.flow_run_id),
            cast("str", state.name),  # always set: Prefect fills a State's name from its type
            state.is_completed(),
            state.message or "",
        )
