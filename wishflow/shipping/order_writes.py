"""One order, one write: the outbox state machine for the writes that are not tracking batches.

Address changes (``PUT /orders/{id}/address``) and merchant refunds (``PUT /orders/{id}/refund``) have
the same problem as tracking writes: asynchronous, no idempotency key, an answer that may be lost. They
go through the same states and verdicts as ``shipments`` (:mod:`wishflow.shipping.outbox`):

``planned`` (written down before anything is sent) -> ``submitting`` (claimed; ``sent_at`` stamped just
before the PUT) -> ``submitted`` (Wish accepted it) -> ``confirmed`` / ``failed`` / ``conflict``.

Each step is :func:`run_write`; what differs per kind is a :class:`WriteKind`: its table, how to send,
and how to judge the order as read back (``judge(row, order, settle=, now=, following=)`` answering an
:class:`~wishflow.shipping.outbox.Verdict`). The rules are those of tracking writes: judge by read-back,
never by the immediate response; nothing unproven is FAILED; a send is repeated (the same request)
only once a read-back after the settle horizon proves it did not land. Errors cross as exception
objects (:attr:`WriteResult.error`), never as strings to be parsed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, Table, and_, select, update

from wishflow.api.errors import (
    WishAuthError,
    WishConfigError,
    WishError,
    WishRateLimited,
    WishRequestError,
    WishRetryableError,
    WishUncertainWriteError,
)
from wishflow.shipping import outbox
from wishflow.shipping.outbox import Judgement, State, Verdict
from wishflow.shipping.submit import MAX_SENDS_PER_RUN, READ_RETRIES, WRITE_IN_PROGRESS_CODE
from wishflow.shipping.write_policy import WritePolicy
from wishflow.warehouse.bulk import write_transaction

logger = logging.getLogger("wishflow.shipping")


class WriteKind(Protocol):
    """What one kind of order write needs from the state machine."""

    @property
    def name(self) -> str: ...

    @property
    def table(self) -> Table: ...

    @property
    def id_column(self) -> str: ...

    def send(self, client: Any, row: Any) -> Any:
        """Send the write (the row holds everything it needs). Raises the client's errors."""
        ...

    def judge(self, row: Any, order: dict[str, Any], *, settle: timedelta, now: datetime, following: bool) -> Judgement:
        """The order as read back, judged for this row (see the module docstring)."""
        ...


@dataclass
class WriteResult:
    """Where one write stands after a step. ``error`` is the exception that stopped it, if any."""

    row_id: str
    order_id: str
    state: str
    detail: str
    sent: int = 0
    reads: int = 0
    error: BaseException | None = None
    payloads: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WriteMachine:
    """Runs writes of one kind for one store. ``clock`` is the one ``sent_at`` and the settle horizon
    are measured on (tests pass the sandbox's); ``policy`` gives the horizon."""

    engine: Engine
    client: Any
    kind: WriteKind
    policy: WritePolicy = field(default_factory=WritePolicy.from_env)
    clock: Callable[[], datetime] = outbox.utcnow
    read_retry_delay: float = 0.5

    # -- rows ------------------------------------------------------------------------------------

    @property
    def _t(self) -> Table:
        return self.kind.table

    def _id(self) -> Any:
        return self._t.c[self.kind.id_column]

    def row(self, row_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(self._t).where(self._id() == row_id)).one()

    def _set(
        self,
        row_id: str,
        to: State,
        *,
        only_from: tuple[State, ...],
        token: str | None = None,
        detail: str | None = None,
        processing_status: str | None = None,
        claim: str | None = None,
        release: bool = False,
        sent_at: datetime | None = None,
        clear_sent: bool = False,
    ) -> bool:
        """One guarded transition (the row must be in ``only_from`` and, with ``token``, held by it)."""
        now = outbox.utcnow()
        values: dict[str, Any] = {"state": to.value, "updated_at": now}
        if detail is not None:
            values["last_error"] = detail[:4000]
        if processing_status is not None and "wish_processing_status" in self._t.c:
            values["wish_processing_status"] = processing_status
        if to in (State.CONFIRMED, State.FAILED):
            values["active_order_id"] = None
        if to in (State.CONFIRMED, State.FAILED, State.CONFLICT):
            values["finished_at"] = now
        if claim is not None:
            values.update(claimed_by=claim, claimed_at=now, attempts=self._t.c.attempts + 1)
        elif to != State.SUBMITTING or release:
            values["claimed_by"] = None
        if sent_at is not None:
            values["sent_at"] = sent_at
        if clear_sent:
            values["sent_at"] = None
        cond = [self._id() == row_id, self._t.c.state.in_([s.value for s in only_from])]
        if token is not None:
            cond.append(self._t.c.claimed_by == token)
        with write_transaction(self.engine) as conn:
            return conn.execute(update(self._t).where(and_(*cond)).values(**values)).rowcount == 1

    def _claim(self, row: Any, token: str) -> bool:
        """Planned, or submitting and abandoned (released, or its claimer is dead): take it."""
        if row.state == State.PLANNED.value:
            return self._set(
                getattr(row, self.kind.id_column),
                State.SUBMITTING,
                only_from=(State.PLANNED,),
                claim=token,
                clear_sent=True,  # a planned row was never sent (a requeued one was not processed)
            )
        if row.state == State.SUBMITTING.value and (row.claimed_by is None or outbox.claimer_is_dead(row.claimed_by)):
            row_id = getattr(row, self.kind.id_column)
            cond = [self._id() == row_id, self._t.c.state == State.SUBMITTING.value]
            cond.append(
                self._t.c.claimed_by.is_(None) if row.claimed_by is None else self._t.c.claimed_by == row.claimed_by
            )
            now = outbox.utcnow()
            with write_transaction(self.engine) as conn:
                return (
                    conn.execute(
                        update(self._t)
                        .where(and_(*cond))
                        .values(claimed_by=token, claimed_at=now, attempts=self._t.c.attempts + 1, updated_at=now)
                    ).rowcount
                    == 1
                )
        return False

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, order_id: str) -> tuple[dict[str, Any] | None, int, WishError | None]:
        error: WishError | None = None
        for attempt in range(READ_RETRIES):
            try:
                return self.client.get_order(order_id), attempt + 1, None
            except (WishRetryableError, WishRateLimited) as exc:
                error = exc
                time.sleep(self.read_retry_delay * (attempt + 1))
            except WishError as exc:
                return None, attempt + 1, exc
        return None, READ_RETRIES, error

    # -- the steps -------------------------------------------------------------------------------

    def submit(self, row_id: str) -> WriteResult:
        """Claim the row (planned, or abandoned in submitting) and settle it: read back if it was sent,
        send if nothing of ours can still land. Leaves it submitted, terminal, or parked."""
        row = self.row(row_id)
        result = WriteResult(row_id, row.order_id, row.state, row.last_error or row.state)
        token = outbox.new_claim_token()
        outbox.LIVE_TOKENS.add(token)
        try:
            if not self._claim(row, token):
                return result
            self._submit_claimed(row_id, token, result)
        finally:
            outbox.LIVE_TOKENS.discard(token)
        final = self.row(row_id)
        result.state, result.detail = final.state, final.last_error or final.state
        return result

    def _finish(self, row_id: str, token: str, j: Judgement, *, from_state: State = State.SUBMITTING) -> None:
        if j.verdict in (Verdict.SUBMITTED, Verdict.CONFIRMED, Verdict.FAILED, Verdict.CONFLICT):
            to = State(j.verdict.value)
            self._set(
                row_id, to, only_from=(from_state,), token=token, detail=j.detail, processing_status=j.processing_status
            )
        else:  # WAIT / SETTLE: parked for a later read-back, claim released, sent_at kept
            self._set(
                row_id, State.SUBMITTING, only_from=(State.SUBMITTING,), token=token, detail=j.detail, release=True
            )

    def _submit_claimed(self, row_id: str, token: str, result: WriteResult) -> None:
        row = self.row(row_id)
        must_read = row.sent_at is not None
        for _ in range(MAX_SENDS_PER_RUN):
            if must_read:
                order, n, error = self._read(row.order_id)
                result.reads += n
                if order is None:
                    result.error = error
                    self._finish(row_id, token, Judgement(Verdict.WAIT, f"read-back failed, will retry: {error}"))
                    return
                result.payloads.append(order)
                j = self.kind.judge(row, order, settle=self.policy.settle, now=self.clock(), following=False)
                if j.verdict != Verdict.SEND:
                    self._finish(row_id, token, j)
                    return
            now = self.clock()
            earlier_send = row.sent_at
            if not self._set(row_id, State.SUBMITTING, only_from=(State.SUBMITTING,), token=token, sent_at=now):
                return  # lost the claim: someone else settles it
            row = self.row(row_id)
            try:
                result.sent += 1
                self.kind.send(self.client, row)
            except WishUncertainWriteError as exc:
                logger.warning("order %s: %s write uncertain (%s); reading back", row.order_id, self.kind.name, exc)
                must_read = True
                continue
            except (WishRateLimited, WishAuthError, WishConfigError) as exc:
                # not processed: back to planned (an earlier uncertain send keeps the row parked instead)
                result.error = exc
                if earlier_send is None:
                    self._set(row_id, State.PLANNED, only_from=(State.SUBMITTING,), token=token, detail=str(exc))
                else:
                    self._set(
                        row_id,
                        State.SUBMITTING,
                        only_from=(State.SUBMITTING,),
                        token=token,
                        detail=str(exc),
                        release=True,
                        sent_at=earlier_send,
                    )
                return
            except WishRequestError as exc:
                # this send was refused: only an earlier send of ours could still land
                result.error = exc
                order, n, _error = self._read(row.order_id)
                result.reads += n
                if order is None:
                    self._finish(row_id, token, Judgement(Verdict.WAIT, f"Wish rejected ({exc}); read-back failed"))
                    return
                j = self.kind.judge(
                    _with_sent_at(row, earlier_send), order, settle=self.policy.settle, now=now, following=False
                )
                if j.verdict == Verdict.SEND and exc.code == WRITE_IN_PROGRESS_CODE:
                    j = Judgement(Verdict.WAIT, f"Wish refused: another write is in progress ({exc})")
                elif j.verdict == Verdict.SEND:
                    j = Judgement(Verdict.FAILED, f"Wish rejected the {self.kind.name}: {exc}")
                self._finish(row_id, token, j)
                return
            except WishError as exc:
                logger.warning("order %s: unexpected Wish error on write (%s); reading back", row.order_id, exc)
                must_read = True
                continue
            self._finish(row_id, token, Judgement(Verdict.SUBMITTED, "accepted by Wish; outcome judged by read-back"))
            return
        self._finish(row_id, token, Judgement(Verdict.WAIT, f"still uncertain after {MAX_SENDS_PER_RUN} sends"))

    def follow(self, row_id: str, *, wait_seconds: float = 0.0, poll_interval: float = 1.0) -> WriteResult:
        """Read a submitted row back until the order proves its outcome (or ``wait_seconds`` pass)."""
        deadline = time.monotonic() + wait_seconds
        row = self.row(row_id)
        result = WriteResult(row_id, row.order_id, row.state, row.last_error or row.state)
        while row.state == State.SUBMITTED.value:
            order, n, error = self._read(row.order_id)
            result.reads += n
            if order is None:
                result.error = error
            else:
                result.payloads.append(order)
                j = self.kind.judge(row, order, settle=self.policy.settle, now=self.clock(), following=True)
                if j.verdict == Verdict.RESEND:
                    self._set(row_id, State.SUBMITTING, only_from=(State.SUBMITTED,), detail=j.detail, release=True)
                elif j.verdict in (Verdict.CONFIRMED, Verdict.FAILED, Verdict.CONFLICT):
                    self._set(
                        row_id,
                        State(j.verdict.value),
                        only_from=(State.SUBMITTED,),
                        detail=j.detail,
                        processing_status=j.processing_status,
                    )
            row = self.row(row_id)
            if row.state != State.SUBMITTED.value or time.monotonic() + poll_interval > deadline:
                break
            time.sleep(poll_interval)
        result.state, result.detail = row.state, row.last_error or row.state
        return result

    def settle(self, row_id: str, *, follow_seconds: float = 0.0, poll_interval: float = 1.0) -> WriteResult:
        """Submit (or resume) and follow one write: the whole path for one order."""
        first = self.submit(row_id)
        then = self.follow(row_id, wait_seconds=follow_seconds, poll_interval=poll_interval)
        then.sent += first.sent
        then.reads += first.reads
        then.error = then.error or first.error
        then.payloads = first.payloads + then.payloads
        return then

    def open_rows(self, store: str) -> list[str]:
        """Rows of ``store`` not finished (planned, parked, submitted): what a rerun resumes."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(self._id())
                    .where(
                        self._t.c.store == store,
                        self._t.c.state.in_([State.PLANNED.value, State.SUBMITTING.value, State.SUBMITTED.value]),
                    )
                    .order_by(self._t.c.planned_at)
                ).scalars()
            )


def _with_sent_at(row: Any, sent_at: datetime | None) -> Any:
    """A read-only view of ``row`` with another ``sent_at`` (for judging against an earlier send)."""
    data = dict(row._mapping)
    data["sent_at"] = sent_at
    return _RowView(data)


class _RowView:
    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        self._mapping = data


# -- shared judging of one order write ------------------------------------------------------------


def judge_order_write(
    row: Any,
    order: dict[str, Any],
    *,
    source: str,
    landed: Callable[[dict[str, Any]], bool],
    conflict: Callable[[dict[str, Any]], str | None],
    still_possible: Callable[[dict[str, Any]], bool],
    settle: timedelta,
    now: datetime,
    following: bool,
) -> Judgement:
    """The verdict rules every single-order write shares, given what is kind-specific: whether ours
    ``landed`` on the order, whether something else ``conflict``s with it (a reason, or None), and
    whether the write is ``still_possible`` on the order as it is now."""
    if not order or "state" not in order:
        verdict = Verdict.PENDING if following else Verdict.WAIT
        return Judgement(verdict, "the read-back carries no order state; proves nothing")
    status = order.get("processing_status")
    ours_source = order.get("processing_source") in (None, source)
    updated = outbox._parse_time(order.get("updated_at"))
    sent_at = getattr(row, "sent_at", None)
    if landed(order):
        if status == "FAILED" and ours_source and sent_at is not None and updated is not None and updated > sent_at:
            return Judgement(Verdict.FAILED, f"Wish processing_status FAILED for our {source}", None, status)
        if status == "IN_PROGRESS":
            return Judgement(Verdict.SUBMITTED, "ours is on the order; still processing", None, status)
        return Judgement(Verdict.CONFIRMED, f"ours is on the order (processing {status})", None, status)
    reason = conflict(order)
    if reason is not None:
        return Judgement(Verdict.CONFLICT, reason, None, status)
    if status == "IN_PROGRESS":
        verdict = Verdict.PENDING if following else Verdict.WAIT
        return Judgement(
            verdict, f"a write ({order.get('processing_source')}) is in progress on the order", None, status
        )
    if status == "FAILED" and ours_source and sent_at is not None and updated is not None and updated > sent_at:
        return Judgement(Verdict.FAILED, f"Wish processing_status FAILED after our {source}", None, status)
    settles_at = sent_at + settle if sent_at is not None else None
    if settles_at is not None and now < settles_at:
        return Judgement(
            Verdict.PENDING if following else Verdict.SETTLE,
            f"ours is not on the order yet, but the send may still land; read back after {settles_at.isoformat()}",
            None,
            status,
            settles_at,
        )
    if not still_possible(order):
        return Judgement(
            Verdict.FAILED, f"the order is {order.get('state')}; the {source} can no longer apply", None, status
        )
    if status == "FAILED" and ours_source and sent_at is not None:
        return Judgement(
            Verdict.FAILED, f"Wish reports the last {source} FAILED and ours is not on the order", None, status
        )
    if following:
        return Judgement(
            Verdict.RESEND, "accepted but never landed (settled with nothing of ours); send it again", None, status
        )
    return Judgement(Verdict.SEND, "ours is not on the order and nothing of ours can still land", None, status)


__all__ = ["WriteKind", "WriteMachine", "WriteResult", "judge_order_write"]
