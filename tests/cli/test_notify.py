"""``wishflow notify setup``: the block and the failed/crashed-run automations exist, and the block
carries a flow's digest to a local webhook receiver.
"""

from __future__ import annotations

import pytest

from tests.flows.conftest import SandboxAdmin
from wishflow_cli.main import main


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

    SandboxAdmin(sandbox.base_url).generate(3)
    args = ["run", "pull", "--safety-lag", "0", "--notify-block", "custom-webhook/wf-test"]
    assert main(args) == 0
    assert any("new order" in (body.get("title", "") + body.get("text", "")).lower() for body in received), received
