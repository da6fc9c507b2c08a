"""Tracking writes (mark shipped, modify tracking) as a kind of the one write path.

Also the batched entry points a ship run uses: claim a batch's rows, settle them with the machine's workers, reconcile
abandoned rows, follow submitted ones.

The state machine, its send/settle/read-back/judge loop and its transitions are
:class:`~wishflow.shipping.order_writes.WriteMachine`'s, the same for every kind of write; what is
tracking's own is :class:`TrackingKind` (its ledger ``shipments``, its send, its judges in
:mod:`wishflow.shipping.outbox`). Workers are a thread pool; every request they make waits at the
client's one pacer (:mod:`wishflow.api.pacing`), which also paces every other holder of the client.
A 429 is waited out by the client (``Wish-Rate-Limit-Reset``); a write that still ends rate limited
was not processed, so its row goes back to ``planned``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from wishflow.api.contract import WishApi
from wishflow.api.errors import WishRateLimited
from wishflow.shipping import outbox
from wishflow.shipping.order_writes import MAX_SENDS_PER_RUN, Outcome, WriteMachine
from wishflow.shipping.outbox import Judgement, Ledger, OutboxRow, State, Transition
from wishflow.shipping.write_policy import WritePolicy

logger = logging.getLogger("wishflow.shipping")


@dataclass(frozen=True)
class TrackingKind:
    """``PUT /orders/{id}/tracking`` (a first tracking, or a modify) as a kind of the one write path.

    Judged by :func:`~wishflow.shipping.outbox.judge_readback` (a claimed row) and
    :func:`~wishflow.shipping.outbox.judge_follow` (a submitted one); a modify reads the order back
    before its first send (what it replaces must still be there).
    """

    name: str = "tracking"
    ledger: Ledger = outbox.SHIPMENTS

    def send(self, client: WishApi, row: OutboxRow) -> Any:
        """Mark the order shipped (or modify its tracking) with the row's number and carrier."""
        return client.ship_order(
            row.order_id,
            tracking_number=row.tracking_number,
            shipping_provider=row.carrier,
            origin_country=row.origin_country,
            ship_note=row.ship_note,
        )

    def judge(
        self, row: OutboxRow, order: dict[str, Any], *, settle: timedelta, now: datetime, following: bool
    ) -> Judgement:
        """Judge the read-back with the tracking judges: following a submitted row, or settling a sent one."""
        judge = outbox.judge_follow if following else outbox.judge_readback
        return judge(row, order, settle=settle, now=now)

    def accepted(self, row: OutboxRow, response: Any) -> Judgement:
        """Judge Wish's immediate answer (which proves acceptance only)."""
        return outbox.judge_response(row, response)

    def read_first(self, row: OutboxRow) -> bool:
        """A modify reads the order first: it must see the number it replaces."""
        return row.kind == "modify"


TRACKING = TrackingKind()


@dataclass
class SubmitReport:
    """What one submit / reconcile / follow pass did. ``fatal``: the exceptions that stopped it."""

    sent: int = 0
    submitted: int = 0
    confirmed: int = 0
    failed: int = 0
    conflict: int = 0
    pending: int = 0  # left in submitting awaiting a read-back (uncertain, or another write in progress)
    requeued: int = 0  # back to planned: Wish did not process the call (rate limited / auth)
    lost_claims: int = 0
    reads: int = 0
    rate_limited: int = 0  # rows whose step ended on a rate limit
    failures: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    fatal: list[BaseException] = field(default_factory=list)

    _COUNTS = ("sent", "submitted", "confirmed", "failed", "conflict", "pending", "requeued", "lost_claims", "reads")

    def add(self, other: SubmitReport) -> None:
        """Add another report's counts, failures and conflicts to this one."""
        for name in (*self._COUNTS, "rate_limited"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.update(other.failures)
        self.conflicts.update(other.conflicts)
        self.payloads.extend(other.payloads)
        self.fatal.extend(other.fatal)

    def counts(self) -> dict[str, int]:
        """The report's counters by name."""
        return {name: getattr(self, name) for name in self._COUNTS}

    def tally(self, outcomes: Iterable[Outcome]) -> None:
        """Count what each worker's outcome did."""
        for o in outcomes:
            self.sent += o.sent
            self.reads += o.reads
            self.payloads.extend(o.payloads)
            self.lost_claims += o.lost_claim
            self.rate_limited += isinstance(o.error, WishRateLimited)
            if o.fatal and o.error is not None:
                self.fatal.append(o.error)
            self._count(o.row.order_id, o.transition)

    def _count(self, order_id: str, t: Transition | None) -> None:
        if t is None:
            return
        if t.to == State.SUBMITTED:
            self.submitted += 1
        elif t.to == State.CONFIRMED:
            self.confirmed += 1
        elif t.to == State.FAILED:
            self.failed += 1
            self.failures[order_id] = t.detail or "failed"
        elif t.to == State.CONFLICT:
            self.conflict += 1
            self.conflicts[order_id] = t.detail or "conflict"
        elif t.to == State.PLANNED:
            self.requeued += 1
        elif t.to == State.SUBMITTING:
            self.pending += 1


class Submitter:
    """Batched tracking writes on the one write path.

    One instance per run (it holds the claim token). ``max_rate`` (requests per second, None: no fixed ceiling) tightens
    the client's pacer.
    """

    def __init__(
        self,
        client: WishApi,
        engine: Engine,
        *,
        workers: int = 8,
        token: str | None = None,
        chunk_size: int | None = None,
        read_retry_delay: float = 0.5,
        on_payloads: Callable[[str, list[dict[str, Any]]], None] | None = None,
        settle_seconds: float | None = None,
        policy: WritePolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        max_rate: float | None = None,
    ) -> None:
        """Bind the client and engine; ``max_rate`` tightens the client's pacer for this run."""
        self.client = client
        self.engine = engine
        self.workers = max(1, workers)
        if self.pacer is not None:
            # no limiter of our own: the client's pacer, tightened to this run's ceiling and to start
            # spacing calls ``workers`` calls before Wish's limit
            self.pacer.limit(max_rate, reserve=self.workers)
        #: the one state machine, with tracking as its kind
        self.machine = WriteMachine(
            engine,
            client,
            TRACKING,
            policy or WritePolicy.from_env(),
            clock or outbox.utcnow,
            read_retry_delay,
            workers=self.workers,
            settle_horizon=None if settle_seconds is None else timedelta(seconds=settle_seconds),
        )
        self.token = token or outbox.new_claim_token()
        outbox.LIVE_TOKENS.add(self.token)
        self.chunk_size = chunk_size or self.workers * 8
        self.on_payloads = on_payloads
        #: a send is not repeated, nor judged lost, until this long after it (the write policy's
        #: horizon, not the client's timeout)
        self.settle = self.machine.horizon
        #: the longest a run sleeps for parked sends to settle; longer ones are left to the next run
        self.in_run_wait = timedelta(seconds=max(60.0, float(getattr(client, "write_settle_seconds", 60.0))))
        #: rows parked because a send of theirs may still land: shipment id -> (store, when it settles)
        self._settling: dict[str, tuple[str, datetime]] = {}

    @property
    def pacer(self) -> Any:
        """The client's pacer: the one every request of every worker waits at."""
        return getattr(self.client, "pacer", None)

    def close(self) -> None:
        """Give up the claim token: rows still held by it become reclaimable at once."""
        outbox.LIVE_TOKENS.discard(self.token)

    def __enter__(self) -> Submitter:
        """Use the submitter in a ``with`` block so its workers are always shut down."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Shut the workers down."""
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
            chunk = SubmitReport()
            chunk.tally(self.machine.follow_rows(rows))
            report.add(self._published(chunk, store))
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
            if chunk.rate_limited == len(rows):
                report.fatal.append(WishRateLimited("every call of a chunk was rate limited; stopping this pass"))
                break
        if not report.fatal:
            report.add(self._read_back_settled())
        return report

    def _read_back_settled(self) -> SubmitReport:
        """Settle the rows parked because a send of theirs may still land at Wish.

        Wait until the latest of them has settled (at most ``in_run_wait``), then step them again: ours on the order ->
        submitted, still absent -> sent again (which may park them once more, up to ``MAX_SENDS_PER_RUN`` rounds). What
        is left stays parked for the next run's reconcile.
        """
        report = SubmitReport()
        for _ in range(MAX_SENDS_PER_RUN):
            if not self._settling:
                break
            settling, self._settling = self._settling, {}
            wait = (max(at for _, at in settling.values()) - self.machine.clock()).total_seconds()
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
        outcomes = self.machine.run(rows, self.token)
        for o in outcomes:
            if o.settles_at is not None:
                self._settling[o.row.shipment_id] = (o.row.store, o.settles_at)
        report = SubmitReport()
        report.tally(outcomes)
        return self._published(report, rows[0].store)

    def _published(self, report: SubmitReport, store: str) -> SubmitReport:
        """Hand the orders read back to ``on_payloads`` (the warehouse re-records them).

        The report keeps the counts.
        """
        if self.on_payloads is not None and report.payloads:
            try:
                self.on_payloads(store, report.payloads)
            except Exception:  # noqa: BLE001 - recording orders is a convenience; the outbox is the truth
                logger.exception("could not re-record shipped orders in the warehouse")
        report.payloads = []
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


__all__ = ["TRACKING", "SubmitReport", "Submitter", "TrackingKind", "record_orders"]
