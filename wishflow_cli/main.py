"""The ``wishflow`` command: serve the sandbox, migrate the warehouse, run flows, run the demo.

It stands above both layers (library and Prefect), which is why it is not inside ``wishflow/``.
Heavy imports (Prefect, GX) happen inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

OPTIONAL_COMMANDS = (
    "wishflow_cli.sandbox_cmd",
    "wishflow_cli.orders_cmd",
    "wishflow_cli.ship_cmd",
    "wishflow_cli.webhooks_cmd",
    "wishflow_cli.report_cmd",
    "wishflow_cli.docs_cmd",
    "wishflow_cli.auth_cmd",
    "wishflow_cli.todo_cmd",
    "wishflow_cli.run_cmd",
    "wishflow_cli.notify_cmd",
    "wishflow_cli.doctor_cmd",
    "wishflow_cli.deploy_cmd",
)


def _db_upgrade(args: argparse.Namespace) -> int:
    from wishflow.config import warehouse_url_from_env
    from wishflow.warehouse.engine import upgrade

    url = args.warehouse_url or warehouse_url_from_env()
    upgrade(url)
    from sqlalchemy.engine import make_url

    print(f"warehouse at {make_url(url).render_as_string(hide_password=True)} is up to date")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from wishflow_cli.demo import run_demo

    return run_demo(orders=args.orders, seed=args.seed, days=args.days)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: ...`` and exit status 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} — see `{self.prog} --help`\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each ``*_cmd`` module adds its own subcommands."""
    parser = _Parser(prog="wishflow", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks for configuration errors (or WISHFLOW_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="warehouse schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply the Alembic migrations (idempotent)")
    up.add_argument("--warehouse-url", help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL or the SQLite file)")
    up.set_defaults(func=_db_upgrade)
    from wishflow_cli.db_cmd import add_db_commands  # db grant-analyst (issue 22)

    add_db_commands(db_sub)

    demo = sub.add_parser(
        "demo", help="run the order cycle against a fresh sandbox into .wishflow/demo.db (never the default warehouse)"
    )
    demo.add_argument("--orders", type=int, default=300, help="orders the sandbox starts with")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--days", type=int, default=14, help="simulated days to run the cycle through (a day per cycle)")
    demo.set_defaults(func=_demo)

    for module_name in OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_parser(sub)
    return parser


DEBUG_ENV = "WISHFLOW_DEBUG"


def _quiet_config_tracebacks() -> None:
    """Log records about a configuration error lose their traceback.

        Prefect logs a failed task or flow run with one; the error itself is printed once, as one line, by
    :func:`main`.
    """
    import logging

    from wishflow.errors import is_config_error

    previous = logging.getLogRecordFactory()
    if getattr(previous, "wishflow_quiet", False):
        return  # installed already (main() called again in this process)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        info = record.exc_info
        if info and info[1] is not None and is_config_error(info[1]):
            record.exc_info = None
            record.exc_text = None
        return record

    factory.wishflow_quiet = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def load_dotenv_file(path: str = ".env") -> list[str]:
    """Settings from a ``.env`` file in the working directory, for variables the environment lacks.

    See ``.env.example``. The environment always wins. Returns the names it set.
    """
    if not os.path.isfile(path):
        return []
    from dotenv import dotenv_values

    loaded = []
    for key, value in dotenv_values(path).items():
        if value and key not in os.environ:
            os.environ[key] = value
            loaded.append(key)
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a configuration mistake is one ``error:`` line and exit status 2.

    That is a :class:`wishflow.errors.ConfigError`, also inside a failed flow run; ``--debug`` or
    ``WISHFLOW_DEBUG=1`` shows its traceback. Tracebacks are for bugs.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")
    arguments = [a for a in arguments if a != "--debug"]
    if not debug:
        _quiet_config_tracebacks()
    load_dotenv_file()
    try:
        args = build_parser().parse_args(arguments)
        result = args.func(args)
    except Exception as exc:
        from wishflow.errors import config_error_from

        problem = config_error_from(exc)
        if problem is None or debug:
            raise
        sys.stdout.flush()
        print(f"error: {problem.line()}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
