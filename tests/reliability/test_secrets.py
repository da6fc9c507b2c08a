"""Secrets and exposure (invariant 6): access and refresh tokens, the client secret and a database
password never appear in logs (caplog, stdout/stderr, Prefect's API), artifacts, flow and task run
states, exception messages, ``repr()`` or any text column of the warehouse, over a full cycle and two
failing runs (a rejected token, an unreachable warehouse). All SQL in the code is parameterised, and
every server the project starts binds to loopback by default.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import stat
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from harness import ROOT, point_flows_at, record_figure, start_sandbox

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|TRUNCATE|CREATE|DROP|ALTER|COPY|SET|ANALYZE)\b")
#: Interpolations allowed in SQL f-strings: identifiers of our own tables/views, SQL fragments built
#: from constants, and integers forced through ``int()``. Anything else must be a bound parameter.
ALLOWED_SQL_INTERPOLATIONS = {
    "hours",  # validation_views: a dialect's SQL expression for hours left (constant text)
    "OPEN_ORDER_PREDICATE",
    "AT_RISK_HOURS_DEFAULT",
    '_agg(dialect, "f.expectation")',
    "name",  # validation_views: DROP VIEW of our own view names
    "stage.name",  # bulk: COPY into our staging table
    "table.name",  # bulk: COPY into one of our own tables (a Table of our metadata)
    "_create_stage_sql(conn, stage)",  # bulk: our staging table's DDL, compiled by SQLAlchemy from our metadata
    "checked_table",  # statistics: ANALYZE of a table checked against the warehouse metadata
    "bound_select",  # bulk: COPY out of a SELECT whose values the driver itself quoted (mogrify)
    "relation",  # a documented view's name or its analytics view, checked by actions.queues.checked_view()
    "ACTION_SELECT_LIST",  # actions.queues: the action list's own column names
    "ACTION_WHAT_TO_DO_SQL",  # analytics: a CASE over module constants (a ticket's text left out)
    "', '.join(columns)",  # column names of our own tables
    '", ".join(columns)',  # statistics: PLANNER_COLUMNS, a constant checked against the table
    "_ORDER_COLUMNS",
    "_limit(limit)",  # " LIMIT {int(limit)}"
    "int(limit)",
    # analytics views (issue 22): our schema name, frozen view and column names, a constant length
    "SCHEMA",
    "frozen_columns",
    "view.source",
    "view_name",
    "_select(view)",
    "qualified_name(dialect, v.name)",
    "int(POSTCODE_PREFIX_LENGTH)",
    # grant-analyst: the role and database names checked against ROLE_NAME and quoted by the dialect
    "quoted_role",
    "quoted_db",
    "login_clause",  # "LOGIN" or "NOLOGIN"
}
CODE_DIRS = ("wishflow", "tasks", "flows", "blocks", "wishflow_cli")

#: ``constant_sql(template, **fragments)`` (wishflow/warehouse/validation_views.py) assembles SQL
#: from module constants. Every call is checked here: a literal template, and each fragment built
#: only from literals, UPPER_CASE module constants, ``int(...)``, ``"sep".join(<constant>)``, nested
#: ``constant_sql`` calls, and the dialect helpers below, which take the dialect name (a branch, not
#: formatted into SQL) and literal column names and return constant SQL expressions.
CONSTANT_SQL_HELPER = "constant_sql"
SQL_FRAGMENT_BUILDERS = {"hours_left_sql", "hours_since_sql", "_agg", "_severity", "iso_week_sql"}
_MODULE_CONSTANT = re.compile(r"_?[A-Z][A-Z0-9_]*")


@pytest.fixture
def secret_database(pg_admin_url: str):  # type: ignore[no-untyped-def]
    """A PostgreSQL role with a password and a migrated database it owns: (url, password)."""
    from wishflow.warehouse.engine import upgrade

    suffix = uuid.uuid4().hex[:10]
    role, password, database = f"wf_secret_{suffix}", f"Pw-{uuid.uuid4().hex}", f"wf_secret_db_{suffix}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")  # test setup, constant
        conn.exec_driver_sql(f'CREATE DATABASE "{database}" OWNER "{role}"')
    url = (
        sa.engine.make_url(pg_admin_url)
        .set(username=role, password=password, database=database)
        .render_as_string(hide_password=False)
    )
    upgrade(url)
    yield url, password
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    admin.dispose()


def _prefect_records() -> list[str]:
    """Everything the Prefect API holds: logs, artifacts, flow and task runs (parameters, states)."""
    from prefect.client.orchestration import get_client

    texts: list[str] = []
    with get_client(sync_client=True) as client:
        for read, show in (
            (client.read_logs, lambda log: f"{log.name} {log.message}"),
            (client.read_artifacts, lambda a: f"{a.key} {a.description} {a.data}"),
            (client.read_flow_runs, lambda r: f"{r.name} {r.parameters} {r.state.message if r.state else ''}"),
            (client.read_task_runs, lambda r: f"{r.name} {r.task_inputs} {r.state.message if r.state else ''}"),
        ):
            offset = 0
            while True:
                page = read(limit=200, offset=offset)
                texts += [show(item) for item in page]
                if len(page) < 200:
                    break
                offset += 200
    return texts


def _warehouse_texts(url: str) -> list[str]:
    from wishflow.warehouse.schema import metadata

    engine = sa.create_engine(url)
    texts: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).all():
                texts.append(" ".join(str(v) for v in row if isinstance(v, (str, dict, list))))
    engine.dispose()
    return texts


@pytest.mark.postgres
def test_secrets_never_appear_in_logs_artifacts_exceptions_warehouse_or_repr(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    secret_database: tuple[str, str],
    prefect_harness,
) -> None:
    from blocks.wish import build_wish_client, resolve_wish_settings
    from flows.order_cycle import order_cycle
    from flows.pull_orders import pull_orders
    from wishflow.api.factory import env_token_store
    from wishflow.warehouse.engine import make_engine

    url, password = secret_database
    caplog.set_level(logging.DEBUG)
    running = start_sandbox(41, 40)
    captured: list[str] = []
    try:
        point_flows_at(monkeypatch, running, url)
        secrets = {
            "access token": running.access_token,
            "refresh token": running.refresh_token,
            "client secret": running.client_secret,
            "database password": password,
        }
        state = order_cycle(return_state=True)
        assert state.is_completed(), state.message
        assert _warehouse_texts(url), "the cycle wrote nothing"

        # repr of everything that holds a secret
        settings = resolve_wish_settings()
        with build_wish_client() as client:
            captured += [repr(settings), str(settings), repr(client), repr(client.__dict__)]
            # a refresh from environment credentials writes the token file: owner-only, and the new
            # token is a secret like the others
            refreshed = client.refresh_access_token().access_token.get_secret_value()
        secrets["refreshed token"] = refreshed
        token_file = env_token_store().path
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600, token_file
        assert refreshed in token_file.read_text()
        engine = make_engine(url)
        captured += [repr(engine), str(engine.url), repr(engine.url)]
        engine.dispose()

        # a failing dependency: the token is rejected
        bogus = f"tok{uuid.uuid4().hex}"
        secrets["rejected token"] = bogus
        monkeypatch.setenv("WISH_ACCESS_TOKEN", bogus)
        failed = pull_orders(return_state=True)
        assert failed.is_failed()
        exc = failed.result(raise_on_failure=False)
        captured += [str(exc), repr(exc), str(failed.message)]
        # a failing dependency: the warehouse is unreachable (its URL carries the password)
        monkeypatch.setenv("WISH_ACCESS_TOKEN", running.access_token)
        dead = sa.engine.make_url(url).set(port=1).render_as_string(hide_password=False)
        monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", dead)
        failed = pull_orders(return_state=True)
        assert failed.is_failed()
        exc = failed.result(raise_on_failure=False)
        captured += [str(exc), repr(exc), str(failed.message)]
    finally:
        running.stop()

    out, err = capfd.readouterr()
    captured += [caplog.text, out, err, *(r.getMessage() for r in caplog.records)]
    captured += [str(getattr(r, "exc_text", "") or "") for r in caplog.records]
    captured += _prefect_records()
    captured += _warehouse_texts(url)
    leaks = {name: [t[:200] for t in captured if value in t][:3] for name, value in secrets.items()}
    assert not any(leaks.values()), leaks
    record_figure("secrets", secrets=sorted(secrets), texts_scanned=len(captured), leaks=0)


def _func_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _built_from_constants(node: ast.expr, *, builder_argument: bool = False) -> bool:
    """Whether ``node`` is SQL text assembled from constants only (see :data:`CONSTANT_SQL_HELPER`)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | int) and not isinstance(node.value, bool)
    if isinstance(node, ast.Name):
        return bool(_MODULE_CONSTANT.fullmatch(node.id)) or (builder_argument and node.id == "dialect")
    if isinstance(node, ast.Attribute):
        return bool(_MODULE_CONSTANT.fullmatch(node.attr))
    if isinstance(node, ast.Call) and not node.keywords:
        name = _func_name(node.func)
        if name == "int" and len(node.args) == 1:
            return True  # forced to an integer
        if (
            name == "join"
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
            and len(node.args) == 1
        ):
            return _built_from_constants(node.args[0])
        if name in SQL_FRAGMENT_BUILDERS:
            return all(_built_from_constants(a, builder_argument=True) for a in node.args)
    if isinstance(node, ast.Call) and _func_name(node.func) == CONSTANT_SQL_HELPER:
        return not _constant_sql_problems(node)
    return False


def _constant_sql_problems(call: ast.Call) -> list[ast.expr | str]:
    """What makes a ``constant_sql`` call not provably built from constants (empty when it is)."""
    problems: list[ast.expr | str] = []
    template = call.args[0] if call.args else None
    if not (isinstance(template, ast.Constant) and isinstance(template.value, str)) or len(call.args) != 1:
        problems.append("template must be one string literal")
    for keyword in call.keywords:
        if keyword.arg is None:
            problems.append("no **fragments: name each one")
        elif not _built_from_constants(keyword.value):
            problems.append(keyword.value)
    return problems


def _sql_fstrings() -> list[tuple[str, int, str]]:
    found = []
    for base in CODE_DIRS:
        for path in sorted((ROOT / base).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Call) and _func_name(node.func) == CONSTANT_SQL_HELPER:
                    for problem in _constant_sql_problems(node):
                        segment = problem if isinstance(problem, str) else ast.get_source_segment(source, problem)
                        found.append((str(path.relative_to(ROOT)), node.lineno, f"{CONSTANT_SQL_HELPER}: {segment}"))
                elif isinstance(node, ast.ImportFrom) and any(
                    a.name == CONSTANT_SQL_HELPER and a.asname for a in node.names
                ):
                    found.append((str(path.relative_to(ROOT)), node.lineno, f"{CONSTANT_SQL_HELPER} imported as alias"))
                elif isinstance(node, ast.JoinedStr):
                    constant = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                    if SQL_WORDS.search(constant):
                        for v in node.values:
                            if isinstance(v, ast.FormattedValue):
                                found.append(
                                    (
                                        str(path.relative_to(ROOT)),
                                        node.lineno,
                                        ast.get_source_segment(source, v.value) or "",
                                    )
                                )
                elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
                    if (
                        isinstance(node.left, ast.Constant)
                        and isinstance(node.left.value, str)
                        and SQL_WORDS.search(node.left.value)
                    ):
                        found.append((str(path.relative_to(ROOT)), node.lineno, "% formatting"))
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
                    target = node.func.value
                    if (
                        isinstance(target, ast.Constant)
                        and isinstance(target.value, str)
                        and SQL_WORDS.search(target.value)
                    ):
                        found.append((str(path.relative_to(ROOT)), node.lineno, ".format()"))
    return found


def test_all_sql_is_parameterised() -> None:
    """No value is formatted into SQL: only our own identifiers and constant fragments."""
    offenders = [
        f"{path}:{line}: {expr}" for path, line, expr in _sql_fstrings() if expr not in ALLOWED_SQL_INTERPOLATIONS
    ]
    assert not offenders, "format values as bound parameters, not into SQL text:\n" + "\n".join(offenders)


def test_servers_bind_to_loopback_by_default() -> None:
    import argparse

    from wishflow.sandbox import serve_in_thread
    from wishflow_cli import sandbox_cmd

    assert inspect.signature(serve_in_thread).parameters["host"].default == "127.0.0.1"
    parser = argparse.ArgumentParser()
    sandbox_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sandbox", "serve"])
    assert args.host == "127.0.0.1"
    offenders = []
    for base in CODE_DIRS:
        for path in (ROOT / base).rglob("*.py"):
            text = path.read_text()
            if "0.0.0.0" in text or re.search(r"""host\s*=\s*["']["']""", text):
                offenders.append(str(path.relative_to(ROOT)))
            for match in re.finditer(r"""["']--host["'][^)]*default\s*=\s*([^,)]+)""", text):
                if match.group(1).strip() not in ('"127.0.0.1"', "'127.0.0.1'", '"localhost"'):
                    offenders.append(f"{path.relative_to(ROOT)}: --host default {match.group(1)}")
    assert not offenders, offenders


@pytest.mark.postgres
def test_webhook_secrets_and_the_security_commands_never_leak(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    secret_database: tuple[str, str],
    pg_admin_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
    prefect_harness,
) -> None:
    """Issue 22's secrets: each store's webhook secret (subscribe, serve, deliveries accepted and
    rejected, the WebhookSecret block, the Prefect events) and the analyst's password
    (``db grant-analyst``), through every new command's output, the logs and the warehouse.
    """
    import stat

    import httpx

    from blocks.webhooks import WebhookSecret, load_webhook_secrets
    from wishflow.retention import RetentionPolicy, apply_retention
    from wishflow.warehouse.engine import make_engine
    from wishflow.warehouse.pseudonyms import refresh_customer_keys
    from wishflow.webhooks import RateLimiter, load_secrets_file, serve_in_thread
    from wishflow_cli.main import main
    from wishflow_cli.webhooks_cmd import emit_delivery_event

    url, db_password = secret_database
    caplog.set_level(logging.DEBUG)
    # httpx logs this test's own requests, whose URLs carry the secret on purpose: keep them quiet
    caplog.set_level(logging.WARNING, logger="httpx")
    running = start_sandbox(43, 5)
    captured: list[str] = []
    analyst = f"wf_analyst_{uuid.uuid4().hex[:8]}"
    analyst_password = f"An-{uuid.uuid4().hex}"
    try:
        secrets_file = tmp_path / "webhook-secrets.json"
        common = ["--api-url", running.api_url, "--access-token", running.access_token, "--topics", "ORDER_RELEASE"]
        assert main(["webhooks", "subscribe", "--endpoint", "http://127.0.0.1:9/wish/webhooks/s1",
                     "--secrets-file", str(secrets_file), *common]) == 0  # fmt: skip
        assert main(["webhooks", "subscribe", "--endpoint", "http://127.0.0.1:9/wish/webhooks/s2",
                     "--secret-block", "webhook-s2", *common]) == 0  # fmt: skip
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        secrets = {**load_secrets_file(secrets_file), **load_webhook_secrets("webhook-{store}", ["s2"])}
        block = WebhookSecret.load("webhook-s2")
        captured += [repr(block), str(block), repr(secrets), str(secrets)]

        receiver = serve_in_thread(lambda d: emit_delivery_event(d, None, None), secrets, limiter=RateLimiter(burst=2))
        try:
            good = receiver.endpoint("s1", secrets["s1"].get_secret_value())
            headers = {"Wish-Topic": "ORDER_RELEASE", "Wish-API-Version": "V3"}
            answers = [
                httpx.post(good, content=b'{"data": {"order_id": "o1"}}', headers=headers),
                httpx.post(good[:-3] + "abc", content=b"{}", headers=headers),
                httpx.post(receiver.endpoint("nope", secrets["s1"].get_secret_value()), content=b"{}", headers=headers),
                httpx.post(good, content=b"x" * 2_000_000, headers=headers),
                *(httpx.post(good, content=b"{}", headers=headers) for _ in range(3)),
                httpx.post(good, content=b"not json", headers=headers),
            ]
            captured += [f"{r.status_code} {r.text}" for r in answers]
            assert [r.status_code for r in answers][:4] == [200, 401, 401, 413]
        finally:
            receiver.stop()

        monkeypatch.setenv("WF_ANALYST_PW", analyst_password)
        grant = ["db", "grant-analyst", analyst, "--login", "--password-env", "WF_ANALYST_PW", "--warehouse-url"]
        assert main([*grant, url]) == 2  # the warehouse's own user may not create roles: one error line
        admin_url = sa.engine.make_url(pg_admin_url).set(database=sa.engine.make_url(url).database)
        assert main([*grant, admin_url.render_as_string(hide_password=False)]) == 0
        engine = make_engine(url)
        refresh_customer_keys(engine)
        apply_retention(engine, "default", datetime.now(UTC), RetentionPolicy(personal_data_days=1), "leak-run")
        engine.dispose()
        assert main(["db", "grant-analyst", "Bad Name", "--warehouse-url", url]) == 2
    finally:
        running.stop()
        admin = sa.create_engine(
            sa.engine.make_url(pg_admin_url).set(database=sa.engine.make_url(url).database),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(r)s", {"r": analyst}).first():
                conn.exec_driver_sql(f'DROP OWNED BY "{analyst}"')
                conn.exec_driver_sql(f'DROP ROLE "{analyst}"')
        admin.dispose()

    out, err = capfd.readouterr()
    # httpx logs this test's own requests, whose URLs carry the secret on purpose
    captured += [out, err, *(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))]
    captured += _prefect_records()
    captured += _warehouse_texts(url)
    values = {f"webhook secret {k}": v.get_secret_value() for k, v in secrets.items()}
    values |= {"analyst password": analyst_password, "database password": db_password}
    leaks = {name: [t[:200] for t in captured if value in t][:3] for name, value in values.items()}
    assert not any(leaks.values()), leaks
    record_figure("secrets-issue-22", secrets=sorted(values), texts_scanned=len(captured), leaks=0)
