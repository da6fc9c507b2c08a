"""A warehouse engine raises configuration mistakes as ConfigError, by asking the database, not the message.

An unmigrated warehouse, one behind the head revision and a PostgreSQL database that does not exist are
:class:`ConfigError` (what the CLI prints as one line and the tasks never retry); a failing statement
on a warehouse at the head revision is a bug and stays the driver's error.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from wishflow.errors import ConfigError
from wishflow.warehouse.diagnosis import schema_changing
from wishflow.warehouse.engine import make_engine, upgrade
from wishflow.warehouse.readiness import head_revisions
from wishflow.warehouse.schema import pipeline_runs
from wishflow.warehouse.validation_schema import order_validations


def _fails(url: str, statement: sa.Executable) -> BaseException:
    engine = make_engine(url)
    try:
        with pytest.raises(Exception) as raised, engine.connect() as conn:  # noqa: PT011 - the type is the point
            conn.execute(statement)
    finally:
        engine.dispose()
    return raised.value


def test_an_unmigrated_sqlite_warehouse_is_a_config_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    error = _fails(url, sa.select(pipeline_runs))
    assert isinstance(error, ConfigError)
    assert error.message == f"the warehouse at {url} is not migrated"
    assert "wishflow db upgrade" in (error.hint or "")
    assert isinstance(error.__cause__, sqlite3.OperationalError)  # the driver's error stays in the chain


def test_a_warehouse_behind_the_head_revision_says_which_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    error = _fails(url, sa.select(order_validations))  # added by 0002
    assert isinstance(error, ConfigError)
    assert f"is at revision 0001, not {', '.join(sorted(head_revisions()))}" in error.message


def test_a_bad_statement_at_the_head_revision_stays_the_drivers_error(warehouse_url: str) -> None:
    error = _fails(warehouse_url, sa.text("SELECT no_such_column FROM pipeline_runs"))
    assert isinstance(error, sa.exc.DBAPIError)  # a bug, not a configuration mistake
    assert not isinstance(error, ConfigError)


def test_a_failing_migration_is_left_alone(tmp_path: Path) -> None:
    """While migrations run, a failing statement is the migration's own error, not "not migrated"."""
    with schema_changing():
        error = _fails(f"sqlite:///{tmp_path / 'empty.db'}", sa.select(pipeline_runs))
    assert isinstance(error, sa.exc.OperationalError)


@pytest.mark.postgres
def test_an_unmigrated_postgres_warehouse_is_a_config_error(empty_postgres_database: str) -> None:
    error = _fails(empty_postgres_database, sa.select(pipeline_runs))
    assert isinstance(error, ConfigError)
    assert error.message.endswith("is not migrated")


@pytest.mark.postgres
def test_a_missing_postgres_database_is_a_config_error() -> None:
    admin_url = os.environ.get("WISHFLOW_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PostgreSQL tests skipped: set WISHFLOW_TEST_POSTGRES_URL to run them")
    name = f"wishflow_no_such_db_{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    error = _fails(url, sa.text("SELECT 1"))
    assert isinstance(error, ConfigError)
    assert error.line() == (
        f'PostgreSQL database "{name}" does not exist — create it (`createdb {name}`) and run '
        "`wishflow db upgrade`, or fix WISHFLOW_WAREHOUSE_URL"
    )


def test_an_unreachable_postgres_server_is_a_config_error_naming_the_address() -> None:
    """Nothing listens at the URL's host and port: one error naming them (the driver's error chained)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # closed once the block ends: nothing listens there
    error = _fails(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/wishflow", sa.text("SELECT 1"))
    assert isinstance(error, ConfigError)
    assert error.message.startswith(f"cannot reach the PostgreSQL server at 127.0.0.1:{port}")
    assert "WISHFLOW_WAREHOUSE_URL" in (error.hint or "")


def test_a_server_that_listens_but_refuses_keeps_the_drivers_error() -> None:
    """Something listens but is no PostgreSQL that accepts us: nothing is claimed, the driver's error stands."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        error = _fails(
            f"postgresql+psycopg2://postgres@127.0.0.1:{port}/wishflow?connect_timeout=2", sa.text("SELECT 1")
        )
    assert isinstance(error, sa.exc.OperationalError)
    assert not isinstance(error, ConfigError)
