"""The ``wishflow ship`` commands parse and run (the library's Prefect-free layering: tests/test_layering.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from wishflow.warehouse.shipping_schema import shipments
from wishflow_cli.main import main


def test_ship_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert main(["db", "upgrade", "--warehouse-url", url]) == 0
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "default: {carrier: DHL, origin_country: cn}\n"
        "rules: [{name: us, when: {countries: [us]}, then: {carrier: USPS}}]\n"
    )
    assert main(["ship", "check-policy", str(policy)]) == 0
    assert "origin_country: CN" in capsys.readouterr().out
    skus = tmp_path / "skus.csv"
    skus.write_text("sku,weight_grams,tags\nA,100,fragile\nB,200,\n")
    assert main(["ship", "load-skus", str(skus), "--warehouse-url", url]) == 0
    assert main(["ship", "load-skus", str(skus), "--warehouse-url", url]) == 0  # idempotent
    assert "2 SKUs" in capsys.readouterr().out
    assert main(["ship", "status", "--warehouse-url", url, "--json"]) == 0
    assert '"outbox": {}' in capsys.readouterr().out


def test_ship_status_lists_pending_writes_and_refuses_a_bad_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert main(["db", "upgrade", "--warehouse-url", url]) == 0
    capsys.readouterr()
    assert main(["ship", "status", "--warehouse-url", url, "--json"]) == 0
    out = capsys.readouterr().out
    assert '"pending_at_wish": 0' in out
    assert '"overdue": []' in out
    assert '"refunds": {}' in out
    assert '"address_changes": {}' in out
    # a write sent two days ago and still unproven, and an open conflict: tables by default
    engine = sa.create_engine(url)
    sent = datetime.now(UTC) - timedelta(days=2)
    row = {
        "store": "default",
        "kind": "ship",
        "carrier": "YunExpress",
        "origin_country": "CN",
        "attempts": 1,
        "planned_at": sent,
        "updated_at": sent,
        "_loaded_at": sent,
    }
    with engine.begin() as conn:
        conn.execute(
            sa.insert(shipments).values(
                **row, shipment_id="s1", order_id="o-late", parcel_id="p1", tracking_number="YT1", state="submitted"
            ),
            {"sent_at": sent},
        )
        conn.execute(
            sa.insert(shipments).values(
                **row, shipment_id="s2", order_id="o-conf", parcel_id="p2", tracking_number="YT2", state="conflict"
            ),
            {"found_tracking_number": "ZZ9", "finished_at": sent, "last_error": "differs"},
        )
    engine.dispose()
    assert main(["ship", "status", "--warehouse-url", url]) == 0
    out = capsys.readouterr().out
    assert "{" not in out
    assert "pending at Wish: 1 (1 overdue" in out
    late = next(line for line in out.splitlines() if line.startswith("o-late"))
    assert sent.strftime("%Y-%m-%d %H:%M:%S UTC") in late
    assert "submitted" in late
    conflict = next(line for line in out.splitlines() if line.startswith("o-conf"))
    assert "ZZ9" in conflict
    assert " UTC" in conflict
    assert main(["ship", "status", "--warehouse-url", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overdue"][0]["sent_at"].endswith("+00:00")
    assert data["outbox"] == {"submitted": 1, "conflict": 1}
    monkeypatch.setenv("WISHFLOW_WRITE_OVERDUE_SECONDS", "soon")
    assert main(["ship", "status", "--warehouse-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: WISHFLOW_WRITE_OVERDUE_SECONDS")
    assert "Traceback" not in err
    monkeypatch.delenv("WISHFLOW_WRITE_OVERDUE_SECONDS")
    missing = tmp_path / "typo.db"
    assert main(["ship", "status", "--warehouse-url", f"sqlite:///{missing}"]) == 2
    assert capsys.readouterr().err.startswith("error: no warehouse at")
    assert not missing.exists()
