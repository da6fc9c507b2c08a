"""``refund_orders`` as a real Prefect flow and ``wishflow ship refund`` from the command line:
refunds exactly once, a rerun resumes instead of refunding again, a reason the order does not offer is
one ``error:`` line.
"""

from __future__ import annotations

from typing import Any

import pytest
from shipping_helpers import STORE, advance, writes

from wishflow_cli.main import main


@pytest.fixture
def refund_env(monkeypatch: pytest.MonkeyPatch, sandbox: Any, warehouse_url: str, prefect_harness) -> str:
    monkeypatch.setenv("WISH_API_BASE_URL", sandbox.api_url)
    monkeypatch.setenv("WISH_ACCESS_TOKEN", sandbox.access_token)
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    return warehouse_url


def _refunds(sandbox: Any, oid: str) -> list[dict[str, Any]]:
    return [w for w in writes(sandbox, oid) if w["endpoint"] == "refund" and w["outcome"] == "accepted"]


def test_refund_flow_and_cli_refund_exactly_once(refund_env, sandbox, seed, capsys) -> None:
    from flows.refund_orders import refund_orders

    ids = seed(count=3)
    result = refund_orders(order_ids=ids[:2], reason="MERCHANT_OUT_OF_STOCK", follow_seconds=0)
    assert {r["state"] for r in result["results"].values()} <= {"submitted", "confirmed"}
    assert result["refused"] == {}
    advance(sandbox, 5)
    again = refund_orders(order_ids=ids[:2], reason="MERCHANT_OUT_OF_STOCK", follow_seconds=0)
    assert {r["state"] for r in again["results"].values()} == {"confirmed"}
    assert [len(_refunds(sandbox, oid)) for oid in ids[:2]] == [1, 1]
    assert {sandbox.sandbox.get_order(oid)["state"] for oid in ids[:2]} == {"REFUNDED"}
    # the command line: without --reason it lists the reasons; a wrong reason is one error line
    assert main(["ship", "refund", "--order", ids[2], "--store", STORE]) == 2
    assert "UNABLE_TO_SHIP" in capsys.readouterr().out
    assert main(["ship", "refund", "--order", ids[2], "--reason", "NOPE", "--follow-seconds", "0"]) == 2
    out = capsys.readouterr().out
    assert f"error: {ids[2]}: NOPE is not a refund reason" in out
    assert "Traceback" not in out
    assert _refunds(sandbox, ids[2]) == []
    assert main(["ship", "refund", "--order", ids[2], "--reason", "UNABLE_TO_SHIP", "--follow-seconds", "0"]) == 0
    assert len(_refunds(sandbox, ids[2])) == 1
