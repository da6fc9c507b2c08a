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
from datetime import datetime, timedelta
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
    "wishflow_cli.doctor_cmd",
)


def _db_upgrade(args: argparse.Namespace) -> int:
    from wishflow.config import warehouse_url_from_env
    from wishflow.warehouse.engine import upgrade

    url = args.warehouse_url or warehouse_url_from_env()
    upgrade(url)
    from sqlalchemy.engine import make_url

    print(f"warehouse at {make_url(url).render_as_string(hide_password=True)} is up to date")
    return 0


def preflight(*, warehouse: bool = True, wish: bool = True) -> None:
    """Check the environment's configuration before a flow starts (no Prefect server is started for a
    mistake a person must fix): the warehouse is reachable and migrated; the Wish settings resolve and
    the API root's host:port accepts a connection (no request is sent)."""
    from wishflow.config import check_api_reachable, warehouse_url_from_env, wish_settings_from_env
    from wishflow.warehouse.readiness import check_warehouse_ready

    if warehouse:
        check_warehouse_ready(warehouse_url_from_env())
    if wish:
        check_api_reachable(wish_settings_from_env().api_base_url)


def _run_pull(args: argparse.Namespace) -> int:
    if args.warehouse_url:
        os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
    from wishflow.errors import ConfigError

    if not 1 <= args.page_size <= 500:
        raise ConfigError(f"--page-size {args.page_size} is out of range", hint="Wish pages hold 1 to 500 orders")
    if args.since and args.until and args.since > args.until:
        raise ConfigError(
            f"--since {args.since.isoformat()} is after --until {args.until.isoformat()}",
            hint="give --since before --until",
        )
    preflight(warehouse=not args.warehouse_block, wish=not args.wish_block)
    from flows.pull_orders import pull_orders

    result = pull_orders(
        store=args.store,
        since=args.since,
        until=args.until,
        page_size=args.page_size,
        lookback=timedelta(minutes=args.lookback_minutes),
        wish_block=args.wish_block,
        warehouse_block=args.warehouse_block,
        notify_block=args.notify_block,
    )
    print(
        f"pulled {result['fetched']} orders for store {result['store']}: {result['new']} new, "
        f"{result['changed']} changed, {result['unchanged']} unchanged, {result['quarantined']} quarantined"
    )
    return 0


#: ``wishflow run NAME``: flows that take just the store and its blocks (module, function).
SIMPLE_FLOWS = {
    "validate": ("flows.validate_orders", "validate_orders", "validate pulled orders; quarantine the bad ones"),
    "track": ("flows.poll_tracking", "poll_tracking", "poll tracking of shipped orders"),
    "follow-up": ("flows.follow_up", "follow_up", "after-sales follow-up: tickets, refunds, penalties"),
}


def _run_simple(args: argparse.Namespace) -> int:
    if args.warehouse_url:
        os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
    module_name, function, _ = SIMPLE_FLOWS[args.flow]
    wish = args.flow != "validate"
    preflight(warehouse=not args.warehouse_block, wish=wish and not args.wish_block)
    flow_fn = getattr(importlib.import_module(module_name), function)
    kwargs: dict[str, Any] = {"store": args.store, "warehouse_block": args.warehouse_block}
    if wish:
        kwargs["wish_block"] = args.wish_block
    result = flow_fn(**kwargs)
    summary = {k: v for k, v in (result or {}).items() if isinstance(v, (int, float, str, bool)) or v is None}
    print(f"{args.flow}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from wishflow_cli.demo import run_demo

    return run_demo(orders=args.orders, seed=args.seed, days=args.days)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: ...`` and exit status 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} — see `{self.prog} --help`\n")
        sys.exit(2)


def _iso_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2026-01-31 or 2026-01-31T08:00:00+00:00)"
        ) from None


def build_parser() -> argparse.ArgumentParser:
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

    run = sub.add_parser("run", help="run a flow once, in this process")
    run_sub = run.add_subparsers(dest="flow", required=True)
    pull = run_sub.add_parser("pull", help="pull new and changed orders")
    pull.add_argument("--store", default="default")
    pull.add_argument("--since", type=_iso_datetime, help="backfill start (ISO 8601)")
    pull.add_argument("--until", type=_iso_datetime, help="backfill end (ISO 8601)")
    pull.add_argument("--page-size", type=int, default=500)
    pull.add_argument("--lookback-minutes", type=float, default=10.0)
    pull.add_argument("--wish-block")
    pull.add_argument("--warehouse-block")
    pull.add_argument("--warehouse-url")
    pull.add_argument("--notify-block")
    pull.set_defaults(func=_run_pull)
    for name, (_, _, text) in SIMPLE_FLOWS.items():
        simple = run_sub.add_parser(name, help=text)
        simple.add_argument("--store", default="default")
        simple.add_argument("--warehouse-block")
        simple.add_argument("--warehouse-url")
        if name != "validate":
            simple.add_argument("--wish-block")
        simple.set_defaults(func=_run_simple, wish_block=None)

    demo = sub.add_parser("demo", help="run the order cycle against a fresh sandbox into the SQLite warehouse")
    demo.add_argument("--orders", type=int, default=300, help="orders the sandbox starts with")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--days", type=int, default=3, help="simulated days to run the cycle through")
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
    """Log records about a configuration error lose their traceback (Prefect logs a failed task or
    flow run with one); the error itself is printed once, as one line, by :func:`main`."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A configuration mistake (:class:`wishflow.errors.ConfigError`, also inside a
    failed flow run) is one ``error:`` line and exit status 2; ``--debug`` or ``WISHFLOW_DEBUG=1``
    shows its traceback. Tracebacks are for bugs."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")
    arguments = [a for a in arguments if a != "--debug"]
    if not debug:
        _quiet_config_tracebacks()
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
