"""``wishflow orders`` prints the views as readable tables."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from tests.validation.conftest import NOW, good_order, insert_orders
from wishflow.validation import validate_pending
from wishflow.warehouse.engine import make_engine, upgrade
from wishflow_cli import orders_cmd


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wishflow")
    orders_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_orders_command_lists_each_view(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    engine = make_engine(url)
    insert_orders(
        engine,
        "default",
        [
            good_order("ok-1", expected_ship_time=NOW + timedelta(hours=6), is_wish_express=True),
            good_order("ok-2"),
            good_order("held-1", country_code="XX"),
        ],
    )
    validate_pending(engine, "default", "cli", now=NOW)
    engine.dispose()

    assert _run(["orders", "--warehouse-url", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 unprocessed order(s) of store default, soonest deadline first"
    assert out[1].split() == [
        "order_id",
        "expected_ship_time",
        "hours_left",
        "flags",
        "country_code",
        "sku",
        "quantity",
    ]
    assert out[3].startswith("ok-1")
    assert " WE " in out[3]

    _run(["orders", "--at-risk", "--hours", "12", "--warehouse-url", url])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("1 unshipped order(s)")
    assert out[3].startswith("ok-1")

    _run(["orders", "--quarantined", "--warehouse-url", url])
    out = capsys.readouterr().out
    assert "held-1" in out
    assert "country_code_valid" in out
