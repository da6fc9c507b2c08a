"""The pull flow end to end: real HTTP to the sandbox, real warehouses, real Prefect flow runs."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flows.pull_orders import pull_orders
from tests.flows.conftest import CLOCK_START, SandboxAdmin
from wishflow.api.client import WishClient
from wishflow.orders.flatten import format_wish_time
from wishflow.pull import WISH_BEGINNING
from wishflow.sync.flags import FUTURE_SOURCE
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
    assert first["new"] == 1200
    assert first["changed"] == 0
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
    assert again["new"] == 0
    assert again["changed"] == 0
    assert again["unchanged"] == again["fetched"]
    assert snapshot(flow_env) == before


@pytest.mark.parametrize("from_the_beginning", [False, True])
def test_a_backfill_leaves_the_incremental_cursor_alone(
    admin: SandboxAdmin, flow_env: str, from_the_beginning: bool
) -> None:
    admin.generate(100)
    admin.advance(60)
    pull_orders(safety_lag=timedelta(0))
    engine = make_engine(flow_env)
    cursor = read_cursor(engine, "default")
    admin.advance(7200)
    admin.generate(50)
    admin.advance(60)
    since = None if from_the_beginning else CLOCK_START - timedelta(days=400)
    result = pull_orders(since=since, until=CLOCK_START + timedelta(hours=3))
    assert result["new"] == 50
    assert read_cursor(engine, "default") == cursor


def test_a_backfill_from_the_beginning_sets_a_missing_cursor(admin: SandboxAdmin, flow_env: str) -> None:
    admin.generate(600)  # released one second apart, over the last ten minutes
    admin.advance(60)
    backfill = pull_orders(since=WISH_BEGINNING, until=CLOCK_START + timedelta(days=2), page_size=100)
    assert backfill["new"] == 600
    engine = make_engine(flow_env)
    cursor = read_cursor(engine, "default")
    assert cursor is not None
    admin.advance(3600)
    later = admin.generate(20)
    admin.advance(60)
    first_incremental = pull_orders(safety_lag=timedelta(0), lookback=timedelta(seconds=1))
    assert first_incremental["new"] == 20
    assert set(later) <= set(first_incremental["new_order_ids"])
    # it starts at the backfill's cursor: the 600 orders are not read again (a second or so of overlap)
    assert first_incremental["fetched"] < 40
    assert read_cursor(engine, "default") > cursor


#: A 30% fault mix: server errors, rate limits, client timeouts, cut-off and garbled bodies.
FAULT_MIX_30 = {
    "http_500": 0.06,
    "http_502": 0.03,
    "http_503": 0.03,
    "http_429": 0.05,
    "timeout": 0.04,
    "cut_off": 0.04,
    "malformed_json": 0.05,
    "timeout_seconds": 3.0,
}


def test_one_pull_run_gets_through_a_30_percent_fault_mix(
    admin: SandboxAdmin, flow_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 2 s client timeout, so the sandbox's 3 s "timeout" faults are real client-side timeouts
    monkeypatch.setattr("wishflow.api.factory.WishClient", functools.partial(WishClient, timeout=2.0))
    ids = admin.generate(2000)
    admin.advance(60)
    admin.faults(**FAULT_MIX_30)
    result = pull_orders(page_size=250, pages_per_task=2, safety_lag=timedelta(0))
    admin.faults()
    assert result["new"] == 2000 == len(set(ids))
    assert count(flow_env, orders) == 2000
    runs = count(flow_env, pipeline_runs, pipeline_runs.c.stage == "pull")
    failed = count(flow_env, pipeline_runs, pipeline_runs.c.outcome == "failed")
    assert runs == 1
    assert failed == 0
    faulted = sum(n for by in admin.stats()["requests"].values() for k, n in by.items() if k.startswith("fault:"))
    assert faulted > 0


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
    # every logger that could carry a request: the client's request log (DEBUG), httpx's full URLs
    # (INFO; an in-process CLI run may have raised its level) and Prefect's run logs
    for name in ("wishflow", "httpx", "prefect"):
        caplog.set_level(logging.DEBUG, logger=name)
    admin.generate(30)
    admin.advance(60)
    admin.faults(http_500=0.3)
    pull_orders(safety_lag=timedelta(0))
    admin.faults()
    secrets = [sandbox.access_token, sandbox.refresh_token, sandbox.client_secret]
    logged = caplog.text
    # the check means something only if the client's request lines were captured
    requests = [r.getMessage() for r in caplog.records if r.name.startswith("wishflow.api")]
    assert any("GET" in m and "/orders" in m for m in requests), requests[:5] or logged[-2000:]
    engine = make_engine(flow_env)
    with engine.connect() as conn:
        stored = " ".join(str(row) for row in conn.execute(sa.select(pipeline_runs)).all())
        stored += " ".join(str(row) for row in conn.execute(sa.select(orders.c.raw)).all())
    for secret in secrets:
        assert secret not in logged
        assert secret not in stored


def big_tie(admin: SandboxAdmin, count_: int) -> list[str]:
    """``count_`` APPROVED orders sharing one updated_at and released_at (no filter splits them)."""
    same = format_wish_time(CLOCK_START - timedelta(hours=1))
    r = admin.http.post(
        "/sandbox/orders",
        json={"count": count_, "template": {"updated_at": same, "released_at": same}},
        timeout=300,
    )
    r.raise_for_status()
    body = r.json()
    return (body.get("data") or body)["ids"]


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "faults"])
def test_no_instant_is_too_big(admin: SandboxAdmin, flow_env: str, faults: bool) -> None:
    ids = big_tie(admin, 5000)
    ids += admin.generate(300)
    admin.advance(60)
    if faults:
        admin.faults(http_500=0.1, http_503=0.05, http_429=0.05, cut_off=0.05, malformed_json=0.05)
    first = pull_orders(page_size=500, safety_lag=timedelta(0))
    admin.faults()
    assert first["new"] == 5300 == len(set(ids))
    assert count(flow_env, orders) == 5300
    cursor = read_cursor(make_engine(flow_env), "default")
    assert cursor is not None
    assert cursor > CLOCK_START - timedelta(hours=1)  # the cursor went past the tie
    before = snapshot(flow_env)
    again = pull_orders(page_size=500, safety_lag=timedelta(0))
    assert again["new"] == 0
    assert again["changed"] == 0
    assert snapshot(flow_env) == before
    stats = admin.stats()["requests"]
    assert any("bulk_get" in endpoint for endpoint in stats)


def test_an_order_dated_a_year_ahead_is_recorded_and_flagged(admin: SandboxAdmin, flow_env: str) -> None:
    ahead = CLOCK_START + timedelta(days=365)
    (future_id,) = admin.create([{"updated_at": format_wish_time(ahead), "released_at": format_wish_time(ahead)}])
    admin.generate(20)
    admin.advance(60)
    first = pull_orders(safety_lag=timedelta(0))
    assert first["new"] == 21
    assert first["flagged_future"] == 1
    assert count(flow_env, orders, orders.c.order_id == future_id) == 1
    flag = rejected_records.c.source == FUTURE_SOURCE
    assert count(flow_env, rejected_records, flag, rejected_records.c.order_id == future_id) == 1
    cursor = read_cursor(make_engine(flow_env), "default")
    assert cursor is not None
    assert cursor < ahead  # the cursor never jumps onto the future date
    before = snapshot(flow_env)
    again = pull_orders(safety_lag=timedelta(0))
    assert again["new"] == 0
    assert again["changed"] == 0
    assert snapshot(flow_env) == before
    assert count(flow_env, rejected_records, flag) == 1
