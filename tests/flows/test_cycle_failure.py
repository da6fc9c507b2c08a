"""A failed stage fails the order cycle as a Prefect failure: the flow raises ``StagesFailed`` naming
the stage (no "Unexpected result for failed state" TypeError from returning ``Failed(data=dict)``),
the outcome table is kept on the exception, and the stages that do not depend on it still ran.
"""

from __future__ import annotations

import pytest


def test_a_failed_stage_raises_and_names_itself(
    flow_env: str,
    sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    from flows.order_cycle import StagesFailed, order_cycle

    # a rejected token and nothing to refresh it with: every stage that calls Wish fails
    monkeypatch.setenv("WISH_ACCESS_TOKEN", "rejected-token")
    monkeypatch.delenv("WISH_REFRESH_TOKEN")
    state = order_cycle(ship=False, return_state=True)

    assert state.is_failed()
    assert "pull" in (state.message or "")
    exc = state.result(raise_on_failure=False)
    assert isinstance(exc, StagesFailed)
    assert exc.outcome["pull"].startswith("failed")
    assert exc.outcome["validate"].startswith("skipped")
    assert set(exc.outcome) == {"pull", "validate", "ship", "track", "follow_up"}
    assert "Unexpected result for failed state" not in caplog.text
