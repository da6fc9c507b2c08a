"""Warehouse engines and schema migration.

The warehouse is PostgreSQL in production and a SQLite file by default; both go through the same
code. Alembic is the only schema writer: :func:`upgrade` applies the migrations shipped inside the
package, so an installed Wishflow can migrate a warehouse without the source tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from wishflow.warehouse.diagnosis import diagnose_errors

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_SQLITE_PATH = Path(".wishflow") / "warehouse.db"

if TYPE_CHECKING:
    # Alembic (and Mako under it) is imported by what migrates or reads revisions, not by every flow
    # process that opens an engine: 9 MB of a validation or pull process that never migrates.
    from alembic.config import Config


def default_url() -> str:
    """The embedded warehouse: a SQLite file under the working directory."""
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys, PostgreSQL UTC.

    An unmigrated warehouse or a PostgreSQL database that does not exist raises
    :class:`~wishflow.errors.ConfigError` (asked of the database when a statement or connection fails:
    :mod:`wishflow.warehouse.diagnosis`).

    An unparsable URL or an unknown dialect raises :class:`~wishflow.errors.ConfigError` here, where
    the URL is parsed, so no caller has to recognise SQLAlchemy's parse errors by their message.
    """
    from wishflow.config import check_warehouse_url  # config imports this module

    parsed = make_url(check_warehouse_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"options": "-c timezone=UTC"},
        )
    diagnose_errors(engine)
    return engine


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the warehouse at ``url``, with our migrations directory.

    Built in code rather than read from an ``alembic.ini`` beside the caller, so ``wishflow db upgrade``
    works from any directory and on an installed package.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the warehouse at ``url`` to the latest schema (idempotent)."""
    from alembic import command

    from wishflow.config import check_warehouse_url  # config imports this module

    check_warehouse_url(url)
    command.upgrade(alembic_config(url), revision)


def current_revisions(url: str) -> set[str]:
    """The Alembic revisions the warehouse is at (empty before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
