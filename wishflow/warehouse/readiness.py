"""Is the warehouse there and migrated to the head revision?

Asked before a command runs a flow (so a configuration mistake is one line, not a failed flow run) and
by ``wishflow doctor``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from wishflow.config import check_warehouse_url
from wishflow.errors import UPGRADE_HINT, ConfigError


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def missing_sqlite_warehouse(url: str) -> ConfigError | None:
    """The error for a SQLite warehouse whose file does not exist, else None.

    The one message for it (the readiness check, ``wishflow run`` and the read commands). Nothing
    creates the file here: a mistyped path must not become an empty warehouse.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:") or Path(database).exists():
        return None
    return ConfigError(
        f"no warehouse at {database}: the SQLite file does not exist",
        hint="check WISHFLOW_WAREHOUSE_URL for a typo, or create it with `wishflow db upgrade`",
    )


def head_revisions() -> set[str]:
    """The head revisions of the migrations shipped with this Wishflow."""
    from alembic.script import ScriptDirectory

    from wishflow.warehouse.engine import alembic_config

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def warehouse_revisions(url: str) -> set[str]:
    """The warehouse's revisions; :class:`ConfigError` when it cannot be reached as configured."""
    from wishflow.warehouse.engine import current_revisions

    check_warehouse_url(url)
    parsed = make_url(url)
    missing = missing_sqlite_warehouse(url)
    if missing is not None:
        raise missing
    try:
        return current_revisions(url)
    except DBAPIError as exc:  # a missing database is a ConfigError already (wishflow.warehouse.diagnosis)
        if parsed.get_backend_name() == "postgresql":
            where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:160]
            raise ConfigError(
                f"cannot connect to the PostgreSQL warehouse at {where} ({reason})",
                hint="check that PostgreSQL runs and WISHFLOW_WAREHOUSE_URL names its host, port, user and database",
            ) from None
        raise


def revision_problem(url: str, current: set[str]) -> ConfigError | None:
    """The error for a warehouse at ``url`` whose revisions are ``current``, unless they are the head revisions."""
    heads = head_revisions()
    if not current:
        return ConfigError(f"the warehouse at {describe_url(url)} is not migrated", hint=UPGRADE_HINT)
    if current != heads:
        return ConfigError(
            f"the warehouse at {describe_url(url)} is at revision {', '.join(sorted(current))}, "
            f"not {', '.join(sorted(heads))}",
            hint=UPGRADE_HINT,
        )
    return None


def check_warehouse_ready(url: str) -> None:
    """Raise :class:`ConfigError` unless the warehouse at ``url`` is reachable and at the head revision."""
    problem = revision_problem(url, warehouse_revisions(url))
    if problem is not None:
        raise problem
