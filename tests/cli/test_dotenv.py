"""Every ``wishflow`` command reads ``.env`` from the working directory; the environment wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wishflow_cli.main import load_dotenv_file


def test_dotenv_fills_only_what_the_environment_leaves_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "WISHFLOW_DOTENV_A=from-file\nWISHFLOW_DOTENV_B=from-file\nWISHFLOW_DOTENV_EMPTY=\n# a comment\n"
    )
    monkeypatch.setenv("WISHFLOW_DOTENV_B", "from-env")
    monkeypatch.delenv("WISHFLOW_DOTENV_A", raising=False)
    monkeypatch.delenv("WISHFLOW_DOTENV_EMPTY", raising=False)
    try:
        assert load_dotenv_file() == ["WISHFLOW_DOTENV_A"]
        assert os.environ["WISHFLOW_DOTENV_A"] == "from-file"
        assert os.environ["WISHFLOW_DOTENV_B"] == "from-env"
        assert "WISHFLOW_DOTENV_EMPTY" not in os.environ
    finally:
        os.environ.pop("WISHFLOW_DOTENV_A", None)


def test_no_dotenv_file_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_dotenv_file() == []


def test_the_command_uses_the_warehouse_named_in_dotenv(tmp_path: Path) -> None:
    target = tmp_path / "from-dotenv.db"
    (tmp_path / ".env").write_text(f"WISHFLOW_WAREHOUSE_URL=sqlite:///{target}\n")
    env = {k: v for k, v in os.environ.items() if k != "WISHFLOW_WAREHOUSE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "wishflow_cli.main", "db", "upgrade"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    assert target.exists()
    assert not (tmp_path / ".wishflow" / "warehouse.db").exists()
