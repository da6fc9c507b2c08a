"""The architecture's one-way imports (DESIGN.md §1), checked by reading the source."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"^\s*(?:from|import)\s+([a-zA-Z_][\w.]*)", re.M)


def imports_of(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        found[str(path.relative_to(ROOT))] = {m.split(".")[0] for m in IMPORT.findall(path.read_text())}
    return found


def test_the_library_never_imports_prefect_or_the_prefect_layer() -> None:
    offenders = {
        path: mods & {"prefect", "flows", "tasks", "blocks", "wishflow_cli"}
        for path, mods in imports_of("wishflow").items()
        if mods & {"prefect", "flows", "tasks", "blocks", "wishflow_cli"}
    }
    assert offenders == {}


def test_tasks_and_blocks_never_import_flows() -> None:
    for package in ("tasks", "blocks"):
        offenders = {p: m for p, m in imports_of(package).items() if "flows" in m}
        assert offenders == {}, package


def test_flows_do_no_http_or_sql_themselves() -> None:
    offenders = {p: m & {"httpx", "sqlalchemy", "psycopg2"} for p, m in imports_of("flows").items()}
    assert {p: m for p, m in offenders.items() if m} == {}
