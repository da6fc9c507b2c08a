"""Alembic environment: migrates the one Wishflow metadata on the configured URL."""

from __future__ import annotations

from alembic import context

from wishflow.warehouse.diagnosis import schema_changing
from wishflow.warehouse.engine import make_engine
from wishflow.warehouse.schema import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline() -> None:
    """Emit the migrations as SQL for the configured URL, without a connection (``alembic --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection: the caller's, when one is passed, else a new engine's.

    Batch mode is on, so a column change on SQLite copies the table as SQLite requires.
    """
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction(), schema_changing():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction(), schema_changing():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
