"""``wishflow run STAGE``: run one stage of the order cycle (or the whole cycle) once, in this process.

wishflow run pull|validate|ship|track|follow-up|cycle [--OPTION ...] [--json] [-v]

Every parameter of the stage's flow is an option, with the flow's own description as its help text,
so the command line and the Prefect UI's run form offer the same choices. The options are read from
the flows' source (not by importing them): ``wishflow --help`` stays fast, and Prefect is imported
only when a flow actually runs. Exit status: 0 when the run succeeded, 1 when it failed (the reason
is printed), 2 on a configuration error (raised to ``main``) or a missing warehouse or unknown store.

Without ``PREFECT_API_URL`` Prefect runs the flow against a temporary local server it starts in this
process (a few seconds, said once); with it, the run is recorded on that server. Prefect's own
console lines and library INFO lines are hidden unless ``-v`` is given.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"

#: stage -> (flow module, flow function, what it does)
STAGES: dict[str, tuple[str, str, str]] = {
    "pull": ("pull_orders", "pull_orders", "pull new and changed orders from Wish into the warehouse"),
    "validate": ("validate_orders", "validate_orders", "validate pulled orders; quarantine the bad ones"),
    "ship": ("ship_orders", "ship_orders", "ship ready orders (all, or --order ...), exactly once per order"),
    "track": ("poll_tracking", "poll_tracking", "follow shipped parcels to delivery and flag exceptions"),
    "follow-up": ("follow_up", "follow_up", "completions, refunds, tickets, penalties and the daily summary"),
    "cycle": ("order_cycle", "order_cycle", "the whole cycle for one store: pull, validate, ship, track, follow up"),
}

#: nicer option names for list/dict parameters, given once per value
ALIASES = {"order_ids": "--order", "tracking_numbers": "--tracking"}
#: stages that may run against a store the warehouse has never seen (they create it)
CREATES_STORE = {"pull", "cycle"}
_DEST = "param__"


@dataclass(frozen=True)
class Param:
    """One flow parameter as read from the flow's source."""

    name: str
    type_source: str
    description: str
    default: Any
    default_source: str | None

    @property
    def base(self) -> str:
        """The parameter's type without ``None`` (``int | None`` is an ``int`` option)."""
        parts = [p.strip() for p in self.type_source.split("|")]
        return next((p for p in parts if p != "None"), "str")


def _annotated(node: ast.expr | None) -> tuple[str, str]:
    """``Annotated[T, Field(description=...)]`` -> (``T`` source, description)."""
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "Annotated":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        description = ""
        for meta in elts[1:]:
            if isinstance(meta, ast.Call):
                for kw in meta.keywords:
                    if kw.arg == "description" and isinstance(kw.value, ast.Constant):
                        description = str(kw.value.value)
        return ast.unparse(elts[0]), description
    return (ast.unparse(node) if node is not None else "str"), ""


@cache
def flow_params(module: str, function: str) -> tuple[Param, ...]:
    """The parameters of ``flows/<module>.py:<function>``, from its source."""
    tree = ast.parse((FLOWS_DIR / f"{module}.py").read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    args = fn.args.args
    defaults: list[ast.expr | None] = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
    out = []
    for arg, default in zip(args, defaults, strict=True):
        type_source, description = _annotated(arg.annotation)
        value: Any = None
        source = None
        if default is not None:
            source = ast.unparse(default)
            try:
                value = ast.literal_eval(default)
            except ValueError:
                value = source
        out.append(Param(arg.arg, type_source, description, value, source))
    return tuple(out)


def _pairs(what: str) -> Callable[[str], tuple[str, str]]:
    def parse(item: str) -> tuple[str, str]:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"{what} must look like KEY=VALUE, not {item!r}")
        return key.strip(), value.strip()

    return parse


def _converter(base: str) -> Callable[[str], Any]:
    simple: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float}
    if base in simple:
        return simple[base]
    kinds = {"datetime": datetime, "date": date, "timedelta": timedelta}

    def convert(text: str) -> Any:
        from pydantic import TypeAdapter, ValidationError

        value: Any = text
        if base == "timedelta":
            with contextlib.suppress(ValueError):
                value = float(text)
        try:
            return TypeAdapter(kinds.get(base, str)).validate_python(value)
        except ValidationError as exc:
            expected = _TYPE_HINTS.get(base, "").strip().rstrip(".") or exc.errors()[0]["msg"]
            raise argparse.ArgumentTypeError(f"not a valid {base}: {text!r} (expected {expected})") from None

    convert.__name__ = base
    return convert


#: defaults the flows name by a constant, as the flows resolve them
_KNOWN_DEFAULTS = {"DEFAULT_STORE": "default"}

_TYPE_HINTS = {
    "datetime": " ISO 8601, e.g. 2026-05-01T00:00:00+00:00.",
    "date": " YYYY-MM-DD.",
    "timedelta": " Seconds or ISO 8601 duration, e.g. 600 or PT10M.",
}


def _add_param(parser: argparse.ArgumentParser, p: Param) -> None:
    option = ALIASES.get(p.name, "--" + p.name.replace("_", "-"))
    help_text = (p.description or p.name.replace("_", " ")) + _TYPE_HINTS.get(p.base, "")
    if p.default_source not in (None, "None", "[]", "{}"):
        help_text += f" (default: {_KNOWN_DEFAULTS.get(p.default_source, p.default_source)})"
    kwargs: dict[str, Any] = {"dest": _DEST + p.name, "default": argparse.SUPPRESS, "help": help_text}
    if p.base == "bool":
        parser.add_argument(option, action=argparse.BooleanOptionalAction, **kwargs)
    elif p.base.startswith("list["):
        parser.add_argument(option, action="append", metavar="VALUE", **{**kwargs, "help": help_text + " Repeat."})
    elif p.base.startswith("dict["):
        parser.add_argument(
            option,
            action="append",
            type=_pairs(option),
            metavar="KEY=VALUE",
            **{**kwargs, "help": help_text + " Repeat."},
        )
    elif p.base.startswith("Literal["):
        choices = ast.literal_eval(f"[{p.base[len('Literal[') : -1]}]")
        parser.add_argument(option, choices=choices, **kwargs)
    else:
        parser.add_argument(option, type=_converter(p.base), metavar=p.name.split("_")[-1].upper(), **kwargs)


def add_parser(subparsers: Any) -> None:
    """Add ``wishflow run``, with one option per parameter of each stage's flow."""
    run = subparsers.add_parser(
        "run",
        help="run a stage of the order cycle (or the whole cycle) once, in this process",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    sub = run.add_subparsers(dest="flow", required=True, metavar="STAGE")
    for stage, (module, function, what) in STAGES.items():
        parser = sub.add_parser(stage, help=what, description=f"{what.capitalize()} (flow {function}).")
        for p in flow_params(module, function):
            _add_param(parser, p)
        parser.add_argument(
            "--warehouse-url",
            help="SQLAlchemy URL of the warehouse (default: WISHFLOW_WAREHOUSE_URL or the SQLite file)",
        )
        parser.add_argument("--json", action="store_true", help="print the run's result as JSON instead of a table")
        parser.add_argument(
            "-v", "--verbose", action="store_true", help="show Prefect's and the libraries' log lines on the console"
        )
        parser.set_defaults(func=run_stage, stage=stage)


# -- running ---------------------------------------------------------------------------------------


#: seconds a run waits for the temporary Prefect server (Prefect's default, 20 s, is too short on a
#: busy 2-core machine: the run then fails with "Timed out while attempting to connect to ephemeral
#: Prefect API server"; the demo waits as long)
TEMPORARY_SERVER_STARTUP_SECONDS = "180"


def quiet_console(verbose: bool) -> None:
    """Before Prefect is imported: its console shows warnings only (unless ``verbose``).

    And library INFO lines (Great Expectations, httpx) stay off the console. A temporary server may take
    its time to start on a busy machine.
    """
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", TEMPORARY_SERVER_STARTUP_SECONDS)
    if verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    # the temporary server is a subprocess writing to this terminal: when it stops right after a
    # burst of task runs it can log an ERROR with a traceback about its own bookkeeping (flushing
    # task-run events), after a run that succeeded; the run's outcome is what this command reports
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    for name in ("great_expectations", "httpx", "alembic", "prefect.server", "uvicorn", "docket"):
        logging.getLogger(name).setLevel(logging.WARNING)


#: Log lines of the flows (their message templates) whose content the CLI prints itself, as a table,
#: when the run fails: on the console they would say the same reason twice. They stay in the run's logs.
REPORTED_BY_THE_CLI = ("%d requested orders not shipped",)


class _QuietConsole(logging.Filter):
    """The console without ``-v``: warnings and errors only, and no traceback of a failed run.

    The CLI prints the reason in one line; the traceback stays in the run's logs on the server. Nor
    any line whose reason the CLI prints itself (:data:`REPORTED_BY_THE_CLI`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        noise = record.getMessage().startswith(("Finished in state", "Encountered exception"))
        reported = isinstance(record.msg, str) and record.msg.startswith(REPORTED_BY_THE_CLI)
        return not (record.exc_info or noise or reported)


def _is_console(handler: logging.Handler) -> bool:
    """Prefect's console handler, or a stream handler writing to the terminal.

    Other handlers on the root logger (a log file, pytest's capture, a caller's own) keep every record.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    if isinstance(handler, PrefectConsoleHandler):
        return True
    terminal = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    return isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in terminal


def hide_console_noise() -> None:
    """Prefect's console handler sits on the root logger once its logging is set up.

    Setting it up here first; later set-ups are incremental and keep the handler and its filter. Only
    the console is quieted.
    """
    from prefect.logging.configuration import setup_logging

    if not logging.getLogger().handlers:
        setup_logging()
    for handler in logging.getLogger().handlers:
        if _is_console(handler) and not any(isinstance(f, _QuietConsole) for f in handler.filters):
            handler.addFilter(_QuietConsole())


def say_server_once() -> None:
    """Say, once per process, that a temporary Prefect server starts (when no server is configured)."""
    if getattr(say_server_once, "said", False):
        return
    say_server_once.said = True  # type: ignore[attr-defined]
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        print("(no PREFECT_API_URL: starting a temporary Prefect server for this run, a few seconds)", file=sys.stderr)


def is_configuration_error(exc: BaseException) -> bool:
    """Configuration mistakes are main()'s to report (exit 2); anything else is the run failing."""
    from wishflow.errors import config_error_from

    return config_error_from(exc) is not None


def warehouse_problem(url: str, store: str, *, store_must_exist: bool) -> str | None:
    """Why ``url``/``store`` cannot be used as they are, or None.

    A SQLite file that does not exist is never created here (a mistyped path must not become an empty
    warehouse).
    """
    from sqlalchemy import create_engine, select
    from sqlalchemy.engine import make_url

    from wishflow.warehouse.readiness import missing_sqlite_warehouse
    from wishflow.warehouse.schema import orders, pipeline_runs

    missing = missing_sqlite_warehouse(url)
    if missing is not None:
        return missing.line()
    parsed = make_url(url)
    if not store_must_exist:
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            known = conn.execute(select(orders.c.store).where(orders.c.store == store).limit(1)).first() or (
                conn.execute(select(pipeline_runs.c.store).where(pipeline_runs.c.store == store).limit(1)).first()
            )
    except Exception:  # noqa: BLE001 - an unmigrated warehouse is the flow's own configuration error
        return None
    finally:
        engine.dispose()
    if known is None:
        where = parsed.render_as_string(hide_password=True)
        return (
            f"store {store!r} is unknown in the warehouse at {where} (pull it first: wishflow run pull --store {store})"
        )
    return None


def flow_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, as the flow's keyword arguments."""
    out: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key.startswith(_DEST):
            name = key[len(_DEST) :]
            is_pairs = isinstance(value, list) and value and isinstance(value[0], tuple)
            out[name] = dict(value) if is_pairs else value
    return out


def call_flow(stage: str, kwargs: Mapping[str, Any], verbose: bool = False) -> Any:
    """Import and run the stage's flow in this process; its result, or its exception raised."""
    quiet_console(verbose)
    import importlib

    module, function, _ = STAGES[stage]
    flow = getattr(importlib.import_module(f"flows.{module}"), function)
    say_server_once()
    if not verbose:
        hide_console_noise()
    return flow(**kwargs)


def run_stage(args: argparse.Namespace) -> int:
    """Run the stage ``args`` names, in this process; the exit code (0 when it succeeded)."""
    if args.warehouse_url:
        os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
    kwargs = flow_kwargs(args)
    from wishflow.config import DEFAULT_STORE

    store = str(kwargs.get("store", DEFAULT_STORE))
    if not kwargs.get("warehouse_block"):
        from wishflow.config import warehouse_url_from_env

        problem = warehouse_problem(warehouse_url_from_env(), store, store_must_exist=args.stage not in CREATES_STORE)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    from wishflow_cli.preflight import check_pull_options, preflight

    if args.stage in ("pull", "cycle"):
        check_pull_options(kwargs)
    preflight(
        warehouse=not kwargs.get("warehouse_block"), wish=args.stage != "validate" and not kwargs.get("wish_block")
    )
    return execute(args.stage, kwargs, as_json=args.json, verbose=args.verbose)


def execute(stage: str, kwargs: Mapping[str, Any], *, as_json: bool = False, verbose: bool = False) -> int:
    """Run the stage and print its result (table or JSON); 0 on success, 1 on failure."""
    try:
        result = call_flow(stage, kwargs, verbose)
    except Exception as exc:
        if is_configuration_error(exc):
            raise
        return report_failure(stage, exc, as_json=as_json)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_result(stage, result)
    return 0


def report_failure(stage: str, exc: BaseException, *, as_json: bool) -> int:
    """Print why ``stage`` failed (one line, or JSON with ``as_json``); the exit code."""
    reasons: dict[str, str] = dict(getattr(exc, "reasons", {}) or {})
    outcome: dict[str, str] = dict(getattr(exc, "outcome", {}) or {})
    if as_json:
        print(json.dumps({"stage": stage, "ok": False, "error": str(exc), "not_shipped": reasons, "outcome": outcome}))
        return 1
    if outcome:
        print_table(["stage", "outcome"], [[k, v] for k, v in outcome.items()])
    if reasons:
        print_table(["order_id", "not shipped because"], [[k, v] for k, v in reasons.items()])
        print(f"{stage} failed: {len(reasons)} requested order(s) not shipped", file=sys.stderr)
    else:
        print(f"{stage} failed: {exc}", file=sys.stderr)
    return 1


# -- output ----------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A table cell; times in UTC, labelled."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        from datetime import UTC

        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """Print ``rows`` under ``header`` as aligned columns."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


_HIDDEN = {"run_id", "markdown", "update", "results", "table", "new_order_ids", "changes"}


def print_result(stage: str, result: Any) -> None:
    """Print a stage's result: its outcome table, or its non-empty figures."""
    if not isinstance(result, dict):
        print(result)
        return
    if "outcome" in result:
        print_table(["stage", "outcome"], [[k, v] for k, v in result["outcome"].items()])
        return
    rows = [[k, v] for k, v in result.items() if k not in _HIDDEN and v not in ({}, [], None)]
    print_table(["", stage], rows)
    if stage == "ship" and result.get("dry_run"):
        explain_dry_run(result.get("plan") or {}, False)


def shipping_console() -> None:
    """For ``wishflow ship run``: the same quiet console as ``wishflow run ship``."""
    quiet_console(verbose=False)
    hide_console_noise()
    say_server_once()


def ship_failed(exc: BaseException) -> int:
    """``wishflow ship run`` failed: configuration errors go to main(); otherwise say why, exit 1."""
    if is_configuration_error(exc):
        raise exc
    return report_failure("ship", exc, as_json=False)


def explain_dry_run(plan: Mapping[str, Any], orders_given: bool) -> None:
    """Why a dry run plans fewer orders than asked (or none at all)."""
    for oid, why in (plan.get("not_ready") or {}).items():
        print(f"not planned {oid}: {why}")
    if not plan.get("orders") and not orders_given:
        print(
            "no order is ready to ship (validated, APPROVED, not shipped or in flight): after a pull run "
            "`wishflow run validate`; held-back orders: `wishflow orders --quarantined`"
        )
