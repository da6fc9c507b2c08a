"""Every judge of the outbox against every response shape a plausible Wish may give: the new state,
the old state, a queued state, an empty body, an asynchronous failure (with its reason, and a stale
one from before our send), another number on the order. Only a read-back that proves it ends a
write FAILED; before our send has settled, "nothing of ours on the order" proves nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wishflow.shipping.outbox import (
    OutboxRow,
    Verdict,
    judge_follow,
    judge_readback,
    judge_response,
)

SENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTLE = timedelta(minutes=15)
BEFORE = SENT + timedelta(minutes=3)  # our send may still land
AFTER = SENT + timedelta(hours=2)  # it can no longer land


def _row(kind: str = "ship", **kw: Any) -> OutboxRow:
    base: dict[str, Any] = dict(
        shipment_id="x",
        store="s",
        order_id="o",
        kind=kind,
        batch_id=None,
        parcel_id="p",
        carrier="YunExpress",
        origin_country="CN",
        tracking_number="YT1",
        previous_tracking_number="OLD1" if kind == "modify" else None,
        ship_note=None,
        state="submitted",
        attempts=1,
        claimed_by=None,
        sent_at=SENT,
    )
    base.update(kw)
    return OutboxRow(**base)


def _at(delta: timedelta) -> str:
    return (SENT + delta).isoformat().replace("+00:00", "Z")


def _shapes(kind: str) -> dict[str, dict[str, Any]]:
    before = ["OLD1"] if kind == "modify" else []
    state = "SHIPPED" if kind == "modify" else "APPROVED"

    def order(numbers: list[str], st: str = state, status: str | None = None, **kw: Any) -> dict[str, Any]:
        return {
            "state": st,
            "tracking_information": [{"tracking_number": n} for n in numbers],
            "processing_status": status,
            "processing_source": "UPDATE_TRACKING" if status else None,
            "updated_at": _at(timedelta(seconds=-30)),
            **kw,
        }

    return {
        "new-in-progress": order(["YT1", *before], status="IN_PROGRESS", updated_at=_at(timedelta(0))),
        "new-succeeded": order(["YT1", *before], "SHIPPED", "SUCCEEDED", updated_at=_at(timedelta(seconds=2))),
        "old": order(before, status="SUCCEEDED" if before else None),
        "queued": order(before, status="IN_PROGRESS", updated_at=_at(timedelta(0))),
        "empty": {},
        "failed-async": order(
            before, status="FAILED", updated_at=_at(timedelta(seconds=5)), processing_failed_reason="invalid number"
        ),
        "failed-stale": order(before, status="FAILED", updated_at=_at(timedelta(minutes=-5))),
        "other-number": order(["ZZ9", *before], "SHIPPED", "SUCCEEDED"),
        "ours-replaced": order(["ZZ9", "YT1"], "SHIPPED", "SUCCEEDED"),
        "refunded": order(before, "REFUNDED"),
    }


# (shape, follow before settle, follow after settle, read-back before settle, read-back after settle)
EXPECTED = {
    "new-in-progress": (Verdict.SUBMITTED, Verdict.SUBMITTED, Verdict.SUBMITTED, Verdict.SUBMITTED),
    "new-succeeded": (Verdict.CONFIRMED, Verdict.CONFIRMED, Verdict.CONFIRMED, Verdict.CONFIRMED),
    "old": (Verdict.PENDING, Verdict.RESEND, Verdict.SETTLE, Verdict.SEND),
    "queued": (Verdict.PENDING, Verdict.PENDING, Verdict.WAIT, Verdict.WAIT),
    "empty": (Verdict.PENDING, Verdict.PENDING, None, None),
    "failed-async": (Verdict.FAILED, Verdict.FAILED, Verdict.FAILED, Verdict.FAILED),
    "failed-stale": (Verdict.PENDING, Verdict.FAILED, Verdict.SETTLE, Verdict.FAILED),
    "other-number": (Verdict.CONFLICT, Verdict.CONFLICT, Verdict.CONFLICT, Verdict.CONFLICT),
    "ours-replaced": (Verdict.CONFLICT, Verdict.CONFLICT, Verdict.CONFLICT, Verdict.CONFLICT),
    "refunded": (Verdict.PENDING, Verdict.FAILED, Verdict.SETTLE, Verdict.FAILED),
}


@pytest.mark.parametrize("kind", ["ship", "modify"])
@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_every_judge_with_every_response_shape(kind: str, shape: str) -> None:
    order = _shapes(kind)[shape]
    row = _row(kind)
    follow_before, follow_after, read_before, read_after = EXPECTED[shape]
    assert judge_follow(row, order, settle=SETTLE, now=BEFORE).verdict == follow_before
    assert judge_follow(row, order, settle=SETTLE, now=AFTER).verdict == follow_after
    if read_before is not None:
        assert judge_readback(row, order, settle=SETTLE, now=BEFORE).verdict == read_before
        assert judge_readback(row, order, settle=SETTLE, now=AFTER).verdict == read_after
    # the immediate response never decides: it only says Wish accepted the write
    response = judge_response(row, order)
    assert response.verdict == Verdict.SUBMITTED


def test_nothing_unproven_is_ever_failed() -> None:
    """A queued write, the old state or an empty body, however long ago the send: never FAILED before
    the send has settled, and a queued write is never failed nor resent at all.
    """
    row = _row()
    shapes = _shapes("ship")
    for minutes in (0, 1, 5, 14):
        now = SENT + timedelta(minutes=minutes)
        for shape in ("old", "queued", "empty", "failed-stale", "refunded"):
            assert judge_follow(row, shapes[shape], settle=SETTLE, now=now).verdict == Verdict.PENDING, (shape, minutes)
    for hours in (1, 2, 24, 72):
        j = judge_follow(row, shapes["queued"], settle=SETTLE, now=SENT + timedelta(hours=hours))
        assert j.verdict == Verdict.PENDING


def test_async_failure_carries_its_reason_and_a_stale_failure_is_not_ours() -> None:
    shapes = _shapes("ship")
    failed = judge_follow(_row(), shapes["failed-async"], settle=SETTLE, now=BEFORE)
    assert failed.verdict == Verdict.FAILED
    assert "invalid number" in failed.detail
    # a FAILED status from before our send proves nothing about ours until ours has settled
    assert judge_readback(_row(state="submitting"), shapes["failed-stale"], settle=SETTLE, now=BEFORE).verdict == (
        Verdict.SETTLE
    )


def test_conflict_names_the_number_found() -> None:
    j = judge_follow(_row(), _shapes("ship")["other-number"], settle=SETTLE, now=BEFORE)
    assert j.found_tracking_number == "ZZ9"


def test_a_never_sent_row_is_sent_at_once_when_nothing_is_on_the_order() -> None:
    row = _row(state="submitting", sent_at=None)
    assert judge_readback(row, _shapes("ship")["old"], settle=SETTLE, now=SENT).verdict == Verdict.SEND


def test_response_shapes_are_all_accepted_never_judged() -> None:
    row = _row()
    for response in ({}, None, {"state": "APPROVED"}, {"tracking_information": [{"tracking_number": "ZZ9"}]}):
        assert judge_response(row, response).verdict == Verdict.SUBMITTED


def test_a_failure_with_our_number_still_shown_is_ours_only_after_our_send() -> None:
    """A Wish that keeps our number visible on a FAILED modify: FAILED if the failure came after our
    send; an older failure under our number on a shipped order means ours went through.
    """
    row = _row("modify")
    after = {
        "state": "SHIPPED",
        "tracking_information": [{"tracking_number": "YT1"}, {"tracking_number": "OLD1"}],
        "processing_status": "FAILED",
        "processing_source": "UPDATE_TRACKING",
        "updated_at": _at(timedelta(seconds=5)),
    }
    assert judge_follow(row, after, settle=SETTLE, now=BEFORE).verdict == Verdict.FAILED
    before = {**after, "updated_at": _at(timedelta(minutes=-5))}
    assert judge_follow(row, before, settle=SETTLE, now=BEFORE).verdict == Verdict.CONFIRMED


def test_write_policy_from_the_environment() -> None:
    from wishflow.api.errors import WishConfigError
    from wishflow.shipping.write_policy import DEFAULT_OVERDUE, WritePolicy

    assert WritePolicy.from_env({}) == WritePolicy(settle=timedelta(hours=3), overdue=DEFAULT_OVERDUE)
    got = WritePolicy.from_env({"WISHFLOW_WRITE_SETTLE_SECONDS": "60", "WISHFLOW_WRITE_OVERDUE_SECONDS": "7200"})
    assert got.settle == timedelta(seconds=60)
    assert got.overdue == timedelta(hours=2)
    for bad in ("abc", "-1"):
        with pytest.raises(WishConfigError):
            WritePolicy.from_env({"WISHFLOW_WRITE_SETTLE_SECONDS": bad})
