"""``wishflow notify setup``: the block and the failed/crashed-run automations exist, and the block
carries a flow's digest to a local webhook receiver.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.flows.conftest import SandboxAdmin
from wishflow_cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_setup_creates_block_and_automations_and_a_digest_arrives(
    flow_env: str,
    sandbox,
    webhook,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    from prefect.client.orchestration import get_client

    from blocks.notifications import AUTOMATIONS

    url, received = webhook
    assert main(["notify", "setup", "--webhook-url", url, "--allow-private-urls", "--name", "wf-test"]) == 0
    out = capsys.readouterr().out
    assert "custom-webhook/wf-test" in out
    with get_client(sync_client=True) as client:
        for name in AUTOMATIONS:
            (automation,) = client.read_automations_by_name(name)
            assert automation.actions[0].block_document_id is not None
    # idempotent: a second setup replaces, never duplicates
    assert main(["notify", "setup", "--webhook-url", url, "--allow-private-urls", "--name", "wf-test"]) == 0
    with get_client(sync_client=True) as client:
        assert all(len(client.read_automations_by_name(name)) == 1 for name in AUTOMATIONS)

    with SandboxAdmin(sandbox.base_url) as admin:
        admin.generate(3)
    args = ["run", "pull", "--safety-lag", "0", "--notify-block", "custom-webhook/wf-test"]
    assert main(args) == 0
    assert any("new order" in (body.get("title", "") + body.get("text", "")).lower() for body in received), received


def _deployment_parameters(name: str) -> dict:
    import yaml

    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in spec["deployments"] if d["name"] == name]
    return dict(deployment.get("parameters") or {})


def test_every_deployment_with_digests_names_the_block_notify_setup_saves() -> None:
    import yaml

    from blocks.notifications import DEFAULT_BLOCK_NAME
    from wishflow_cli.run_cmd import flow_params

    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    with_digests = []
    for deployment in spec["deployments"]:
        module, function = deployment["entrypoint"].removeprefix("flows/").split(".py:")
        if any(p.name == "notify_block" for p in flow_params(module, function)):
            with_digests.append(deployment["name"])
            assert (deployment.get("parameters") or {}).get("notify_block") == DEFAULT_BLOCK_NAME, deployment["name"]
    assert {"pull-orders", "validate-orders", "poll-tracking", "follow-up", "order-cycle"} <= set(with_digests)


def test_the_deployments_default_block_delivers_the_digest_once_setup_saved_it(
    flow_env: str,
    sandbox,
    webhook,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    import logging
    from datetime import timedelta

    from prefect.blocks.core import Block

    from blocks.notifications import DEFAULT_BLOCK_NAME
    from flows.pull_orders import pull_orders

    url, received = webhook
    parameters = _deployment_parameters("pull-orders")
    assert parameters["notify_block"] == DEFAULT_BLOCK_NAME
    # the session's Prefect may hold the block from another test: start without it
    with contextlib.suppress(ValueError):
        Block.delete(f"custom-webhook/{DEFAULT_BLOCK_NAME}")
    admin = SandboxAdmin(sandbox.base_url)
    request.addfinalizer(admin.http.close)

    # not set up yet: the run completes, says once how to set notifications up, sends nothing
    caplog.set_level(logging.WARNING)
    for name in ("prefect", "wishflow"):
        caplog.set_level(logging.INFO, logger=name)
    admin.generate(3)
    result = pull_orders(**parameters, safety_lag=timedelta(0))
    assert result["new"] >= 3
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "notify setup" in r.getMessage()
    ]
    assert len(warnings) == 1, warnings
    assert DEFAULT_BLOCK_NAME in warnings[0]
    assert "does not exist yet" in warnings[0]
    assert received == []
    from prefect.client.orchestration import get_client

    from wishflow_cli.doctor_cmd import _notifications_check

    with get_client(sync_client=True) as client:
        assert "wishflow notify setup" in _notifications_check(client).line()

    # `wishflow notify setup` with its defaults: the same parameters now deliver the digest
    assert main(["notify", "setup", "--webhook-url", url, "--allow-private-urls"]) == 0
    assert "nothing more to do" in capsys.readouterr().out
    caplog.clear()
    admin.generate(2)
    result = pull_orders(**parameters, safety_lag=timedelta(0))
    assert result["new"] >= 2
    assert any("new order" in (b.get("title", "") + b.get("text", "")).lower() for b in received), received
    assert not [r for r in caplog.records if "does not exist yet" in r.getMessage()]
    with get_client(sync_client=True) as client:
        assert _notifications_check(client).status == "ok"
