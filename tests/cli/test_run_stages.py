"""``wishflow run <stage>``: every stage of the order cycle from the command line, in this process,
against the sandbox: exit 0 on success with the warehouse filled as the stage promises, 1 when a
ship run does not ship the orders it was given (naming each with the reason), 2 when the store or
the warehouse file does not exist (and no empty file is left behind).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.flows.conftest import SandboxAdmin
from wishflow_cli.main import main


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_each_stage_from_the_cli(  # type: ignore[no-untyped-def]
    flow_env: str, sandbox, engine: sa.Engine, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    # the session sandbox's clock runs in real time (validation judges release times against it)
    admin = SandboxAdmin(sandbox.base_url)
    request.addfinalizer(admin.http.close)
    ids = admin.generate(12)

    # nothing pulled yet: a stage that only reads the store refuses an unknown one, and sends nothing
    assert main(["run", "validate", "--store", "nosuchstore"]) == 2
    assert "unknown" in capsys.readouterr().err

    assert main(["run", "pull", "--store", "default", "--safety-lag", "0"]) == 0
    assert _count(engine, "SELECT count(*) FROM orders WHERE store = 'default'") == len(ids)
    assert "fetched" in capsys.readouterr().out

    assert main(["run", "validate"]) == 0
    assert _count(engine, "SELECT count(*) FROM order_validations") == len(ids)
    ready = _count(engine, "SELECT count(*) FROM v_unprocessed_orders")
    assert ready > 0

    # an order the warehouse does not know: exit 1, the order named with why; the run shipped nothing
    assert main(["run", "ship", "--order", "doesnotexist123", "--follow-seconds", "0"]) == 1
    captured = capsys.readouterr()
    assert "doesnotexist123" in captured.out
    assert "not in the warehouse" in captured.out
    assert _count(engine, "SELECT count(*) FROM shipments") == 0
    assert main(["ship", "run", "--order", "doesnotexist123", "--follow-seconds", "0"]) == 1
    assert "doesnotexist123" in capsys.readouterr().out

    assert main(["run", "ship", "--follow-seconds", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sent"] == _count(engine, "SELECT count(*) FROM shipments") > 0

    # the same order again: already shipped (or in flight), exit 1, nothing sent twice
    shipped = _first(engine, "SELECT order_id FROM shipments ORDER BY order_id")
    sent = _count(engine, "SELECT count(*) FROM shipments")
    assert main(["run", "ship", "--order", shipped, "--follow-seconds", "0"]) == 1
    out = capsys.readouterr().out
    assert shipped in out
    assert "already" in out or "in flight" in out
    assert _count(engine, "SELECT count(*) FROM shipments") == sent

    assert main(["run", "track"]) == 0
    assert main(["run", "follow-up"]) == 0
    assert main(["run", "cycle", "--no-ship"]) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "skipped" in out
    stages = {
        r[0]
        for r in sa.create_engine(flow_env).connect().execute(sa.text("SELECT DISTINCT stage FROM pipeline_runs")).all()
    }
    assert {"pull", "validate", "ship", "track", "follow_up"} <= stages


def _first(engine: sa.Engine, sql: str) -> str:
    with engine.connect() as conn:
        row = conn.execute(sa.text(sql)).first()
    assert row is not None
    return str(row[0])


def test_a_missing_warehouse_file_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo" / "warehuose.db"
    for stage in ("validate", "ship", "track", "follow-up", "pull"):
        assert main(["run", stage, "--warehouse-url", f"sqlite:///{missing}"]) == 2, stage
        assert "no warehouse at" in capsys.readouterr().err
    assert not missing.exists()
    assert not missing.parent.exists()


def test_every_parameter_of_the_cycle_is_an_option_and_reaches_its_stage(
    flow_env: str,
    sandbox,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from wishflow_cli.main import build_parser
    from wishflow_cli.run_cmd import flow_params

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "cycle", "--help"])
    usage = capsys.readouterr().out
    for p in flow_params("order_cycle", "order_cycle"):
        assert "--" + p.name.replace("_", "-") in usage, p.name
    assert "--follow-seconds" in usage

    with SandboxAdmin(sandbox.base_url) as admin:
        admin.generate(2)
    assert main(["run", "cycle", "--ship-dry-run", "--follow-seconds", "0"]) == 0
    with get_client(sync_client=True) as client:
        (ship_run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["ship_orders"])), sort=FlowRunSort.START_TIME_DESC, limit=1
        )
    assert ship_run.parameters["follow_seconds"] == 0
    assert ship_run.parameters["dry_run"] is True
