"""Done when (issue 15): a rehearsal of going live against an API root that serves only Wish's own
paths. doctor fails before ``db upgrade`` and passes after setup; pull, validate, a single shipment
with a typed number, a batch from a CSV file, track and follow-up all succeed; shipping without a
label source is one ``error:`` line (exit 2) and sends nothing; the proxy refused no request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.golive.conftest import WishOnlyProxy, run_cli, sandbox_writes

REPO = Path(__file__).resolve().parents[2]


def _ready_orders(url: str) -> list[Any]:
    from wishflow.shipping.ready import ready_orders
    from wishflow.warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        return ready_orders(engine, "default", None)
    finally:
        engine.dispose()


def _numbers(sandbox: Any, order_id: str) -> list[str]:
    """The tracking numbers the sandbox accepted for the order, one per tracking write."""
    body = httpx.get(f"{sandbox.base_url}/sandbox/orders/{order_id}/writes", timeout=30).json()
    writes = (body.get("data") or body)["writes"]
    return [w["body"]["tracking_number"] for w in writes if w["endpoint"] == "tracking" and w["outcome"] == "accepted"]


def test_going_live_rehearsal(
    sandbox: Any, proxy: WishOnlyProxy, fresh_warehouse: str, base_env: dict[str, str], tmp_path: Path
) -> None:
    httpx.post(f"{sandbox.base_url}/sandbox/orders", json={"count": 12}, timeout=60).raise_for_status()
    # past the pull's safety lag (30 s behind Wish's now), however fast the steps below run
    httpx.post(f"{sandbox.base_url}/sandbox/clock", json={"advance_seconds": 120}, timeout=60).raise_for_status()
    policy = tmp_path / "policy.yaml"
    labels = tmp_path / "labels.csv"
    labels.write_text("order_id,tracking_number,carrier\n")
    policy.write_text(
        "default: {carrier: YunExpress, service: standard, origin_country: CN}\n"
        f"label_provider: table\nlabel_table_path: {labels}\n"
    )
    skus = tmp_path / "skus.csv"
    skus.write_text("sku,weight_grams,length_mm,width_mm,height_mm,tags\nANY-SKU,250,200,150,50,\n")
    env = {
        **base_env,
        "WISH_API_BASE_URL": f"{proxy.url}/api/v3",
        "WISH_ACCESS_TOKEN": sandbox.access_token,
        "WISHFLOW_WAREHOUSE_URL": fresh_warehouse,
        "WISHFLOW_SHIPPING_POLICY": str(policy),
        "WISHFLOW_PROJECT_DIR": str(REPO),
    }

    before = run_cli(env, tmp_path, "doctor")
    assert before.returncode == 1, before.output
    assert any(
        line.startswith("FAIL warehouse") and "wishflow db upgrade" in line for line in before.stdout.splitlines()
    )
    assert "Traceback" not in before.output

    assert run_cli(env, tmp_path, "db", "upgrade").returncode == 0
    assert run_cli(env, tmp_path, "ship", "load-skus", str(skus)).returncode == 0
    pulled = run_cli(env, tmp_path, "run", "pull")
    assert pulled.returncode == 0, pulled.output
    validated = run_cli(env, tmp_path, "run", "validate")
    assert validated.returncode == 0, validated.output

    after = run_cli(env, tmp_path, "doctor")
    assert after.returncode == 0, after.output
    assert "FAIL" not in after.stdout
    assert "ok   token" in after.stdout

    ready = [o.order_id for o in _ready_orders(fresh_warehouse)]
    assert len(ready) >= 5, (pulled.output[-1500:], validated.output[-1500:])

    # without a label source (the built-in policy) a live account cannot ship: one line, nothing sent
    writes = sandbox_writes(sandbox)
    bare = run_cli({k: v for k, v in env.items() if k != "WISHFLOW_SHIPPING_POLICY"}, tmp_path, "ship", "run")
    assert bare.returncode == 2, bare.output
    assert len(bare.error_lines()) == 1, bare.output
    assert "label source" in bare.error_lines()[0], bare.output
    assert "--tracking-file" in bare.error_lines()[0]
    assert "Traceback" not in bare.output
    assert sandbox_writes(sandbox) == writes

    # a single shipment with a typed number
    single = ready[0]
    shipped = run_cli(
        env, tmp_path, "ship", "run", "--order", single, "--carrier", "YunExpress",
        "--tracking", f"{single}=YT1000000000000001", "--follow-seconds", "0",
    )  # fmt: skip
    assert shipped.returncode == 0, shipped.output
    assert _numbers(sandbox, single) == ["YT1000000000000001"]

    # a batch from a CSV file: good rows ship, bad rows are reported by line
    batch = ready[1:4]
    tracking = tmp_path / "tracking.csv"
    tracking.write_text(
        "order_id,carrier,tracking_number\n"
        + "".join(f"{oid},YunExpress,YT20000000000000{i:02d}\n" for i, oid in enumerate(batch))
        + f"{ready[4]},YunExpress,YT12\n"
        + "no-such-order,YunExpress,YT3000000000000001\n"
    )
    first = run_cli(env, tmp_path, "ship", "run", "--tracking-file", str(tracking), "--follow-seconds", "0")
    assert first.returncode == 1, first.output
    assert "BAD line 5 (order " in first.stdout, first.output
    assert "YunExpress format" in first.stdout, first.output
    assert "BAD line 6 (order no-such-order): not in the warehouse" in first.stdout, first.output
    assert "3 shipped" in first.stdout, first.output
    for i, oid in enumerate(batch):
        assert _numbers(sandbox, oid) == [f"YT20000000000000{i:02d}"]
    assert _numbers(sandbox, ready[4]) == []

    # the same file again sends nothing twice
    writes = sandbox_writes(sandbox)
    again = run_cli(env, tmp_path, "ship", "run", "--tracking-file", str(tracking), "--follow-seconds", "0")
    assert "0 shipped, 3 already shipped earlier" in again.stdout, again.output
    assert sandbox_writes(sandbox) == writes

    for flow in ("track", "follow-up"):
        done = run_cli(env, tmp_path, "run", flow)
        assert done.returncode == 0, done.output

    engine = sa.create_engine(fresh_warehouse)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() == 12
    engine.dispose()
    assert proxy.refused == [], proxy.refused
    assert proxy.forwarded > 0
