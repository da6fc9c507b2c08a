"""Item 1 of issue 22: analysts read the ``analytics`` views, which cover the report and the
dictionary's figures without personal data; on PostgreSQL the analyst role reads those and is refused
everything else (raw tables, personal columns, the outbox, the salt).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.security.personal_data import NOW, PERSONAL_VALUES, add_personal_data
from wishflow.report import data as report_data
from wishflow.warehouse.analytics import qualified_name, queue_views, view_table, views
from wishflow.warehouse.personal import PERSONAL_COLUMNS
from wishflow.warehouse.pseudonyms import refresh_customer_keys
from wishflow.warehouse.schema import metadata
from wishflow_cli.main import main

PERSONAL_NAMES = {column for (_, column) in PERSONAL_COLUMNS}


@pytest.fixture
def seeded(warehouse_url: str) -> dict[str, Any]:
    expected = add_personal_data(warehouse_url)
    engine = sa.create_engine(warehouse_url)
    assert refresh_customer_keys(engine) == expected["orders"]
    engine.dispose()
    return expected


def _report_from_views(monkeypatch: pytest.MonkeyPatch, engine: sa.Engine) -> report_data.ReportData:
    """The report's own queries (wishflow/report/data.py), pointed at the analytics views."""
    dialect = engine.dialect.name
    monkeypatch.setattr(report_data, "orders", view_table(dialect, "orders"))
    monkeypatch.setattr(report_data, "refunds", view_table(dialect, "refunds"))
    monkeypatch.setattr(report_data, "shipments", view_table(dialect, "postage"))
    monkeypatch.setattr(report_data, "stage_views", queue_views(dialect))
    try:
        return report_data.collect(engine, days=90, now=NOW)
    finally:
        monkeypatch.undo()


def test_every_analytics_view_reads_without_personal_data(engine: sa.Engine, seeded: dict[str, Any]) -> None:
    dialect = engine.dialect.name
    with engine.connect() as conn:
        for view in views():
            result = conn.execute(sa.text(f"SELECT * FROM {qualified_name(dialect, view.name)}"))
            columns, rows = set(result.keys()), result.all()
            assert columns == set(view.columns), view.name
            assert not columns & PERSONAL_NAMES, (view.name, columns & PERSONAL_NAMES)
            text = " ".join(str(v) for row in rows for v in row)
            assert not [p for p in PERSONAL_VALUES if p in text], view.name
        keyed = conn.execute(
            sa.text(
                f"SELECT customer_key, postcode_prefix, province, country_code FROM {qualified_name(dialect, 'orders')}"
            )
        ).all()
    assert len(keyed) == seeded["orders"]
    assert {r.postcode_prefix for r in keyed} == {"SW1"}
    assert {r.country_code for r in keyed} == {"GB"}
    # 7 customers: the same recipient gets the same key, different ones different keys
    assert len({r.customer_key for r in keyed}) == 7
    assert all(len(r.customer_key) == 32 for r in keyed)


def test_the_report_builds_from_the_analytics_views_alone(
    engine: sa.Engine, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from_tables = report_data.collect(engine, days=90, now=NOW)
    from_views = _report_from_views(monkeypatch, engine)
    assert from_views == from_tables
    assert from_tables.shipped_orders == seeded["shipped"]
    assert from_tables.refunds_total == seeded["refunds"]


@pytest.fixture
def analyst(warehouse_url: str, seeded: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """A login analyst role granted by ``wishflow db grant-analyst``: (role, password, its URL)."""
    if not warehouse_url.startswith("postgresql"):
        pytest.skip("roles exist on PostgreSQL only")
    role, password = f"wf_analyst_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    url = sa.engine.make_url(warehouse_url).set(username=role, password=password).render_as_string(hide_password=False)
    yield role, password, url
    admin = sa.create_engine(warehouse_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    admin.dispose()


@pytest.mark.postgres
def test_the_analyst_role_reads_the_analytics_views_and_nothing_else(
    warehouse_url: str,
    analyst: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    role, password, analyst_url = analyst
    monkeypatch.setenv("WF_TEST_ANALYST_PASSWORD", password)
    args = ["db", "grant-analyst", role, "--login", "--password-env", "WF_TEST_ANALYST_PASSWORD"]
    assert main([*args, "--warehouse-url", warehouse_url]) == 0
    assert main([*args, "--warehouse-url", warehouse_url]) == 0  # idempotent
    out = capsys.readouterr()
    assert password not in out.out + out.err
    assert f"{role} may read the analytics views" in out.out

    owner = sa.create_engine(warehouse_url)
    from_tables = report_data.collect(owner, days=90, now=NOW)
    owner.dispose()
    engine = sa.create_engine(analyst_url)  # logs in as the analyst
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_user").scalar() == role
            for view in views():
                conn.execute(sa.text(f"SELECT * FROM analytics.{view.name} LIMIT 5")).all()
        refused = [t.name for t in metadata.sorted_tables]
        assert {"orders", "shipments", "address_changes", "pseudonym_salts", "sync_state"} <= set(refused)
        refused += [
            "v_open_orders",
            "v_unprocessed_orders",
            "v_quarantined_orders",
            "v_quarantine_reasons",
            "v_action_items",
        ]
        for name in refused:
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.exec_driver_sql(f'SELECT * FROM "{name}" LIMIT 1').all()
        for column in ("recipient_name", "street_address1", "zipcode", "phone_number", "raw"):
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.exec_driver_sql(f"SELECT {column} FROM orders LIMIT 1").all()
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only|permission denied"):
            conn.exec_driver_sql("CREATE TABLE analytics.mine (x int)")
        # the report, as the analyst, from the views alone
        assert _report_from_views(monkeypatch, engine) == from_tables
    finally:
        engine.dispose()


def test_sqlite_has_no_roles_and_says_so(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert main(["db", "upgrade", "--warehouse-url", url]) == 0
    assert main(["db", "grant-analyst", "reader", "--warehouse-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a SQLite warehouse is a file and has no roles")
    assert len(err.splitlines()) == 1
