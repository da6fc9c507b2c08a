"""Read-only commands given an unknown store or a missing SQLite warehouse: one ``error:`` line and
exit 2, never an empty answer, never a new empty file (issue 19).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.validation.conftest import good_order, insert_orders
from wishflow_cli.main import main

READ_ONLY = (["orders"], ["orders", "--quarantined"], ["orders", "--at-risk"], ["report"])


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: "-".join(a))
def test_a_missing_sqlite_file_is_an_error_and_stays_missing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo" / "warehuose.db"
    extra = ["--output", str(tmp_path / "r.html")] if argv == ["report"] else []
    assert main([*argv, "--warehouse-url", f"sqlite:///{missing}", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no warehouse at")
    assert str(missing) in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not missing.exists()
    assert not missing.parent.exists()
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: "-".join(a))
def test_an_unknown_store_is_an_error_not_an_empty_list(
    argv: list[str], warehouse_url: str, engine: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    insert_orders(engine, "shop-a", [good_order("a-1")])
    extra = ["--output", str(tmp_path / "r.html")] if argv == ["report"] else []
    assert main([*argv, "--store", "shop-a", "--warehouse-url", warehouse_url, *extra]) == 0
    capsys.readouterr()
    assert main([*argv, "--store", "shop-typo", "--warehouse-url", warehouse_url, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: store 'shop-typo' is unknown")
    assert captured.out == ""
