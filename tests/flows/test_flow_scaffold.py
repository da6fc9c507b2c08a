"""The one flow scaffold: ``run_record`` writes the run's start (with Prefect's parameters) and its
outcome; parameter descriptions come from the docstring's ``Args:`` alone and still reach the UI.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.utilities.callables import parameter_schema, parameter_schema_from_entrypoint

from flows.common import run_record
from flows.follow_up import follow_up
from flows.order_cycle import order_cycle
from flows.poll_tracking import poll_tracking
from flows.pull_orders import pull_orders
from flows.refund_orders import refund_orders
from flows.report import report
from flows.run_stores import run_stores
from flows.ship_orders import change_address, modify_tracking, ship_orders
from flows.validate_orders import validate_orders
from wishflow.warehouse.schema import pipeline_runs

SCAFFOLDED = [pull_orders, validate_orders, poll_tracking, follow_up, ship_orders]
DESCRIBED = [*SCAFFOLDED, refund_orders, report, modify_tracking, change_address, order_cycle, run_stores]


@flow(name="scaffolded")
def scaffolded(
    warehouse_block: str | None = None, store: str = "s1", fail: bool = False, lag: timedelta = timedelta(seconds=3)
) -> str:
    with run_record(warehouse_block, store, "probe") as record:
        record.counts = {"fetched": 7}
        record.details = {"step": "started", "lag": lag}
        if fail:
            raise RuntimeError("boom")
        record.details = {"step": "done"}
    return record.run_id


def _row(engine: sa.Engine, store: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.store == store)).mappings().one())


def test_run_record_writes_the_parameters_and_the_outcome(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, engine: sa.Engine, prefect_harness: None
) -> None:
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)  # no block named: the environment's warehouse
    run_id = scaffolded()
    row = _row(engine, "s1")
    assert row["run_id"] == run_id
    assert (row["store"], row["stage"], row["outcome"]) == ("s1", "probe", "succeeded")
    assert row["parameters"] == {"warehouse_block": None, "store": "s1", "fail": False, "lag": 3.0}
    assert row["records_fetched"] == 7
    assert row["details"] == {"step": "done"}
    assert row["error"] is None


def test_run_record_records_a_failure_and_raises_it(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, engine: sa.Engine, prefect_harness: None
) -> None:
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    state = scaffolded(store="s2", fail=True, return_state=True)
    assert state.is_failed()
    row = _row(engine, "s2")
    assert row["outcome"] == "failed"
    assert "boom" in row["error"]
    assert row["details"] == {"step": "started", "lag": "0:00:03"}  # made JSON-safe, never lost
    assert row["records_fetched"] == 7


@pytest.mark.parametrize("flow_obj", DESCRIBED, ids=lambda f: f.name)
def test_every_parameter_is_described_once_and_keeps_its_bounds(flow_obj) -> None:  # type: ignore[no-untyped-def]
    source = flow_obj.fn.__code__.co_filename
    for schema in (parameter_schema(flow_obj.fn), parameter_schema_from_entrypoint(f"{source}:{flow_obj.fn.__name__}")):
        props = schema.model_dump()["properties"]
        assert [name for name, prop in props.items() if not prop.get("description")] == []
        if "page_size" in props:
            assert (props["page_size"]["minimum"], props["page_size"]["maximum"]) == (1, 500)
        if "stores" in props:
            assert props["stores"]["minItems"] == 1
        if "follow_seconds" in props:
            assert (props["follow_seconds"]["minimum"], props["follow_seconds"]["maximum"]) == (0, 3600)


def test_only_the_scaffold_records_runs() -> None:
    """Flows record their run through ``run_record`` alone: no hand-written start/end pair left."""
    from pathlib import Path

    import flows

    hand_written = [
        path.name
        for path in Path(flows.__file__).parent.glob("*.py")
        if path.name != "common.py" and ("record_run_start" in path.read_text() or "record_run_end" in path.read_text())
    ]
    assert hand_written == []
    for flow_obj in SCAFFOLDED:
        assert "run_record(" in Path(flow_obj.fn.__code__.co_filename).read_text()
