"""Tasks that tell a ship run which of the orders it was given it shipped, and why not the others."""

from __future__ import annotations

from prefect import task

from tasks.common import DB_TASK, engine_for
from wishflow.shipping.explain import run_shipment_ids, shipped_by_run, why_not_shipped


@task(name="explain-unshipped", **DB_TASK)
def explain_unshipped(store: str, warehouse_url: str, run_id: str, order_ids: list[str]) -> dict[str, str]:
    """Order id -> why it was not shipped, for the requested orders this run did not ship."""
    engine = engine_for(warehouse_url)
    shipped = shipped_by_run(engine, store, run_id, order_ids)
    return why_not_shipped(engine, store, [o for o in order_ids if o not in shipped])


@task(name="run-shipment-ids", **DB_TASK)
def batch_shipment_ids(store: str, warehouse_url: str, batch_ids: list[str]) -> list[str]:
    """The outbox rows of this run's batches: a manual run follows these and nothing else."""
    return run_shipment_ids(engine_for(warehouse_url), store, batch_ids)
