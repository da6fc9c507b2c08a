"""Flow ``order_cycle``: one store's whole process, stage after stage.

Each stage is also a deployment of its own; here they run as subflows. Dependencies are explicit:
validation needs the pull, shipping needs validation; tracking polls and follow-ups depend on
neither, so they still run when shipping fails. A failed stage is reported and fails the cycle
(:class:`StagesFailed` is raised, naming the failed stages), but only after every stage that could
run has run.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from flows.follow_up import follow_up
from flows.poll_tracking import poll_tracking
from flows.pull_orders import pull_orders
from flows.ship_orders import ship_orders
from flows.validate_orders import validate_orders
from wishflow.config import DEFAULT_STORE


class StagesFailed(RuntimeError):  # noqa: N818 - reads as what happened
    """Stages of an order cycle failed.

    ``outcome`` maps every stage to how it ended (the same table as the run's ``order-cycle`` artifact).
    """

    def __init__(self, store: str, outcome: dict[str, str]) -> None:
        self.store = store
        self.outcome = dict(outcome)
        failed = {stage: what for stage, what in outcome.items() if what.startswith("failed")}
        super().__init__(f"store {store}: stages failed: " + "; ".join(f"{k} ({v})" for k, v in failed.items()))

    def __reduce__(self) -> tuple[type[StagesFailed], tuple[str, dict[str, str]]]:
        return (StagesFailed, (self.store, self.outcome))


#: stage -> the stages it needs to have succeeded in this cycle
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "pull": (),
    "validate": ("pull",),
    "ship": ("validate",),
    "track": (),
    "follow_up": (),
}


@flow(name="order_cycle", log_prints=False, validate_parameters=True)
def order_cycle(
    store: str = DEFAULT_STORE,
    ship: bool = True,
    ship_dry_run: bool = False,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
    notify_block: str | None = None,
    policy_block: str | None = None,
    follow_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0,
) -> Any:
    """Run one store's whole order cycle, stage after stage.

    Args:
        store: Store name, as recorded in the warehouse.
        ship: Ship ready orders (off: pull, validate, track, follow up).
        ship_dry_run: Plan shipments and publish the plan, send nothing.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
        notify_block: Notification block for digests.
        policy_block: ShippingPolicy block name (else defaults): the ship stage's rules,
            validation's bounds.
        follow_seconds: How long the ship stage follows Wish's processing before leaving it to later.
    """
    logger = get_run_logger()
    common = {"store": store, "wish_block": wish_block, "warehouse_block": warehouse_block}
    stages: dict[str, Any] = {
        "pull": lambda: pull_orders(**common, notify_block=notify_block, return_state=True),
        "validate": lambda: validate_orders(
            store=store,
            warehouse_block=warehouse_block,
            notify_block=notify_block,
            shipping_block=policy_block,
            return_state=True,
        ),
        "ship": lambda: ship_orders(
            **common,
            dry_run=ship_dry_run,
            policy_block=policy_block,
            follow_seconds=follow_seconds,
            return_state=True,
        ),
        "track": lambda: poll_tracking(**common, notify_block=notify_block, return_state=True),
        "follow_up": lambda: follow_up(**common, notify_block=notify_block, return_state=True),
    }
    outcome: dict[str, str] = {}
    results: dict[str, Any] = {}
    for stage, run in stages.items():
        if stage == "ship" and not ship:
            outcome[stage] = "skipped (ship=False)"
            continue
        failed_needs = [need for need in DEPENDS_ON[stage] if outcome.get(need) != "succeeded"]
        if failed_needs:
            outcome[stage] = f"skipped ({', '.join(failed_needs)} did not succeed)"
            continue
        state = run()
        if state.is_completed():
            outcome[stage] = "succeeded"
            results[stage] = state.result(raise_on_failure=False)
        else:
            outcome[stage] = f"failed: {state.message}"
            logger.error("store %s: stage %s failed: %s", store, stage, state.message)
    lines = [f"| {stage} | {what} |" for stage, what in outcome.items()]
    create_markdown_artifact(
        key="order-cycle",
        markdown="\n".join([f"# Order cycle for store {store}", "", "| stage | outcome |", "|---|---|", *lines]),
        description=f"Stages of the order cycle for store {store}.",
    )
    if any(what.startswith("failed") for what in outcome.values()):
        # raised, not returned as a Failed state carrying a dict: Prefect then shows the failed stages
        # as the run's error (the outcome table stays in the artifact above)
        raise StagesFailed(store, outcome)
    return {"store": store, "outcome": outcome, "results": results}
