"""The analyst role (PostgreSQL): read the ``analytics`` schema, nothing else.

``grant_analyst`` creates the role when missing (``NOLOGIN`` unless asked for a login role), lets it
connect to the warehouse database, use the ``analytics`` schema and read its views (including views
created later by the same owner), and makes its sessions read-only. It grants nothing on the raw
tables, so names, addresses, phone numbers, payloads, the outbox and the salt stay out of reach.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlalchemy.exc import ProgrammingError

from wishflow.warehouse.analytics import SCHEMA

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    """A role that cannot be granted (a bad name, a database without roles)."""


def grant_analyst(engine: Engine, role: str, login: bool | None = None, password: str | None = None) -> list[str]:
    """Create (if needed) and grant the read-only analyst ``role``; the actions taken, in words."""
    if engine.dialect.name != "postgresql":
        raise RoleError(
            "a SQLite warehouse is a file and has no roles: whoever can read the file reads everything; "
            "give analysts a copy holding only the analytics_* views' rows, or use PostgreSQL"
        )
    if not ROLE_NAME.match(role):
        raise RoleError(f"role names are lower-case letters, digits and _ (at most 63), not {role!r}")
    try:
        return _grant(engine, role, login, password)
    except ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) == "42501":  # insufficient_privilege
            raise RoleError(
                f"the warehouse user may not create or grant roles ({str(exc.orig).strip().splitlines()[0]}); "
                "run the command with a --warehouse-url of a user with CREATEROLE that owns the analytics views"
            ) from None
        raise


def _grant(engine: Engine, role: str, login: bool | None, password: str | None) -> list[str]:
    quoted_role = engine.dialect.identifier_preparer.quote(role)
    done: list[str] = []
    with engine.begin() as conn:
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        quoted_db = engine.dialect.identifier_preparer.quote(database)
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": role}).first()
        login_clause = "LOGIN" if login else "NOLOGIN"
        if exists is None:
            conn.exec_driver_sql(f"CREATE ROLE {quoted_role} {login_clause}")
            done.append(f"created role {role} ({login_clause})")
        elif login is not None:
            conn.exec_driver_sql(f"ALTER ROLE {quoted_role} {login_clause}")
            done.append(f"role {role} set {login_clause}")
        if password is not None:
            conn.exec_driver_sql(f"ALTER ROLE {quoted_role} PASSWORD %(password)s", {"password": password})
            done.append("password set")
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {quoted_db} TO {quoted_role}")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {quoted_role}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {quoted_role}")
        conn.exec_driver_sql(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO {quoted_role}")
        conn.exec_driver_sql(f"ALTER ROLE {quoted_role} SET default_transaction_read_only = on")
        done.append(f"{role} may read the {SCHEMA} views of {database}, read-only, and nothing else")
    return done
