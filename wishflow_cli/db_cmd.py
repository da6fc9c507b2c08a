"""``wishflow db grant-analyst ROLE``: a read-only PostgreSQL role for analysts.

It is limited to the ``analytics`` views (no personal data, payloads, outbox or salt). See
docs/security.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def _grant_analyst(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from wishflow.config import warehouse_url_from_env
    from wishflow.warehouse.engine import make_engine
    from wishflow.warehouse.roles import RoleError, grant_analyst

    url = args.warehouse_url or warehouse_url_from_env()
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            print(f"error: {args.password_env} is empty; export the password there first", file=sys.stderr)
            return 2
    login = True if args.login else (False if args.nologin else None)
    engine = make_engine(url)
    try:
        actions = grant_analyst(engine, args.role, login=login, password=password)
    except RoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    where = make_url(url).render_as_string(hide_password=True)
    for action in actions:
        print(f"{action} ({where})" if action.endswith("nothing else") else action)
    return 0


def add_db_commands(db_sub: Any) -> None:
    """Register ``db grant-analyst`` under the ``db`` subcommand."""
    grant = db_sub.add_parser(
        "grant-analyst", help="create/grant a read-only role on the analytics views only (PostgreSQL)"
    )
    grant.add_argument("role", help="the role (created when missing)")
    group = grant.add_mutually_exclusive_group()
    group.add_argument("--login", action="store_true", help="the role may log in (default for a new role: NOLOGIN)")
    group.add_argument("--nologin", action="store_true", help="the role may not log in (a group role)")
    grant.add_argument("--password-env", help="set the role's password from this environment variable")
    grant.add_argument("--warehouse-url", help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL or the SQLite file)")
    grant.set_defaults(func=_grant_analyst)
