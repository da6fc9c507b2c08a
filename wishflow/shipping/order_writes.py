"""The one write path.

Every write to Wish (mark shipped, modify tracking, change address, refund) goes through this state machine, whatever
its kind.

Wish's writes are asynchronous, have no idempotency key, and their answer may be lost. So each write is
a row of an outbox table (:class:`~wishflow.shipping.outbox.Ledger`) that goes through the same states:

``planned`` (written down before anything is sent) -> ``submitting`` (claimed; ``sent_at`` stamped just
before the PUT) -> ``submitted`` (Wish accepted it) -> ``confirmed`` / ``failed`` / ``conflict``.

One :meth:`WriteMachine.step` claims nothing itself: the caller claims rows (a tracking batch, one
address change) and the machine settles each claimed row: read back if it was sent, send if nothing of
ours can still land, judge the order as read back, park what it cannot prove. :meth:`WriteMachine.follow_step`
judges a ``submitted`` row by read-back. What differs per kind is a :class:`WriteKind`: its ledger, how
to send, how to judge the order as read back. The rules are the same for all: judge by read-back, never
by the immediate response; nothing unproven is FAILED; a send is repeated (the same request) only once a
read-back after the settle horizon proves it did not land. Errors cross as exception objects
(:attr:`Outcome.error`), never as strings to be parsed.

Pacing is the client's (:mod:`wishflow.api.pacing`): every request of the machine's workers waits at
the one pacer of the client they share.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, is_dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select

from wishflow.api.contract import WishApi
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
from wishflow.shipping.outbox import Judgement, Ledger, State, Transition, Verdict
from wishflow.shipping.write_policy import WritePolicy

logger = logging.getLogger("wishflow.shipping")

#: After an uncertain write that read back as "not there", send again at most this many times per step.
MAX_SENDS_PER_RUN = 3
#: A read-back is tried this many times (transient failures) before the row is parked for later.
READ_RETRIES = 4
#: The sandbox's "another write is in progress" code (Wish documents none): the write was refused
#: because the order is busy, which proves nothing about our own write.
WRITE_IN_PROGRESS_CODE = 4006

#: Errors that prove Wish did not process the call: the row goes back (nothing of ours is in flight).
NOT_PROCESSED = (WishRateLimited, WishAuthError, WishConfigError)


class WriteKind(Protocol):
    """What one kind of order write needs from the state machine."""

    @property
    def name(self) -> str:
        """The kind's name, as shown in reports and logs."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The outbox table the kind's rows live in."""
        ...

    def send(self, client: WishApi, row: Any) -> Any:
        """Send the write (the row holds everything it needs). Raises the client's errors."""
        ...

    def judge(self, row: Any, order: dict[str, Any], *, settle: timedelta, now: datetime, following: bool) -> Judgement:
        """The order as read back, judged for this row (see the module docstring)."""
        ...

    def accepted(self, row: Any, response: Any) -> Judgement:
        """Wish accepted the send: always SUBMITTED (the response proves nothing), with a detail."""
        ...

    def read_first(self, row: Any) -> bool:
        """Read the order back before even a first send (a modify checks what it replaces)."""
        ...


class OrderWriteKind:
    """A single-order write (address, refund) judged by :func:`judge_order_write`.

    A subclass says which ``source`` Wish reports for it, whether ours ``landed``, what ``conflict``s, and whether the
    write is ``still_possible``.
    """

    name: str = "write"
    source: str = "WRITE"
    ledger: Ledger

    def send(self, client: WishApi, row: Any) -> Any:  # pragma: no cover - every kind sends its own
        """Send the write; every kind sends its own."""
        raise NotImplementedError

    def landed(self, row: Any, order: dict[str, Any]) -> bool:  # pragma: no cover
        """Whether the order, as read back, carries this row's write."""
        raise NotImplementedError

    def conflict(self, row: Any, order: dict[str, Any]) -> str | None:  # noqa: ARG002 (WriteKind protocol signature)
        """Why the order, as read back, contradicts this row's write; None (the default) when nothing does."""
        return None

    def still_possible(self, row: Any, order: dict[str, Any]) -> bool:  # pragma: no cover
        """Whether Wish would still accept this write on the order as read back."""
        raise NotImplementedError

    def judge(self, row: Any, order: dict[str, Any], *, settle: timedelta, now: datetime, following: bool) -> Judgement:
        """Judge the order as read back with the rules every single-order write shares."""
        return judge_order_write(
            row,
            order,
            source=self.source,
            landed=lambda o: self.landed(row, o),
            conflict=lambda o: self.conflict(row, o),
            still_possible=lambda o: self.still_possible(row, o),
            settle=settle,
            now=now,
            following=following,
        )

    def accepted(self, row: Any, response: Any) -> Judgement:  # noqa: ARG002 (WriteKind protocol signature)
        """Wish accepted the send: SUBMITTED, since the immediate response proves nothing."""
        return Judgement(Verdict.SUBMITTED, "accepted by Wish; outcome judged by read-back")

    def read_first(self, row: Any) -> bool:  # noqa: ARG002 (WriteKind protocol signature)
        """Single-order writes send first; only a read-back after sending proves anything."""
        return False


@dataclass
class Outcome:
    """What one step did to one row.

    The transition to apply (None: the claim was lost, or nothing changes), how many sends and reads it took, the orders
    read, and the exception that stopped it. ``fatal``: the run must stop (not processed for a reason every other call
    shares, or a bug).
    """

    row: Any
    transition: Transition | None = None
    sent: int = 0
    reads: int = 0
    payloads: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    fatal: bool = False
    lost_claim: bool = False
    settles_at: datetime | None = None  # parked until a send of ours that may still land has settled


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


_VERDICT_STATE = {
    Verdict.SUBMITTED: State.SUBMITTED,
    Verdict.CONFIRMED: State.CONFIRMED,
    Verdict.FAILED: State.FAILED,
    Verdict.CONFLICT: State.CONFLICT,
}


def with_sent_at(row: Any, sent_at: datetime | None) -> Any:
    """``row`` with another ``sent_at`` (a dataclass row is replaced; a database row is viewed)."""
    if is_dataclass(row) and not isinstance(row, type):
        return replace(row, sent_at=sent_at)
    data = dict(row._mapping)
    data["sent_at"] = sent_at
    return _RowView(data)


class _RowView:
    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        self._mapping = data


@dataclass
class WriteMachine:
    """Runs writes of one kind.

    ``clock`` is the one ``sent_at`` and the settle horizon are measured on (tests pass the sandbox's); ``policy`` gives
    the horizon; ``workers`` threads settle claimed rows at once (their requests all wait at the client's one pacer).
    """

    engine: Engine
    client: WishApi
    kind: WriteKind
    policy: WritePolicy = field(default_factory=WritePolicy.from_env)
    clock: Callable[[], datetime] = outbox.utcnow
    read_retry_delay: float = 0.5
    workers: int = 1
    settle_horizon: timedelta | None = None  # None: the policy's

    @property
    def ledger(self) -> Ledger:
        """The outbox table of the machine's kind."""
        return self.kind.ledger

    @property
    def horizon(self) -> timedelta:
        """How long a send may still land at Wish: the policy's settle time unless overridden."""
        return self.policy.settle if self.settle_horizon is None else self.settle_horizon

    def _id(self, row: Any) -> str:
        return self.ledger.row_id(row)

    def row(self, row_id: str) -> Any:
        """The row ``row_id`` as stored now (rows are re-read, never trusted from memory)."""
        return outbox.get_row(self.engine, row_id, ledger=self.ledger)

    # -- reading ---------------------------------------------------------------------------------

    def read(self, order_id: str) -> tuple[dict[str, Any] | None, int, WishError | None]:
        """GET the order, retrying transient failures a few times: (order, reads, error)."""
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

    # -- transitions -----------------------------------------------------------------------------

    def _to(self, row: Any, token: str, to: State, detail: str, **kw: Any) -> Transition:
        return Transition(self._id(row), to, State.SUBMITTING, token=token, detail=detail, **kw)

    def _park(self, row: Any, token: str, detail: str, **kw: Any) -> Transition:
        """Keep the row in submitting, claim released, for a later read-back (``sent_at`` kept)."""
        return self._to(row, token, State.SUBMITTING, detail, release=True, **kw)

    def _judged(self, out: Outcome, token: str, j: Judgement) -> Outcome:
        if j.verdict in _VERDICT_STATE:
            out.transition = self._to(
                out.row,
                token,
                _VERDICT_STATE[j.verdict],
                j.detail,
                found_tracking_number=j.found_tracking_number,
                processing_status=j.processing_status,
            )
        else:  # WAIT / SETTLE (or a SEND not done now): parked for a later read-back
            out.transition = self._park(out.row, token, j.detail)
            out.settles_at = j.settles_at if j.verdict == Verdict.SETTLE else None
        return out

    # -- one claimed row -------------------------------------------------------------------------

    def step(self, row: Any, token: str) -> Outcome:
        """Settle one row claimed by ``token``.

        Read back if it was sent, send if nothing of ours can still land, judge. Returns the transition to apply (not
        applied yet).
        """
        out = Outcome(row)
        must_read = row.sent_at is not None or self.kind.read_first(row)
        for _ in range(MAX_SENDS_PER_RUN):
            if must_read:
                order, n, error = self.read(row.order_id)
                out.reads += n
                if order is None:
                    out.error = error
                    out.transition = self._park(row, token, f"read-back failed, will retry: {error}")
                    return out
                out.payloads.append(order)
                j = self.kind.judge(row, order, settle=self.horizon, now=self.clock(), following=False)
                if j.verdict != Verdict.SEND:
                    return self._judged(out, token, j)
            now = self.clock()
            if not outbox.mark_sending(self.engine, self._id(row), token, now=now, ledger=self.ledger):
                out.lost_claim = True  # someone else settles it
                return out
            earlier_send = row.sent_at
            row = out.row = with_sent_at(row, now)
            try:
                out.sent += 1
                response = self.kind.send(self.client, row)
            except WishUncertainWriteError as exc:
                logger.warning("order %s: %s write uncertain (%s); reading back", row.order_id, self.kind.name, exc)
                must_read = True
                continue
            except NOT_PROCESSED as exc:
                return self._not_processed(out, token, exc, earlier_send)
            except WishRequestError as exc:
                return self._refused(out, token, exc, earlier_send, now)
            except WishError as exc:
                logger.warning("order %s: unexpected Wish error on write (%s); reading back", row.order_id, exc)
                must_read = True
                continue
            except Exception as exc:  # noqa: BLE001 - a bug: leave the row for a read-back, stop the run
                out.error, out.fatal = exc, True
                out.transition = self._park(row, token, f"error while sending: {exc!r}")
                return out
            if isinstance(response, dict) and response.get("state"):
                out.payloads.append(response)
            return self._judged(out, token, self.kind.accepted(row, response))
        out.transition = self._park(row, token, f"still uncertain after {MAX_SENDS_PER_RUN} sends; read back later")
        return out

    def _not_processed(self, out: Outcome, token: str, exc: WishError, earlier_send: datetime | None) -> Outcome:
        """Wish did not process this send.

        Back to planned, unless an earlier uncertain send of ours may still land (then parked with that send's time).
        """
        out.error = exc
        out.fatal = not isinstance(exc, WishRateLimited)  # a rate limit is waited out; auth/config are not
        detail = f"not processed: {exc}"
        if earlier_send is None:
            out.transition = self._to(out.row, token, State.PLANNED, detail, clear_sent=True)
        else:
            out.transition = self._park(out.row, token, detail, sent_at=earlier_send)
        return out

    def _refused(
        self, out: Outcome, token: str, exc: WishRequestError, earlier_send: datetime | None, now: datetime
    ) -> Outcome:
        """This send was refused, so only an earlier send of ours could still land.

        Judge the order against that one (none: nothing of ours can be in flight).
        """
        out.error = exc
        order, n, _error = self.read(out.row.order_id)
        out.reads += n
        if order is None:
            out.transition = self._park(out.row, token, f"Wish rejected ({exc}); read-back failed")
            return out
        out.payloads.append(order)
        j = self.kind.judge(with_sent_at(out.row, earlier_send), order, settle=self.horizon, now=now, following=False)
        if j.verdict == Verdict.SEND and exc.code == WRITE_IN_PROGRESS_CODE:
            j = Judgement(Verdict.WAIT, f"Wish refused: another write is in progress ({exc})")
        elif j.verdict == Verdict.SEND:
            j = Judgement(Verdict.FAILED, f"Wish rejected the {self.kind.name}: {exc}", None, j.processing_status)
        return self._judged(out, token, j)

    def follow_step(self, row: Any) -> Outcome:
        """Read a ``submitted`` row back.

        Landed (confirmed / failed / conflict), proven not landed (back to submitting, released, ``sent_at`` kept: the
        next step reads back once more and sends the same request again), or not proven yet (no transition).
        """
        out = Outcome(row)
        order, n, error = self.read(row.order_id)
        out.reads += n
        if order is None:
            out.error = error
            return out
        out.payloads.append(order)
        j = self.kind.judge(row, order, settle=self.horizon, now=self.clock(), following=True)
        if j.verdict == Verdict.RESEND:
            out.transition = Transition(self._id(row), State.SUBMITTING, State.SUBMITTED, detail=j.detail, release=True)
        elif j.verdict in (Verdict.CONFIRMED, Verdict.FAILED, Verdict.CONFLICT):
            out.transition = Transition(
                self._id(row),
                _VERDICT_STATE[j.verdict],
                State.SUBMITTED,
                detail=j.detail,
                found_tracking_number=j.found_tracking_number,
                processing_status=j.processing_status,
            )
        return out

    # -- many rows ---------------------------------------------------------------------------------

    def _map(self, fn: Callable[[Any], Outcome], rows: Sequence[Any]) -> list[Outcome]:
        if self.workers <= 1 or len(rows) <= 1:
            outcomes = [fn(r) for r in rows]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(rows)), thread_name_prefix="write") as pool:
                outcomes = list(pool.map(fn, rows))
        outbox.apply(self.engine, [o.transition for o in outcomes if o.transition is not None], ledger=self.ledger)
        return outcomes

    def run(self, rows: Sequence[Any], token: str) -> list[Outcome]:
        """Step every claimed row (``workers`` at once) and apply their transitions in one transaction."""
        return self._map(lambda r: self.step(r, token), rows)

    def follow_rows(self, rows: Sequence[Any]) -> list[Outcome]:
        """Follow-step every submitted row and apply the transitions."""
        return self._map(self.follow_step, rows)

    def claim(
        self, store: str, token: str, row_ids: Sequence[str], *, lease: timedelta = outbox.DEFAULT_LEASE
    ) -> list[Any]:
        """Claim these rows: planned ones, and ``submitting`` ones nobody works on (to read back)."""
        ids = list(row_ids)
        rows = outbox.claim_planned(self.engine, store, token, shipment_ids=ids, limit=len(ids), ledger=self.ledger)
        return rows + outbox.claim_stale(self.engine, store, token, lease=lease, shipment_ids=ids, ledger=self.ledger)

    # -- one row, whole path -----------------------------------------------------------------------

    def _result(self, row_id: str, *outcomes: Outcome) -> WriteResult:
        row = self.row(row_id)
        result = WriteResult(row_id, row.order_id, row.state, row.last_error or row.state)
        for o in outcomes:
            result.sent += o.sent
            result.reads += o.reads
            result.payloads += o.payloads
            result.error = result.error or o.error
        return result

    def submit(self, row_id: str) -> WriteResult:
        """Claim the row (planned, or abandoned in submitting) and step it.

        Leaves it submitted, terminal, or parked.
        """
        row = self.row(row_id)
        token = outbox.new_claim_token()
        outbox.LIVE_TOKENS.add(token)
        try:
            outcomes = self.run(self.claim(row.store, token, [row_id]), token)
        finally:
            outbox.LIVE_TOKENS.discard(token)
        return self._result(row_id, *outcomes)

    def follow(self, row_id: str, *, wait_seconds: float = 0.0, poll_interval: float = 1.0) -> WriteResult:
        """Read a submitted row back until the order proves its outcome (or ``wait_seconds`` pass)."""
        deadline = time.monotonic() + wait_seconds
        outcomes: list[Outcome] = []
        row = self.row(row_id)
        while row.state == State.SUBMITTED.value:
            outcomes += self.follow_rows([row])
            row = self.row(row_id)
            if row.state != State.SUBMITTED.value or time.monotonic() + poll_interval > deadline:
                break
            time.sleep(poll_interval)
        return self._result(row_id, *outcomes)

    def settle(
        self, row_id: str, *, follow_seconds: float = 0.0, poll_interval: float = 1.0, raise_not_processed: bool = True
    ) -> WriteResult:
        """Submit (or resume) and follow one write.

        The whole path for one order. A call Wish did not process for a reason every call shares (rate limit, auth,
        configuration) is raised (unless ``raise_not_processed`` is False), the row kept.
        """
        first = self.submit(row_id)
        then = self.follow(row_id, wait_seconds=follow_seconds, poll_interval=poll_interval)
        then.sent += first.sent
        then.reads += first.reads
        then.error = then.error or first.error
        then.payloads = first.payloads + then.payloads
        if raise_not_processed and isinstance(then.error, NOT_PROCESSED):
            raise then.error
        return then

    def open_rows(self, store: str) -> list[str]:
        """Rows of ``store`` not finished (planned, parked, submitted): what a rerun resumes."""
        t = self.ledger.table
        with self.engine.connect() as conn:
            return [
                str(i)
                for i in conn.execute(
                    select(self.ledger.id)
                    .where(
                        t.c.store == store,
                        t.c.state.in_([State.PLANNED.value, State.SUBMITTING.value, State.SUBMITTED.value]),
                    )
                    .order_by(t.c.planned_at)
                ).scalars()
            ]


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
    """The verdict rules every single-order write shares, given what is kind-specific.

    Whether ours ``landed`` on the order, whether something else ``conflict``s with it (a reason, or None), and whether
    the write is ``still_possible`` on the order as it is now.
    """
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


__all__ = [
    "MAX_SENDS_PER_RUN",
    "NOT_PROCESSED",
    "OrderWriteKind",
    "Outcome",
    "READ_RETRIES",
    "WRITE_IN_PROGRESS_CODE",
    "WriteKind",
    "WriteMachine",
    "WriteResult",
    "judge_order_write",
    "with_sent_at",
]
