"""Flow ``run_stores``: the order cycle for several stores at once, one store never twice at a time.

Each store has its own ``WishCredentials`` block (named ``wish-<store>`` by default), hence its own
API client, token and rate limit: one store being throttled never slows another. The stores run
concurrently, each one:

- as a run of a deployment (``order_cycle/order-cycle`` by default) picked up by whichever worker
  of the work pool is free, so several workers share the stores; or, with ``deployment`` empty,
- as a subflow in this process (one thread per store).

Per store, a Prefect global concurrency limit ``wishflow-store-<store>`` (limit 1, created when
missing) is held while the store's cycle runs, so two fan-outs (a schedule and a manual run, say)
never run the same store's cycle side by side; a second one waits up to ``wait_minutes``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from flows.order_cycle import order_cycle
from tasks.common import quoted
from tasks.stores import STORE_LIMIT_PREFIX, StoreOutcome, ensure_store_limit, run_store, store_limit_name

__all__ = ["STORE_LIMIT_PREFIX", "StoresFailed", "ensure_store_limit", "run_stores", "store_limit_name"]


class StoresFailed(RuntimeError):  # noqa: N818 - reads as what happened
    """Some stores' cycles failed; ``outcome`` holds every store's row of the ``run-stores`` artifact."""

    def __init__(self, outcome: dict[str, dict[str, Any]]) -> None:
        self.outcome = outcome
        failed = [store for store, row in outcome.items() if not row.get("ok")]
        details = "; ".join(f"{s}: {outcome[s].get('state')} {outcome[s].get('message', '')}".strip() for s in failed)
        super().__init__(f"stores failed: {details}")

    def __reduce__(self) -> tuple[type[StoresFailed], tuple[dict[str, dict[str, Any]]]]:
        return (StoresFailed, (self.outcome,))


@flow(
    name="run_stores",
    log_prints=False,
    validate_parameters=True,
    task_runner=ThreadPoolTaskRunner(max_workers=8),  # type: ignore[arg-type]
)
def run_stores(
    stores: Annotated[list[str], Field(min_length=1)],
    wish_block_template: str | None = "wish-{store}",
    warehouse_block: str | None = None,
    deployment: str | None = "order_cycle/order-cycle",
    parameters: dict[str, Any] = {},  # noqa: B006 - a pydantic-validated parameter default, never mutated
    wait_minutes: Annotated[float, Field(gt=0)] = 30,
    timeout_minutes: Annotated[float, Field(gt=0)] = 120,
) -> Any:
    """Run the order cycle for each store concurrently, one cycle per store at a time.

    Args:
        stores: Store names, one cycle each, concurrently.
        wish_block_template: WishCredentials block name per store; {store} is replaced. Empty: environment.
        warehouse_block: Warehouse block name (else environment).
        deployment: Deployment run per store (flow/deployment), spread over the pool's workers. Empty: run
            order_cycle as a subflow in this process.
        parameters: Extra parameters for every store's run, e.g. {"ship": false}.
        wait_minutes: How long a store waits for its previous cycle to finish.
        timeout_minutes: Give up waiting for a store's run after this.
    """
    logger = get_run_logger()
    if len(set(stores)) != len(stores):
        raise ValueError(f"a store is listed twice: {stores}")
    futures = {
        store: run_store.submit(
            store,
            wish_block_template.format(store=store) if wish_block_template else None,
            warehouse_block,
            deployment,
            dict(parameters),
            wait_minutes,
            timeout_minutes,
            # in this process: the cycle is handed over (tasks/ never import flows/)
            None if deployment else quoted(order_cycle),
        )
        for store in stores
    }
    outcome: dict[str, dict[str, Any]] = {}
    for store, future in futures.items():
        try:
            ended = future.result()
        except Exception as exc:  # noqa: BLE001 - one store's failure never hides the others'
            logger.error("store %s failed: %r", store, exc)
            ended = StoreOutcome(store, None, "FAILED", False, repr(exc))
        outcome[store] = asdict(ended)
    create_table_artifact(
        key="run-stores",
        table=[{k: v for k, v in row.items() if k != "ok"} for row in outcome.values()],
        description="The order cycle per store: the run and how it ended.",
    )
    if not all(row["ok"] for row in outcome.values()):
        raise StoresFailed(outcome)
    return outcome
