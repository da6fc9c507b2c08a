"""The ``validate_orders`` flow end to end under the session Prefect harness: verdicts, pipeline
run row, artifacts, and the deadline-risk digest received by a real webhook on loopback.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.validation.conftest import NOW, good_order, insert_orders
from wishflow.warehouse.engine import make_engine, upgrade
from wishflow.warehouse.schema import pipeline_runs


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", url)
    return url


def latest_artifact(key: str) -> Any:
    """The newest artifact with ``key``, read through a client that is closed after.

    Not ``prefect.artifacts.Artifact.get``: Prefect 3.9's sync ``get`` opens a client it never closes,
    whose socket is a ResourceWarning at the next garbage collection.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            limit=1, sort=ArtifactSort.UPDATED_DESC, artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return found[0] if found else None


def test_flow_quarantines_publishes_and_warns_about_deadlines(
    prefect_harness: None, sqlite_url: str, notify_block: str, webhook: tuple[str, list[dict]]
) -> None:

    from flows.validate_orders import validate_orders

    engine = make_engine(sqlite_url)
    insert_orders(
        engine,
        "default",
        [
            good_order("ok-1"),
            good_order("ok-2", expected_ship_time=NOW + timedelta(hours=5), is_wish_express=True),
            good_order("held-1", zipcode=None, expected_ship_time=NOW + timedelta(hours=3)),
            good_order("held-2", quantity=0),
        ],
    )
    result = validate_orders(batch_size=3, risk_hours=12, notify_block=notify_block)
    assert result["batches"] == 2
    assert (result["validated"], result["valid"], result["invalid"]) == (4, 2, 2)
    assert result["notified"] is True

    with engine.connect() as conn:
        run = conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.run_id == result["run_id"])).one()
    assert (run.stage, run.outcome, run.records_fetched, run.records_quarantined) == ("validate", "succeeded", 4, 2)

    unprocessed = latest_artifact("unprocessed-orders-by-deadline")
    assert unprocessed is not None
    rows = json.loads(unprocessed.data) if isinstance(unprocessed.data, str) else unprocessed.data
    assert [r["order_id"] for r in rows] == ["ok-2", "ok-1"]
    counts = latest_artifact("validation-failures-by-expectation")
    assert "zipcode_required" in str(counts.data)
    assert "quantity_at_least_one" in str(counts.data)

    _, received = webhook
    assert len(received) == 1
    assert received[0]["title"] == "Wishflow [default]: 2 orders due within 12 h"
    assert "`held-1`" in received[0]["text"]
    assert "QUARANTINED" in received[0]["text"]
    assert "`ok-2`" in received[0]["text"]
    assert "Wish Express" in received[0]["text"]

    again = validate_orders(batch_size=3, risk_hours=1)  # nothing changed: nothing re-judged, nothing sent
    assert again["validated"] == 0
    assert again["notified"] is False
    assert len(received) == 1
    engine.dispose()


def test_send_notification_without_a_block_sends_nothing(prefect_harness: None) -> None:
    from tasks.notify import send_notification

    assert send_notification.fn(None, "title", "body") is False


def test_new_orders_digest_is_sent_through_the_block(
    prefect_harness: None, sqlite_url: str, notify_block: str, webhook: tuple[str, list[dict]]
) -> None:
    from prefect import flow

    from tasks.notify import notify_new_orders

    engine = make_engine(sqlite_url)
    insert_orders(engine, "default", [good_order(f"n-{i}") for i in range(60)])
    engine.dispose()

    @flow
    def pull_like() -> bool:
        return notify_new_orders(notify_block, "default", sqlite_url, [f"n-{i}" for i in range(60)])

    assert pull_like() is True
    _, received = webhook
    assert received[0]["title"] == "Wishflow [default]: 60 new orders"
    assert received[0]["text"].endswith("… and 10 more")
    assert "Ann Lee" not in received[0]["text"]  # no personal data in notifications


def test_flow_applies_the_merchants_bounds_from_the_shipping_policy(
    prefect_harness: None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.validate_orders import validate_orders
    from wishflow.validation import quarantined_orders

    policy = tmp_path / "policy.yaml"
    policy.write_text("default: {carrier: YunExpress, origin_country: CN}\nbounds: {max_quantity: 2}\n")
    monkeypatch.setenv("WISHFLOW_SHIPPING_POLICY", str(policy))
    engine = make_engine(sqlite_url)
    insert_orders(engine, "default", [good_order("two", quantity=2), good_order("three", quantity=3)])
    result = validate_orders()
    assert (result["valid"], result["invalid"]) == (1, 1)
    assert [(r["order_id"], r["reasons"]) for r in quarantined_orders(engine, "default")] == [
        ("three", "quantity_within_bound")
    ]


def test_a_batch_whose_verdicts_cannot_be_written_fails_the_run_after_the_batches_before_it_landed(
    prefect_harness: None, sqlite_url: str
) -> None:
    # batch N's verdicts are written while batch N+1 is validated: a write that fails must still
    # fail the run, keep what earlier batches wrote, and leave no later batch half-recorded
    from flows.validate_orders import validate_orders
    from wishflow.warehouse.validation_schema import order_validation_queue, order_validations

    engine = make_engine(sqlite_url)
    insert_orders(engine, "default", [good_order(f"o-{i}") for i in range(1, 8)])
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_o3 BEFORE INSERT ON order_validations WHEN NEW.order_id = 'o-3' "
            "BEGIN SELECT RAISE(ABORT, 'verdict store refuses o-3'); END"
        )
    with pytest.raises(Exception, match="refuses o-3"):
        validate_orders(batch_size=2)
    with engine.connect() as conn:
        judged = conn.execute(sa.select(order_validations.c.order_id).order_by("order_id")).scalars().all()
        waiting = conn.execute(sa.select(order_validation_queue.c.order_id).order_by("order_id")).scalars().all()
        run = conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.stage == "validate")).one()
    assert judged == ["o-1", "o-2"]
    assert waiting == ["o-3", "o-4", "o-5", "o-6", "o-7"]
    assert run.outcome == "failed"

    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_o3")
    result = validate_orders(batch_size=2)  # the rerun judges the rest, in overlapping batches
    assert (result["batches"], result["validated"], result["valid"]) == (3, 5, 5)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(order_validations)).scalar_one() == 7
        assert conn.execute(sa.select(sa.func.count()).select_from(order_validation_queue)).scalar_one() == 0
    engine.dispose()


def test_a_run_that_fails_while_a_batch_is_being_written_waits_for_it_and_counts_it(
    prefect_harness: None, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batch 2's validation breaks while batch 1's verdicts are still being written: the run fails,
    # batch 1 lands, and the run row counts it (it would read 0 if the write in flight were dropped)
    import flows.validate_orders as flow_module
    from wishflow.warehouse.validation_schema import order_validations

    real_validate = flow_module.validate_orders_frame
    calls: list[int] = []

    def breaks_on_the_second_batch(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the validation engine broke")
        return real_validate(*args)

    monkeypatch.setattr(flow_module, "validate_orders_frame", breaks_on_the_second_batch)
    engine = make_engine(sqlite_url)
    insert_orders(engine, "default", [good_order(f"o-{i}") for i in range(1, 6)])
    with pytest.raises(RuntimeError, match="validation engine broke"):
        flow_module.validate_orders(batch_size=2)
    with engine.connect() as conn:
        judged = conn.execute(sa.select(order_validations.c.order_id).order_by("order_id")).scalars().all()
        run = conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.stage == "validate")).one()
    assert judged == ["o-1", "o-2"]
    assert (run.outcome, run.records_fetched) == ("failed", 2)
    engine.dispose()


def test_the_batch_and_its_outcome_are_let_go_of_by_the_tasks_that_used_them(
    prefect_harness: None, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prefect can keep a finished task run's parameters and result alive after the run: the batch
    # and the outcome travel in Handoffs, emptied by the task that is done with them. A record
    # attempt that fails keeps its outcome, and its retry writes it.
    from sqlalchemy.exc import OperationalError

    import tasks.validation as validation_tasks
    from tasks.common import Handoff
    from wishflow.validation.store import read_pending_batch
    from wishflow.warehouse.validation_schema import order_validations

    engine = make_engine(sqlite_url)
    insert_orders(engine, "default", [good_order(f"o-{i}") for i in range(1, 4)])
    batch = Handoff(read_pending_batch(engine, "default", limit=10))
    result = validation_tasks.validate_orders_frame(batch, NOW)
    with pytest.raises(RuntimeError, match="already succeeded"):
        batch.get()  # the task let go of the batch
    outcome = result.take()
    assert outcome.rows == 3
    with pytest.raises(RuntimeError):
        result.take()  # taken out once

    real_record = validation_tasks.record_outcome
    attempts: list[int] = []

    def connection_lost_once(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return real_record(*args, **kwargs)

    monkeypatch.setattr(validation_tasks, "record_outcome", connection_lost_once)
    handed = Handoff(outcome)
    record = validation_tasks.record_validation.with_options(retry_delay_seconds=0)
    counts = record(None, "default", "run-1", handed, 1, NOW)
    assert len(attempts) == 2  # the retry found the outcome the failed attempt kept
    assert counts["validated"] == 3
    with pytest.raises(RuntimeError):
        handed.get()  # written, then let go of
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(order_validations)).scalar_one() == 3
    engine.dispose()
