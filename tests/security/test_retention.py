"""Item 2 of issue 22: retention blanks the personal fields of orders finished long ago, trims their
payloads, records the run, and leaves every report figure (and the customer keys) unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from tests.security.personal_data import NOW, PERSONAL_VALUES, add_personal_data
from wishflow.report import data as report_data
from wishflow.retention import RetentionPolicy, apply_retention
from wishflow.warehouse.analytics_schema import customer_keys
from wishflow.warehouse.personal import ORDER_PERSONAL_COLUMNS
from wishflow.warehouse.schema import orders, pipeline_runs


def _personal(engine: sa.Engine) -> dict[tuple[str, str], dict[str, Any]]:
    cols = [orders.c[name] for name in ORDER_PERSONAL_COLUMNS]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(orders.c.store, orders.c.order_id, orders.c.raw, *cols)).all()
    return {(r.store, r.order_id): r._asdict() for r in rows}


def test_retention_blanks_old_finished_orders_and_keeps_every_figure(engine: sa.Engine, warehouse_url: str) -> None:
    seeded = add_personal_data(warehouse_url)
    before = report_data.collect(engine, days=90, now=NOW)
    with engine.connect() as conn:
        history_before = conn.execute(sa.text("SELECT COUNT(*) FROM order_completions")).scalar()

    result = apply_retention(engine, "alpha", NOW, RetentionPolicy(personal_data_days=90), "run-1")
    apply_retention(engine, "beta", NOW, RetentionPolicy(personal_data_days=90), "run-2")

    personal = _personal(engine)
    # old completions and refunds more than 90 days ago: blanked; the refunds in the seed are 4-6 days old
    old = set(seeded["old"])
    assert result.orders_blanked == len([k for k in old if k[0] == "alpha"]) > 0
    for key, row in personal.items():
        blank = all(row[name] is None for name in ORDER_PERSONAL_COLUMNS)
        text = json.dumps(row["raw"])
        if key in old:
            assert blank, key
            assert not [p for p in PERSONAL_VALUES if p in text], key
            assert row["raw"]["id"] == key[1]  # the rest of the payload stays
        else:
            assert row["recipient_name"], key
            assert row["street_address1"], key
            assert PERSONAL_VALUES[1] in text, key

    # every figure of the report, and the history, unchanged
    assert report_data.collect(engine, days=90, now=NOW) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM order_completions")).scalar() == history_before
        keys = dict(conn.execute(sa.select(customer_keys.c.order_id, customer_keys.c.customer_key)).all())
        runs = conn.execute(
            sa.select(pipeline_runs.c.run_id, pipeline_runs.c.outcome, pipeline_runs.c.details).where(
                pipeline_runs.c.stage == "retention"
            )
        ).all()
    # keys were computed before the fields went: every order keeps one, repeat customers share it
    assert len(keys) == seeded["orders"]
    assert len(set(keys.values())) == 7
    assert {r.run_id: r.outcome for r in runs} == {"run-1:retention": "succeeded", "run-2:retention": "succeeded"}
    assert next(r.details for r in runs if r.run_id == "run-1:retention")["orders_blanked"] == result.orders_blanked

    # again: nothing left to do
    again = apply_retention(engine, "alpha", NOW, RetentionPolicy(personal_data_days=90), "run-3")
    assert again.orders_blanked == 0
    assert _personal(engine) == personal


def test_no_policy_keeps_everything(engine: sa.Engine, warehouse_url: str) -> None:
    add_personal_data(warehouse_url)
    before = _personal(engine)
    kept = apply_retention(engine, "alpha", NOW, RetentionPolicy(), "run-1")
    assert not kept.applied
    assert kept.customer_keys_computed == 20  # keys are computed all the same
    assert _personal(engine) == before
    with pytest.raises(ValueError, match="personal_data_days must be at least 1"):
        RetentionPolicy(personal_data_days=0)


def test_the_policy_resolves_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from blocks.retention import resolve_retention_policy

    monkeypatch.delenv("WISHFLOW_RETENTION_BLOCK", raising=False)
    monkeypatch.delenv("WISHFLOW_RETENTION_DAYS", raising=False)
    assert resolve_retention_policy().personal_data_days is None
    monkeypatch.setenv("WISHFLOW_RETENTION_DAYS", "180")
    assert resolve_retention_policy().personal_data_days == 180
    monkeypatch.setenv("WISHFLOW_RETENTION_DAYS", "soon")
    with pytest.raises(ValueError, match="WISHFLOW_RETENTION_DAYS"):
        resolve_retention_policy()


def test_the_follow_up_flow_applies_the_policy(
    monkeypatch: pytest.MonkeyPatch, sandbox: Any, tmp_path: Any, prefect_harness: None
) -> None:
    """A real follow-up run with ``WISHFLOW_RETENTION_DAYS``: the orders completed long before Wish's
    today lose their personal fields, and the run is recorded.
    """
    from flows.follow_up import follow_up
    from wishflow.warehouse.engine import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    seeded = add_personal_data(url)
    for name, value in {
        "WISH_API_BASE_URL": sandbox.api_url,
        "WISH_ACCESS_TOKEN": sandbox.access_token,
        "WISH_REFRESH_TOKEN": sandbox.refresh_token,
        "WISH_CLIENT_ID": sandbox.client_id,
        "WISH_CLIENT_SECRET": sandbox.client_secret,
        "WISHFLOW_WAREHOUSE_URL": url,
        "WISHFLOW_RETENTION_DAYS": "90",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WISHFLOW_RETENTION_BLOCK", raising=False)
    result = follow_up(store="alpha", refresh_orders=False)
    assert result["retention"].applied
    assert result["retention"].orders_blanked >= 1
    engine = sa.create_engine(url)
    try:
        personal = _personal(engine)
        with engine.connect() as conn:
            stages = conn.execute(sa.select(pipeline_runs.c.stage, pipeline_runs.c.outcome)).all()
    finally:
        engine.dispose()
    for key in seeded["old"]:
        if key[0] == "alpha":
            assert all(personal[key][name] is None for name in ORDER_PERSONAL_COLUMNS), key
    assert ("retention", "succeeded") in [tuple(s) for s in stages]
