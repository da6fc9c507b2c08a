"""Done when (issue 15): every configuration mistake is one ``error:`` line with what to do, exit
status 2, no traceback, and no retry (the requests that reach the sandbox are counted).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.golive.conftest import run_cli, sandbox_requests, sandbox_writes


@dataclass
class Case:
    args: tuple[str, ...]
    expect: tuple[str, ...]  # every one appears in the error line
    env: Callable[[Any, Path], dict[str, str]]
    requests: int = 0  # requests that may reach the sandbox (one attempt, never a retry)


def _migrated(tmp: Path) -> str:
    from wishflow.warehouse.engine import upgrade

    url = f"sqlite:///{tmp / 'migrated.db'}"
    upgrade(url)
    return url


def _unmigrated(tmp: Path) -> str:
    import sqlalchemy as sa

    path = tmp / "empty.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()
    return f"sqlite:///{path}"


def _live(sandbox: Any, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "WISH_API_BASE_URL": sandbox.api_url,
        "WISH_ACCESS_TOKEN": sandbox.access_token,
        "WISHFLOW_WAREHOUSE_URL": _migrated(tmp),
        **extra,
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _policy(tmp: Path, text: str) -> str:
    path = tmp / "policy.yaml"
    path.write_text("default: {carrier: YunExpress, service: standard, origin_country: CN}\n" + text)
    return str(path)


CLOSED = _closed_port()

CASES = {
    "unmigrated warehouse (flow command)": Case(
        ("run", "pull"),
        ("not migrated", "wishflow db upgrade"),
        lambda sb, tmp: {**_live(sb, tmp), "WISHFLOW_WAREHOUSE_URL": _unmigrated(tmp)},
    ),
    "unmigrated warehouse (read command)": Case(
        ("ship", "status"),
        ("not migrated", "wishflow db upgrade"),
        lambda sb, tmp: {**_live(sb, tmp), "WISHFLOW_WAREHOUSE_URL": _unmigrated(tmp)},
    ),
    "warehouse file missing": Case(
        ("run", "validate"),
        ("does not exist", "wishflow db upgrade"),
        lambda sb, tmp: {**_live(sb, tmp), "WISHFLOW_WAREHOUSE_URL": f"sqlite:///{tmp / 'nowhere.db'}"},
    ),
    "unreachable warehouse server": Case(
        ("run", "pull"),
        (f"cannot reach the PostgreSQL server at 127.0.0.1:{CLOSED}", "WISHFLOW_WAREHOUSE_URL"),
        lambda sb, tmp: {**_live(sb, tmp), "WISHFLOW_WAREHOUSE_URL": f"postgresql+psycopg2://u@127.0.0.1:{CLOSED}/wf"},
    ),
    "malformed warehouse URL": Case(
        ("run", "pull"),
        ("malformed", "WISHFLOW_WAREHOUSE_URL"),
        lambda sb, tmp: {**_live(sb, tmp), "WISHFLOW_WAREHOUSE_URL": "postgres//nope"},
    ),
    "unknown warehouse dialect": Case(
        ("ship", "status"),
        ("malformed", "WISHFLOW_WAREHOUSE_URL"),
        lambda sb, tmp: {**_live(sb, tmp), "WISHFLOW_WAREHOUSE_URL": "postgres://u@127.0.0.1/x"},
    ),
    "rejected token": Case(
        ("run", "pull"),
        ("Wish code 1006", "wishflow auth login", "WISH_ACCESS_TOKEN"),
        lambda sb, tmp: _live(sb, tmp, WISH_ACCESS_TOKEN="not-a-token"),
        requests=1,
    ),
    "unreachable API root": Case(
        ("run", "pull"),
        (f"127.0.0.1:{CLOSED}", "WISH_API_BASE_URL"),
        lambda sb, tmp: _live(sb, tmp, WISH_API_BASE_URL=f"http://127.0.0.1:{CLOSED}/api/v3"),
    ),
    "live root without a token": Case(
        ("run", "pull"),
        ("WISH_ACCESS_TOKEN", "wishflow auth login"),
        lambda sb, tmp: {k: v for k, v in _live(sb, tmp).items() if k != "WISH_ACCESS_TOKEN"},
    ),
    "unknown profile": Case(
        ("run", "pull"),
        ("WISHFLOW_PROFILE",),
        lambda sb, tmp: {
            k: v for k, v in _live(sb, tmp, WISHFLOW_PROFILE="staging").items() if k != "WISH_ACCESS_TOKEN"
        },
    ),
    "invalid date": Case(("run", "pull", "--since", "last tuesday"), ("--since", "ISO 8601"), _live),
    "dates in the wrong order": Case(
        ("run", "pull", "--since", "2026-03-01", "--until", "2026-02-01"), ("--since", "--until"), _live
    ),
    "invalid option": Case(("run", "pull", "--page-size", "0"), ("--page-size", "1 to 500"), _live),
    "unknown option": Case(("ship", "run", "--carier", "USPS"), ("--carier",), _live),
    "live account without a label source": Case(
        ("ship", "run"), ("no label source", "--tracking-file", "label_provider"), _live
    ),
    "sandbox labels for a live account": Case(
        ("ship", "run"),
        ("label_provider 'sandbox'", "WISHFLOW_PROFILE=sandbox"),
        lambda sb, tmp: _live(sb, tmp, WISHFLOW_SHIPPING_POLICY=_policy(tmp, "label_provider: sandbox\n")),
    ),
    "label table missing": Case(
        ("ship", "run"),
        ("label table", "label_table_path"),
        lambda sb, tmp: _live(
            sb, tmp, WISHFLOW_SHIPPING_POLICY=_policy(tmp, f"label_provider: table\nlabel_table_path: {tmp}/no.csv\n")
        ),
    ),
    "tracking file missing": Case(("ship", "run", "--tracking-file", "nope.csv"), ("tracking file", "order_id"), _live),
    "tracking file without its header": Case(
        ("ship", "run", "--tracking-file", "t.csv"),
        ("lacks the column", "carrier"),
        lambda sb, tmp: (tmp / "t.csv").write_text("order_id,number\nx,1\n") and _live(sb, tmp),
    ),
    # a block a run names that the Prefect server does not hold: the block, its type and how to create it
    "missing Wish credentials block": Case(
        ("run", "pull", "--wish-block", "nosuch"),
        ("Wish Credentials block 'nosuch' does not exist", "prefect block register -m blocks", "--wish-block"),
        _live,
    ),
    "missing Wish credentials block (auth status)": Case(
        ("auth", "status", "--block", "nosuch"), ("Wish Credentials block 'nosuch' does not exist",), _live
    ),
    "missing warehouse block": Case(
        ("run", "validate", "--warehouse-block", "nosuchwh"),
        ("Wishflow Warehouse block 'nosuchwh' does not exist", "WISHFLOW_WAREHOUSE_URL"),
        _live,
    ),
    "missing shipping policy block": Case(
        ("ship", "run", "--policy-block", "nosuchpolicy", "--follow-seconds", "0"),
        ("Wishflow Shipping Policy block 'nosuchpolicy' does not exist", "WISHFLOW_SHIPPING_POLICY"),
        _live,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_configuration_error_is_one_line(name: str, sandbox: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    case = CASES[name]
    env = {**base_env, **case.env(sandbox, tmp_path)}
    requests, writes = sandbox_requests(sandbox), sandbox_writes(sandbox)
    result = run_cli(env, tmp_path, *case.args)
    assert result.returncode == 2, result.output
    errors = result.error_lines()
    assert len(errors) == 1, result.output
    for text in case.expect:
        assert text in errors[0], errors[0]
    assert "Traceback" not in result.output, result.output
    assert "Retry" not in result.output, result.output
    assert sandbox_requests(sandbox) - requests == case.requests
    assert sandbox_writes(sandbox) == writes


def test_missing_postgres_database(sandbox: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    admin_url = os.environ.get("WISHFLOW_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PostgreSQL tests skipped: set WISHFLOW_TEST_POSTGRES_URL to run them")
    import sqlalchemy as sa

    url = sa.engine.make_url(admin_url).set(database="wishflow_no_such_db").render_as_string(hide_password=False)
    env = {**base_env, **_live(sandbox, tmp_path), "WISHFLOW_WAREHOUSE_URL": url}
    for args in (("run", "pull"), ("ship", "status")):
        result = run_cli(env, tmp_path, *args)
        assert result.returncode == 2, result.output
        assert result.error_lines() == [
            'error: PostgreSQL database "wishflow_no_such_db" does not exist — create it '
            "(`createdb wishflow_no_such_db`) and run `wishflow db upgrade`, or fix WISHFLOW_WAREHOUSE_URL"
        ], result.output
        assert "Traceback" not in result.output


def test_debug_shows_the_traceback(sandbox: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    env = {**base_env, **_live(sandbox, tmp_path), "WISHFLOW_WAREHOUSE_URL": _unmigrated(tmp_path)}
    result = run_cli(env, tmp_path, "--debug", "ship", "status")
    assert result.returncode != 0
    assert "Traceback" in result.output
    result = run_cli({**env, "WISHFLOW_DEBUG": "1"}, tmp_path, "ship", "status")
    assert result.returncode != 0
    assert "Traceback" in result.output


class _State:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def result(self, raise_on_failure: bool = True) -> BaseException:  # noqa: ARG002 (prefect State.result's signature)
        return self.exc


def test_tasks_never_retry_a_configuration_error(tmp_path: Path) -> None:
    """The retry conditions on the Prefect tasks (tasks/common.py) refuse configuration errors."""
    import sqlite3

    import sqlalchemy as sa
    from sqlalchemy.exc import OperationalError

    from tasks.common import retry_transient, retry_unless_config_error_or_bug
    from wishflow.api.errors import WishAuthError, WishRetryableError, WishUnreachable
    from wishflow.errors import ConfigError
    from wishflow.warehouse.engine import make_engine
    from wishflow.warehouse.schema import pipeline_runs

    engine = make_engine(_unmigrated(tmp_path))  # what a task's engine raises on an unmigrated warehouse
    try:
        with pytest.raises(ConfigError) as raised, engine.connect() as conn:
            conn.execute(sa.select(pipeline_runs))
    finally:
        engine.dispose()
    unmigrated = raised.value
    assert "not migrated" in unmigrated.line()
    lost = OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    for exc in (unmigrated, ConfigError("x"), WishAuthError("rejected"), WishUnreachable("down")):
        assert retry_transient(None, None, _State(exc)) is False
        assert retry_unless_config_error_or_bug(None, None, _State(exc)) is False
    wrapped = RuntimeError("flow failed")
    wrapped.__cause__ = unmigrated
    assert retry_transient(None, None, _State(wrapped)) is False
    assert retry_transient(None, None, _State(WishRetryableError("502"))) is True
    assert retry_transient(None, None, _State(lost)) is True
    for bug in (TypeError("bug"), KeyError("bug"), ValueError("bug"), AttributeError("bug")):
        assert retry_transient(None, None, _State(bug)) is False
        assert retry_unless_config_error_or_bug(None, None, _State(bug)) is False
    assert retry_unless_config_error_or_bug(None, None, _State(ConnectionError("smtp reset"))) is True


def test_worker_without_the_project_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployments' pull step (prefect.yaml) names WISHFLOW_PROJECT_DIR and the fix, instead of a
    bare FileNotFoundError from changing into an empty directory name.
    """
    from wishflow.errors import ConfigError
    from wishflow_cli.worker_steps import set_project_directory

    for value in ("", str(tmp_path / "gone")):
        with pytest.raises(ConfigError) as info:
            set_project_directory(value)
        assert "WISHFLOW_PROJECT_DIR" in info.value.line()
        assert "prefect worker start" in info.value.line()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checkout").mkdir()
    assert set_project_directory(str(tmp_path / "checkout")) == {"directory": str(tmp_path / "checkout")}
    assert Path.cwd() == tmp_path / "checkout"
