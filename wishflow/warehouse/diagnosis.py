"""Database errors that are configuration mistakes, recognised by asking the database, not by the message.

Two mistakes reach the warehouse code as plain driver errors:

* **an unmigrated (or not fully migrated) warehouse**: a statement names a table or column the schema
  does not have yet. PostgreSQL says so with a specific SQLSTATE (``42P01`` undefined_table, ``42703``
  undefined_column: ``psycopg2.errors.UndefinedTable`` / ``UndefinedColumn``). SQLite has no specific
  code: a missing table is ``SQLITE_ERROR``, the same code as a syntax error. So on such an error the
  warehouse is asked, through a fresh connection of the same engine, which Alembic revision it is at;
  when that is not the head revision the error is a :class:`ConfigError` ("not migrated" / "at revision
  X, not Y", run ``wishflow db upgrade``). At the head revision it stays the driver's error: it is a bug.
* **a PostgreSQL database that does not exist**: psycopg2 reports every failed connection as a bare
  ``OperationalError`` without a SQLSTATE (``pgcode`` is None: libpq's connection failures carry none,
  so ``psycopg2.errors.InvalidCatalogName`` never arrives here). So on a failed connection the server
  is asked, through its maintenance database with the same credentials, whether the database exists.
  When the server answers that it does not, the error is a :class:`ConfigError` naming it.
* **a PostgreSQL server that cannot be reached at all** (wrong host or port, server not started): when
  the maintenance database cannot be asked either, a plain TCP connection to the URL's host and port
  tells (refused, unknown host, timed out: the socket's own exception types). Nothing listening there is
  a :class:`ConfigError` naming the address, as an unreachable Wish API root is: a person must start the
  server or fix the URL, so it is not retried (the next scheduled run tries again). When something does
  listen there (a wrong password, say), the driver's error stands.

:func:`diagnose_errors` installs this on an engine as SQLAlchemy's ``handle_error`` hook
(:func:`wishflow.warehouse.engine.make_engine` does it for every warehouse engine), so the
:class:`ConfigError` is what the caller receives, chained to the driver's error, and the tasks' retry
conditions and the CLI recognise it by its type. The questions cost a query only when a statement or a
connection has already failed. While migrations run (:func:`schema_changing`) a failing statement is the
migration's own error and is left alone.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, ExceptionContext

from wishflow.errors import ConfigError

#: PostgreSQL SQLSTATEs of a statement naming what the schema lacks (undefined_table, undefined_column)
MISSING_IN_SCHEMA = frozenset({"42P01", "42703"})
#: libpq's port when the URL names none
DEFAULT_POSTGRES_PORT = 5432
#: The databases a PostgreSQL server always has, to ask it about the others
MAINTENANCE_DATABASES = ("postgres", "template1")

# True while migrations run or while a diagnosis is asking the database (no diagnosis of either)
_leave_alone: ContextVar[bool] = ContextVar("wishflow_diagnosis_leave_alone", default=False)


@contextmanager
def schema_changing() -> Iterator[None]:
    """Leave failing statements alone: migrations run (their failures are their own, not "not migrated")."""
    token = _leave_alone.set(True)
    try:
        yield
    finally:
        _leave_alone.reset(token)


def diagnose_errors(engine: Engine) -> None:
    """Install the diagnosis on ``engine``: its configuration mistakes are raised as :class:`ConfigError`."""
    event.listen(engine, "handle_error", _raise_diagnosed)


def _raise_diagnosed(context: ExceptionContext) -> None:
    problem = diagnose(context)
    if problem is not None:
        raise problem  # SQLAlchemy raises it in place of its own exception, chained to the driver's


def diagnose(context: ExceptionContext) -> ConfigError | None:
    """The configuration mistake behind a failed statement or connection, else None (see the module)."""
    if _leave_alone.get() or context.engine is None:
        return None
    error = context.original_exception
    backend = context.engine.url.get_backend_name()
    if context.connection is None:  # the connection itself failed
        if backend == "postgresql" and _is_psycopg2_operational(error):
            return missing_postgres_database(context.engine.url) or unreachable_postgres_server(context.engine.url)
        return None
    if backend == "sqlite":
        missing_in_schema = isinstance(error, sqlite3.OperationalError) and (
            getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_ERROR
        )
        if context.engine.url.database in (None, "", ":memory:"):
            return None  # a fresh connection would open another, empty, database
    else:
        missing_in_schema = getattr(error, "pgcode", None) in MISSING_IN_SCHEMA
    if not missing_in_schema:
        return None
    return unmigrated(context.engine)


def unmigrated(engine: Engine) -> ConfigError | None:
    """The error for a warehouse not at the head revision, asked through a new connection of ``engine``."""
    from alembic.runtime.migration import MigrationContext

    from wishflow.warehouse.readiness import revision_problem

    token = _leave_alone.set(True)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception:  # noqa: BLE001 - cannot tell: the original error is raised as it is
        return None
    finally:
        _leave_alone.reset(token)
    return revision_problem(engine.url.render_as_string(hide_password=False), current)


def unreachable_postgres_server(url: URL) -> ConfigError | None:
    """The error for ``url``'s server when nothing listens at its host and port, else None.

    A Unix-socket URL (no host, or a directory as the host) is not probed: it cannot be told apart here.
    """
    host = url.host
    if not host or host.startswith("/"):
        return None
    port = url.port or DEFAULT_POSTGRES_PORT
    try:
        with socket.create_connection((host, port), timeout=5):
            return None  # something listens: the driver's error says what it refused
    except OSError:  # ConnectionRefusedError, socket.gaierror (unknown host), TimeoutError
        return ConfigError(
            f"cannot reach the PostgreSQL server at {host}:{port} (nothing listens there, or the host is unknown)",
            hint="start the server, or fix the host and port in WISHFLOW_WAREHOUSE_URL (or the Warehouse block)",
        )


def missing_postgres_database(url: URL) -> ConfigError | None:
    """The error for ``url``'s PostgreSQL database when the server says it does not exist, else None."""
    import psycopg2

    name = url.database
    if not name:
        return None
    for maintenance in MAINTENANCE_DATABASES:
        if maintenance == name:
            continue
        params = url.set(database=maintenance).translate_connect_args(username="user", database="dbname")
        params.update({k: v for k, v in url.query.items() if isinstance(v, str)})  # sslmode and the like
        try:
            conn = psycopg2.connect(**{"connect_timeout": 5, **params})  # the URL's own timeout wins
        except psycopg2.Error:
            continue  # not allowed there, or the server is down: try the next, else cannot tell
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                exists = cur.fetchone() is not None
        except psycopg2.Error:
            return None
        finally:
            conn.close()
        if exists:
            return None
        return ConfigError(
            f'PostgreSQL database "{name}" does not exist',
            hint=f"create it (`createdb {name}`) and run `wishflow db upgrade`, or fix WISHFLOW_WAREHOUSE_URL",
        )
    return None


def _is_psycopg2_operational(error: BaseException | None) -> bool:
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return False
    return isinstance(error, psycopg2.OperationalError)
