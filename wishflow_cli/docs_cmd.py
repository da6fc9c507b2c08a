"""``wishflow docs warehouse``: (re)generate the warehouse data dictionary, ``docs/warehouse.md``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"


def run_docs_warehouse(args: argparse.Namespace) -> int:
    """``wishflow docs warehouse``: write the data dictionary, or with ``--check`` fail when it is stale."""
    from wishflow.docs import render_dictionary, write_dictionary

    path = Path(args.output)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != render_dictionary():
            print(f"{path} is out of date: run `wishflow docs warehouse`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    changed = write_dictionary(path)
    print(f"{path} {'written' if changed else 'already up to date'}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow docs``."""
    docs = subparsers.add_parser("docs", help="generated documentation")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True)
    wh = docs_sub.add_parser("warehouse", help="write the warehouse data dictionary (docs/warehouse.md)")
    wh.add_argument("--output", "-o", default=str(DEFAULT_PATH), help="markdown file to write")
    wh.add_argument("--check", action="store_true", help="only check that the file is up to date")
    wh.set_defaults(func=run_docs_warehouse)
