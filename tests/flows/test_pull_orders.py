"""The pull flow end to end: real HTTP to the sandbox, real warehouses, real Prefect flow runs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flows.pull_orders import pull_orders
from tests.flows.conftest import CLOCK_START, SandboxAdmin
from wishflow.orders.flatten import format_wish_time
from wishflow.warehouse.engine import make_engine
from wishflow.warehouse.orders_writer import read_cursor
from wishflow.warehouse.schema import order_events, orders, pipeline_runs, rejected_records


def count(url: str, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
    finally:
        engine.dispose()


def snapshot(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [
                conn.execute(sa.select(orders).order_by(orders.c.order_id)).all(),
                conn.execute(sa.select(order_events.c.order_id, order_events.c.event_type)).all(),
                conn.execute(sa.select(rejected_records.c.record_key)).all(),
            ]
    finally:
        engine.dispose()


def test_incremental_pulls_follow_the_sandbox_clock(admin: SandboxAdmin, flow_env: str) -> None:
    first_ids = admin.generate(1200)
    admin.advance(60)
    first = pull_orders(safety_lag=timedelta(0))
    assert first["new"] == 1200 and first["changed"] == 0
    cursor_after_first = read_cursor(make_engine(flow_env), "default")
    assert cursor_after_first is not None

    admin.advance(3600)
    more = admin.generate(300)
    admin.advance(60)
    second = pull_orders(safety_lag=timedelta(0), lookback=timedelta(minutes=5))
    assert second["new"] == 300
    assert set(more) <= set(second["new_order_ids"])
    assert not set(first_ids) & set(second["new_order_ids"])
    assert count(flow_env, orders) == 1500
    assert read_cursor(make_engine(flow_env), "default") > cursor_after_first
    runs = count(flow_env, pipeline_runs, pipeline_runs.c.outcome == "succeeded", pipeline_runs.c.stage == "pull")
    assert runs == 2


def test_more_orders_than_a_page_sharing_one_updated_at(admin: SandboxAdmin, flow_env: str) -> None:
    same = format_wish_time(CLOCK_START - timedelta(hours=1))
    tied = [
        {"updated_at": same, "released_at": format_wish_time(CLOCK_START - timedelta(hours=2, seconds=i % 700))}
        for i in range(1200)
    ]
    ids = admin.create(tied)
    ids += admin.generate(250)
    admin.advance(60)
    result = pull_orders(page_size=500, safety_lag=timedelta(0))
    assert result["fetched"] == len(ids) == len(set(ids))
    assert result["new"] == 1450
    assert count(flow_env, orders) == 1450


def test_a_rerun_changes_nothing(admin: SandboxAdmin, flow_env: str) -> None:
    admin.generate(700)
    admin.advance(60)
    window = {"since": CLOCK_START - timedelta(days=30), "until": CLOCK_START + timedelta(minutes=1)}
    pull_orders(**window)
    before = snapshot(flow_env)
    again = pull_orders(**window)
    assert again["new"] == 0 and again["changed"] == 0 and again["unchanged"] == again["fetched"]
    assert snapshot(flow_env) == before


def test_a_backfill_leaves_the_incremental_cursor_alone(admin: SandboxAdmin, flow_env: str) -> None:
    admin.generate(100)
    admin.advance(60)
    pull_orders(safety_lag=timedelta(0))
    engine = make_engine(flow_env)
    cursor = read_cursor(engine, "default")
    admin.advance(7200)
    admin.generate(50)
    admin.advance(60)
    result = pull_orders(since=CLOCK_START - timedelta(days=400), until=CLOCK_START + timedelta(hours=3))
    assert result["new"] == 50
    assert read_cursor(engine, "default") == cursor


def test_faults_are_retried_until_the_pull_completes(admin: SandboxAdmin, flow_env: str) -> None:
    admin.generate(2000)
    admin.advance(60)
    admin.faults(http_500=0.1, http_502=0.05, http_503=0.05, malformed_json=0.05, cut_off=0.05, http_429=0.05)
    result = pull_orders(page_size=250, pages_per_task=2, safety_lag=timedelta(0))
    admin.faults()
    assert count(flow_env, orders) == 2000
    assert result["new"] == 2000


def test_an_invalid_token_fails_the_run_clearly(
    admin: SandboxAdmin, flow_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WISH_ACCESS_TOKEN", "not-a-real-token")
    monkeypatch.delenv("WISH_REFRESH_TOKEN")
    with pytest.raises(Exception, match="not authorised|No access token found"):
        pull_orders()
    assert count(flow_env, orders) == 0


def test_an_expired_token_is_refreshed(admin: SandboxAdmin, flow_env: str, sandbox) -> None:  # type: ignore[no-untyped-def]
    admin.generate(20)
    admin.advance(31 * 86400)  # tokens last 30 days on the sandbox clock
    old_token = sandbox.access_token
    result = pull_orders(safety_lag=timedelta(0))
    assert result["new"] == 20
    assert sandbox.access_token != old_token  # the sandbox issued (and the client used) a new one


def test_malformed_records_are_quarantined_not_lost(admin: SandboxAdmin, flow_env: str) -> None:
    admin.generate(40)
    admin.advance(60)
    admin.faults(schema_drift=1.0)
    result = pull_orders(safety_lag=timedelta(0))
    admin.faults()
    assert result["new"] == 40  # unknown extra fields never fail a run
    assert count(flow_env, orders) + count(flow_env, rejected_records) == 40


def test_the_token_never_appears_in_logs_or_the_warehouse(
    admin: SandboxAdmin, flow_env: str, sandbox, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    admin.generate(30)
    admin.advance(60)
    admin.faults(http_500=0.3)
    pull_orders(safety_lag=timedelta(0))
    admin.faults()
    secrets = [sandbox.access_token, sandbox.refresh_token, sandbox.client_secret]
    logged = caplog.text
    assert "/orders" in logged or "pull" in logged
    engine = make_engine(flow_env)
    with engine.connect() as conn:
        stored = " ".join(str(row) for row in conn.execute(sa.select(pipeline_runs)).all())
        stored += " ".join(str(row) for row in conn.execute(sa.select(orders.c.raw)).all())
    for secret in secrets:
        assert secret not in logged
        assert secret not in stored
