"""Flow-run heartbeats that let a flow end when its work does.

Prefect 3.9 emits a heartbeat event for every flow run (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, 180 s
by default; automations use them to find crashed runs) from a thread that sleeps in one-second steps,
and a synchronous flow joins that thread when it ends. So every flow run of ours ended on the next
whole second after it started: an incremental pull whose work took 0.3 s took 1.1 s, a validation of
1.05 s took 2.1 s, and an ``order_cycle`` paid that again for each of its subflows (bench/PROFILE.md,
stop 29). :func:`install` puts in Prefect's place the same heartbeats (the first when the run starts,
then one per interval, none once the run's state is final) from a thread that waits on its stop
signal instead of sleeping, so the flow's end wakes it at once.

This replaces a private function of the Prefect version the project pins; :func:`install` leaves
Prefect as it is when that function is not the one it was written against, and a test fails then
(tests/flows/test_heartbeats.py), so an upgrade is a decision, not a silent change.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

#: The Prefect release whose ``prefect.flow_engine._send_heartbeats`` this module stands in for.
PREFECT_VERSION = "3.9.1"


def heartbeat_loop(
    stop: threading.Event, interval: float, emit: Callable[[], None], is_final: Callable[[], bool]
) -> None:
    """Emit now and then every ``interval`` seconds until ``stop`` is set or the run's state is final.

    ``emit`` failing is logged by the caller's callable and never ends the loop (Prefect's behaviour).
    """
    while not stop.is_set():
        if is_final():
            return
        emit()
        if stop.wait(interval):
            return


@contextmanager
def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Generator[None, None, None]:
    """Prefect's ``_send_heartbeats(engine, join_on_exit)``, with a loop that its exit wakes at once."""
    from prefect import flow_engine

    seconds = engine.heartbeat_seconds
    if seconds is None:
        yield
        return
    interval = max(seconds, flow_engine.MINIMUM_HEARTBEAT_INTERVAL)
    # built once, as Prefect does, so that each heartbeat holds the GIL briefly
    resource, related = engine._build_heartbeat_event_template()
    stop = threading.Event()

    def emit() -> None:
        try:
            engine._emit_flow_run_heartbeat(resource, related)
        except Exception:  # noqa: BLE001 - a heartbeat that fails must not fail the run (Prefect's behaviour)
            engine.logger.debug("Failed to emit heartbeat", exc_info=True)

    def is_final() -> bool:
        run = engine.flow_run
        return bool(run and run.state and run.state.is_final())

    # the caller's context (its settings, so the same API URL), as Prefect copies it for the thread
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(heartbeat_loop, stop, interval, emit, is_final), daemon=True, name="flow-heartbeat"
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join_on_exit:
            thread.join(timeout=2)


def install() -> bool:
    """Use :func:`send_heartbeats` for flow runs in this process; False when Prefect is not the pinned release."""
    import prefect
    from prefect import flow_engine

    current = getattr(flow_engine, "_send_heartbeats", None)
    if current is send_heartbeats:
        return True
    if prefect.__version__ != PREFECT_VERSION or current is None:
        return False
    flow_engine._send_heartbeats = send_heartbeats  # noqa: SLF001
    return True
