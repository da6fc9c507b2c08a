"""The ``wishflow`` command parses its arguments without importing Prefect: ``--help`` stays fast,
and settings a command puts in the environment before its first flow run (the temporary server's
start-up timeout, quiet logging) take effect, because Prefect reads its settings once, at import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_building_the_parser_imports_no_prefect() -> None:
    code = (
        "import sys\n"
        "from wishflow_cli.main import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_the_cli_run_settings_reach_prefect() -> None:
    code = (
        "import os\n"
        "from wishflow_cli.main import build_parser\n"
        "from wishflow_cli.run_cmd import quiet_console\n"
        "build_parser()\n"
        "quiet_console(False)\n"
        "from prefect.settings import get_current_settings\n"
        "print(get_current_settings().server.ephemeral.startup_timeout_seconds)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "180"
