"""A ship run asked for an order it cannot ship says why once: the CLI's table, not also Prefect's
ERROR log line of the same reason above it; the exit status stays 1 (issue 19).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tests.golive.conftest import run_cli


def test_the_reason_is_printed_once(sandbox: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    from wishflow.warehouse.engine import upgrade

    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    env = {
        **base_env,
        "WISHFLOW_PROFILE": "sandbox",
        "WISH_API_BASE_URL": sandbox.api_url,
        "WISH_ACCESS_TOKEN": sandbox.access_token,
        "WISHFLOW_WAREHOUSE_URL": url,
    }
    assert run_cli(env, tmp_path, "run", "pull", "--safety-lag", "0").returncode == 0
    result = run_cli(env, tmp_path, "run", "ship", "--order", "nosuch", "--follow-seconds", "0")
    assert result.returncode == 1, result.output
    assert result.output.count("not in the warehouse") == 1, result.output
    assert "nosuch" in result.stdout, result.output
    assert "ERROR" not in result.output, result.output
    # -v shows the run's own log line again
    verbose = run_cli(env, tmp_path, "run", "ship", "--order", "nosuch", "--follow-seconds", "0", "-v")
    assert verbose.returncode == 1, verbose.output
    assert "requested orders not shipped" in verbose.output, verbose.output


def test_the_quiet_console_keeps_other_errors() -> None:
    from wishflow_cli.run_cmd import _QuietConsole

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, msg, args, None)

    quiet = _QuietConsole()
    assert quiet.filter(record("%d requested orders not shipped: %s", 1, {"x": "why"})) is False
    assert quiet.filter(record("%d tracking conflicts (not overwritten): %s", 1, "x")) is True
