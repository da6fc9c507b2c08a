"""Sending the outbox to Wish: concurrent calls within the merchant's rate limit, each one guarded by
the outbox's claim, with a read-back wherever the outcome of an earlier send is unknown.

Concurrency is a small thread pool sharing one :class:`RateLimiter`: an optional fixed ceiling
(token bucket), plus pacing at the rate Wish signals once ``Wish-Rate-Limit-Remaining`` runs low. A 429
is waited out by the client (``Wish-Rate-Limit-Reset``); a write that still ends rate limited was not
processed, so its row goes back to ``planned``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine

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
from wishflow.shipping.outbox import Judgement, OutboxRow, State, Transition, Verdict
from wishflow.shipping.write_policy import WritePolicy

logger = logging.getLogger("wishflow.shipping")

#: After an uncertain write that read back as "not there", send again at most this many times per run.
MAX_SENDS_PER_RUN = 3
READ_RETRIES = 4
#: The sandbox's "another write is in progress" code (Wish documents none): the write was refused
#: because the order is busy, which proves nothing about our own write.
WRITE_IN_PROGRESS_CODE = 4006


class ShipClient(Protocol):
    rate_limit_remaining: int | None
    write_settle_seconds: float  # how long after a send it may still land at Wish

    def get_order(self, order_id: str) -> dict[str, Any]: ...

    def ship_order(
        self,
        order_id: str,
        *,
        tracking_number: str,
        shipping_provider: str,
        origin_country: str,
        ship_note: str | None = None,
    ) -> dict[str, Any]: ...


class RateLimiter:
    """Thread-safe pacing of calls to Wish.

    ``max_rate`` (calls per second, None = no fixed ceiling) is a token bucket with a one-second burst.
    Independently, when the last ``Wish-Rate-Limit-Remaining`` seen is at or below ``reserve``, calls
    are spaced at the rate Wish appears to allow (the largest ``remaining`` seen + 1 per second, which is
    the bucket size of a one-second-burst limiter), so the pool slows down before it hits 429s.
    """

    def __init__(
        self,
        max_rate: float | None = None,
        *,
        reserve: int = 4,
        remaining: Callable[[], int | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rate = max_rate
        self.reserve = reserve
        self._remaining = remaining or (lambda: None)
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(max_rate or 0)
        self._last = clock()
        self._next_slot = 0.0
        self._max_seen = 0
        self.calls = 0
        self.waited = 0.0

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            delay = 0.0
            if self.max_rate:
                self._tokens = min(float(self.max_rate), self._tokens + (now - self._last) * self.max_rate)
                self._last = now
                if self._tokens < 1:
                    delay = (1 - self._tokens) / self.max_rate
                self._tokens -= 1
            remaining = self._remaining()
            if remaining is not None:
                self._max_seen = max(self._max_seen, remaining)
                if remaining <= self.reserve:
                    rate = max(self._max_seen + 1, 1)
                    slot = max(now + delay, self._next_slot)
                    self._next_slot = slot + 1.0 / rate
                    delay = slot - now
            self.calls += 1
        if delay > 0:
            self.waited += delay
            self._sleep(delay)


@dataclass
class SubmitReport:
    """What one submit / reconcile / follow pass did."""

    sent: int = 0
    submitted: int = 0
    confirmed: int = 0
    failed: int = 0
    conflict: int = 0
    pending: int = 0  # left in submitting awaiting a read-back (uncertain, or another write in progress)
    requeued: int = 0  # back to planned: Wish did not process the call (rate limited / auth)
    lost_claims: int = 0
    reads: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)

    def add(self, other: SubmitReport) -> None:
        for name in (
            "sent",
            "submitted",
            "confirmed",
            "failed",
            "conflict",
            "pending",
            "requeued",
            "lost_claims",
            "reads",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.update(other.failures)
        self.conflicts.update(other.conflicts)
        self.payloads.extend(other.payloads)
        self.fatal.extend(other.fatal)

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "submitted": self.submitted,
            "confirmed": self.confirmed,
            "failed": self.failed,
            "conflict": self.conflict,
            "pending": self.pending,
            "requeued": self.requeued,
            "lost_claims": self.lost_claims,
            "reads": self.reads,
        }


@dataclass
class _Outcome:
    transition: Transition | None
    sent: int = 0
    reads: int = 0
    payload: dict[str, Any] | None = None
    fatal: str | None = None
    lost_claim: bool = False
    settles_at: datetime | None = None  # parked until a send of ours that may still land has settled


_VERDICT_STATE = {
    Verdict.SUBMITTED: State.SUBMITTED,
    Verdict.CONFIRMED: State.CONFIRMED,
    Verdict.FAILED: State.FAILED,
    Verdict.CONFLICT: State.CONFLICT,
}


class Submitter:
    """Sends claimed outbox rows. One instance per run (it holds the claim token and the limiter)."""

    def __init__(
        self,
        client: ShipClient,
        engine: Engine,
        *,
        workers: int = 8,
        limiter: RateLimiter | None = None,
        token: str | None = None,
        chunk_size: int | None = None,
        read_retry_delay: float = 0.5,
        on_payloads: Callable[[str, list[dict[str, Any]]], None] | None = None,
        settle_seconds: float | None = None,
        policy: WritePolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.workers = max(1, workers)
        self.limiter = limiter or RateLimiter(remaining=lambda: client.rate_limit_remaining, reserve=self.workers)
        self.token = token or outbox.new_claim_token()
        outbox.LIVE_TOKENS.add(self.token)
        self.chunk_size = chunk_size or self.workers * 8
        self.read_retry_delay = read_retry_delay
        self.on_payloads = on_payloads
        self.policy = policy or WritePolicy.from_env()
        #: a send is not repeated, nor judged lost, until this long after it (``outbox.judge_readback``):
        #: the write policy's horizon, not the client's timeout
        self.settle = self.policy.settle if settle_seconds is None else timedelta(seconds=settle_seconds)
        #: the longest a run sleeps for parked sends to settle; longer ones are left to the next run
        self.in_run_wait = timedelta(seconds=max(60.0, float(getattr(client, "write_settle_seconds", 60.0))))
        #: the clock ``sent_at`` and the settle horizon are measured on (tests pass the sandbox's)
        self.clock = clock or outbox.utcnow
        #: rows parked because a send of theirs may still land: shipment id -> (store, when it settles)
        self._settling: dict[str, tuple[str, datetime]] = {}

    def close(self) -> None:
        """Give up the claim token: rows still held by it become reclaimable at once."""
        outbox.LIVE_TOKENS.discard(self.token)

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- entry points ---------------------------------------------------------------------------

    def submit_batch(self, batch_id: str) -> SubmitReport:
        """Claim and send the planned rows of one batch, chunk by chunk."""
        return self._drain(lambda: outbox.claim_batch(self.engine, batch_id, self.token, limit=self.chunk_size))

    def submit_rows(self, store: str, shipment_ids: Sequence[str]) -> SubmitReport:
        """Claim and send specific planned rows (single shipments, modify)."""
        ids = list(shipment_ids)
        return self._drain(
            lambda: outbox.claim_planned(self.engine, store, self.token, shipment_ids=ids, limit=self.chunk_size)
        )

    def reconcile(
        self, store: str, *, lease: timedelta = outbox.DEFAULT_LEASE, shipment_ids: Sequence[str] | None = None
    ) -> SubmitReport:
        """Take over abandoned ``submitting`` rows and settle them (reading back those that were sent)."""
        report = SubmitReport()
        rows = outbox.claim_stale(self.engine, store, self.token, lease=lease, shipment_ids=shipment_ids)
        if rows:
            logger.info("reconciling %d shipments left in submitting", len(rows))
            report.add(self._run(rows))
        if not report.fatal:
            report.add(self._read_back_settled())
        return report

    def follow(
        self,
        store: str,
        *,
        wait_seconds: float = 0.0,
        poll_interval: float = 2.0,
        shipment_ids: Sequence[str] | None = None,
    ) -> SubmitReport:
        """Read submitted rows back until Wish's processing settles (or ``wait_seconds`` pass)."""
        report = SubmitReport()
        deadline = time.monotonic() + wait_seconds
        while True:
            rows = outbox.rows_in_state(self.engine, store, State.SUBMITTED, shipment_ids=shipment_ids)
            if not rows:
                break
            report.add(self._follow_once(rows))
            still = outbox.rows_in_state(self.engine, store, State.SUBMITTED, shipment_ids=shipment_ids)
            if not still or time.monotonic() + poll_interval > deadline:
                report.pending = len(still)
                break
            time.sleep(poll_interval)
        return report

    # -- machinery ------------------------------------------------------------------------------

    def _drain(self, claim: Callable[[], list[OutboxRow]]) -> SubmitReport:
        report = SubmitReport()
        while True:
            rows = claim()
            if not rows:
                break
            chunk = self._run(rows)
            report.add(chunk)
            if chunk.fatal:
                break
            if chunk.requeued and chunk.requeued == len(rows):
                report.fatal.append("every call of a chunk was rate limited; stopping this pass")
                break
        if not report.fatal:
            report.add(self._read_back_settled())
        return report

    def _read_back_settled(self) -> SubmitReport:
        """Settle the rows parked because a send of theirs may still land at Wish: wait until the
        latest of them has settled (at most ``settle``), then read them back: ours on the order ->
        submitted, still absent -> sent again (which may park them once more, up to
        ``MAX_SENDS_PER_RUN`` rounds). What is left stays parked for the next run's reconcile."""
        report = SubmitReport()
        for _ in range(MAX_SENDS_PER_RUN):
            if not self._settling:
                break
            settling, self._settling = self._settling, {}
            wait = (max(at for _, at in settling.values()) - self.clock()).total_seconds()
            if wait > self.in_run_wait.total_seconds():
                # Wish may take longer than a run should wait: the next run's reconcile reads them back
                logger.info("%d uncertain sends settle only in %.0f s; left for a later run", len(settling), wait)
                break  # already counted as pending when they were parked
            if wait > 0:
                logger.info("waiting %.1f s for %d uncertain sends to settle before reading back", wait, len(settling))
                time.sleep(wait)
            by_store: dict[str, list[str]] = {}
            for shipment_id, (store, _at) in settling.items():
                by_store.setdefault(store, []).append(shipment_id)
            for store, ids in by_store.items():
                rows = outbox.claim_stale(self.engine, store, self.token, shipment_ids=ids)
                if rows:
                    report.add(self._run(rows))
        return report

    def _run(self, rows: Sequence[OutboxRow]) -> SubmitReport:
        report = SubmitReport()
        if self.workers == 1 or len(rows) == 1:
            outcomes = [self._process(r) for r in rows]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(rows)), thread_name_prefix="ship") as pool:
                outcomes = list(pool.map(self._process, rows))
        transitions = [o.transition for o in outcomes if o.transition is not None]
        outbox.apply(self.engine, transitions)
        for row, o in zip(rows, outcomes, strict=True):
            report.sent += o.sent
            report.reads += o.reads
            if o.payload is not None:
                report.payloads.append(o.payload)
            if o.fatal:
                report.fatal.append(o.fatal)
            if o.lost_claim:
                report.lost_claims += 1
            if o.settles_at is not None:
                self._settling[row.shipment_id] = (row.store, o.settles_at)
            self._tally(report, row, o.transition)
        self._publish(rows, report.payloads)
        report.payloads = []
        return report

    def _publish(self, rows: Sequence[OutboxRow], payloads: list[dict[str, Any]]) -> None:
        if self.on_payloads is not None and payloads and rows:
            try:
                self.on_payloads(rows[0].store, payloads)
            except Exception:  # noqa: BLE001 - recording orders is a convenience; the outbox is the truth
                logger.exception("could not re-record shipped orders in the warehouse")

    @staticmethod
    def _tally(report: SubmitReport, row: OutboxRow, t: Transition | None) -> None:
        if t is None:
            return
        if t.to == State.SUBMITTED:
            report.submitted += 1
        elif t.to == State.CONFIRMED:
            report.confirmed += 1
        elif t.to == State.FAILED:
            report.failed += 1
            report.failures[row.order_id] = t.detail or "failed"
        elif t.to == State.CONFLICT:
            report.conflict += 1
            report.conflicts[row.order_id] = t.detail or "conflict"
        elif t.to == State.PLANNED:
            report.requeued += 1
        elif t.to == State.SUBMITTING:
            report.pending += 1

    def _read(self, order_id: str) -> tuple[dict[str, Any] | None, int, str | None]:
        """GET the order, retrying transient failures a few times; (order, reads, error)."""
        error = None
        for attempt in range(READ_RETRIES):
            self.limiter.acquire()
            try:
                return self.client.get_order(order_id), attempt + 1, None
            except (WishRetryableError, WishRateLimited) as exc:
                error = str(exc)
                time.sleep(self.read_retry_delay * (attempt + 1))
            except WishError as exc:
                return None, attempt + 1, str(exc)
        return None, READ_RETRIES, error

    def _settle(self, row: OutboxRow, j: Judgement, *, extra: str = "") -> Transition:
        detail = j.detail + (f" ({extra})" if extra else "")
        if j.verdict in _VERDICT_STATE:
            return Transition(
                row.shipment_id,
                _VERDICT_STATE[j.verdict],
                State.SUBMITTING,
                token=self.token,
                detail=detail,
                found_tracking_number=j.found_tracking_number,
                processing_status=j.processing_status,
            )
        # WAIT (or SEND that we will not do now): keep it in submitting for a later read-back
        return self._park(row, detail)

    def _park(self, row: OutboxRow, detail: str) -> Transition:
        return Transition(
            row.shipment_id, State.SUBMITTING, State.SUBMITTING, token=self.token, detail=detail, release=True
        )

    def _requeue(self, row: OutboxRow, detail: str) -> Transition:
        return Transition(
            row.shipment_id, State.PLANNED, State.SUBMITTING, token=self.token, detail=detail, clear_sent=True
        )

    def _process(self, row: OutboxRow) -> _Outcome:
        reads = 0
        sent = 0
        payload: dict[str, Any] | None = None
        must_read = row.sent_at is not None or row.kind == "modify"
        for _ in range(MAX_SENDS_PER_RUN):
            if must_read:
                order, n, error = self._read(row.order_id)
                reads += n
                if order is None:
                    return _Outcome(self._park(row, f"read-back failed, will retry: {error}"), sent, reads)
                payload = order
                j = outbox.judge_readback(row, order, settle=self.settle, now=self.clock())
                if j.verdict == Verdict.SETTLE:
                    return _Outcome(self._park(row, j.detail), sent, reads, payload, settles_at=j.settles_at)
                if j.verdict != Verdict.SEND:
                    return _Outcome(self._settle(row, j), sent, reads, payload)
            now = self.clock()
            if not outbox.mark_sending(self.engine, row.shipment_id, self.token, now=now):
                return _Outcome(None, sent, reads, payload, lost_claim=True)
            earlier_send = row.sent_at
            row = replace(row, sent_at=now)
            self.limiter.acquire()
            try:
                sent += 1
                response = self.client.ship_order(
                    row.order_id,
                    tracking_number=row.tracking_number,
                    shipping_provider=row.carrier,
                    origin_country=row.origin_country,
                    ship_note=row.ship_note,
                )
            except WishUncertainWriteError as exc:
                logger.warning("order %s: tracking write uncertain (%s); reading back", row.order_id, exc)
                must_read = True
                continue
            except WishRateLimited as exc:
                return _Outcome(self._requeue(row, f"rate limited, not processed: {exc}"), sent, reads, payload)
            except (WishAuthError, WishConfigError) as exc:
                return _Outcome(self._requeue(row, f"not processed: {exc}"), sent, reads, payload, fatal=str(exc))
            except WishRequestError as exc:
                # this send was refused, so only an earlier send of ours could still land: judge the
                # order against that one (none: nothing of ours can be in flight)
                order, n, _error = self._read(row.order_id)
                reads += n
                if order is None:
                    return _Outcome(self._park(row, f"Wish rejected ({exc}); read-back failed"), sent, reads)
                j = outbox.judge_readback(replace(row, sent_at=earlier_send), order, settle=self.settle, now=now)
                if j.verdict == Verdict.SEND and exc.code == WRITE_IN_PROGRESS_CODE:
                    j = Judgement(Verdict.WAIT, f"Wish refused: another write is in progress ({exc})")
                elif j.verdict == Verdict.SEND:
                    j = Judgement(Verdict.FAILED, f"Wish rejected the tracking: {exc}", None, j.processing_status)
                if j.verdict == Verdict.SETTLE:
                    return _Outcome(self._park(row, j.detail), sent, reads, order, settles_at=j.settles_at)
                return _Outcome(self._settle(row, j), sent, reads, order)
            except WishError as exc:
                must_read = True
                logger.warning("order %s: unexpected Wish error on write (%s); reading back", row.order_id, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a bug: leave the row for a read-back, fail the run
                return _Outcome(self._park(row, f"error while sending: {exc!r}"), sent, reads, payload, fatal=repr(exc))
            # accepted: whatever the response shows, the outcome is judged by read-back (follow)
            j = outbox.judge_response(row, response)
            shown = response if isinstance(response, dict) and response.get("state") else None
            return _Outcome(self._settle(row, j), sent, reads, shown)
        return _Outcome(
            self._park(row, f"still uncertain after {MAX_SENDS_PER_RUN} sends; will read back next run"),
            sent,
            reads,
            payload,
        )

    def _follow_once(self, rows: Sequence[OutboxRow]) -> SubmitReport:
        report = SubmitReport()

        def one(row: OutboxRow) -> tuple[Transition | None, dict[str, Any] | None, int]:
            order, n, _error = self._read(row.order_id)
            if order is None:
                return None, None, n
            j = outbox.judge_follow(row, order, settle=self.settle, now=self.clock())
            if j.verdict in (Verdict.SUBMITTED, Verdict.PENDING):
                return None, order, n
            if j.verdict == Verdict.RESEND:
                # proven not landed: back to submitting, released, sent_at kept; reconcile reads it back
                # once more and sends the same number again
                return (
                    Transition(row.shipment_id, State.SUBMITTING, State.SUBMITTED, detail=j.detail, release=True),
                    order,
                    n,
                )
            return (
                Transition(
                    row.shipment_id,
                    _VERDICT_STATE[j.verdict],
                    State.SUBMITTED,
                    detail=j.detail,
                    found_tracking_number=j.found_tracking_number,
                    processing_status=j.processing_status,
                ),
                order,
                n,
            )

        with ThreadPoolExecutor(max_workers=min(self.workers, max(len(rows), 1)), thread_name_prefix="follow") as pool:
            results = list(pool.map(one, rows))
        outbox.apply(self.engine, [t for t, _, _ in results if t is not None])
        for row, (t, order, n) in zip(rows, results, strict=True):
            report.reads += n
            if order is not None:
                report.payloads.append(order)
            self._tally(report, row, t)
        self._publish(rows, report.payloads)
        return report


def record_orders(engine: Engine) -> Callable[[str, list[dict[str, Any]]], None]:
    """``on_payloads`` callback: re-record orders read from Wish (the newer payload wins)."""
    from wishflow.orders.parse import parse_orders
    from wishflow.warehouse.orders_writer import load_orders

    def _record(store: str, payloads: Iterable[dict[str, Any]]) -> None:
        parsed, _bad = parse_orders(list(payloads))
        if parsed:
            load_orders(engine, store, parsed)

    return _record
