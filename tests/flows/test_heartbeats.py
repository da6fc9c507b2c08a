"""Flow-run heartbeats (flows/heartbeats.py): Prefect's heartbeats still go out, and a flow's end wakes the thread."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import prefect
import pytest
from prefect import flow, flow_engine

import flows  # noqa: F401 - importing the package installs the heartbeats
from flows.heartbeats import PREFECT_VERSION, heartbeat_loop, send_heartbeats

ROOT = Path(__file__).resolve().parents[2]


def test_installed_for_the_pinned_prefect() -> None:
    pinned = re.search(r'"prefect==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned is not None
    # an upgrade of Prefect fails here until flows/heartbeats.py is checked against the new release
    assert pinned.group(1) == PREFECT_VERSION == prefect.__version__
    assert flow_engine._send_heartbeats is send_heartbeats


def _run_loop(
    interval: float, *, final: bool = False
) -> tuple[threading.Event, threading.Thread, list[int], threading.Event]:
    stop, emitted, first = threading.Event(), [], threading.Event()

    def emit() -> None:
        emitted.append(len(emitted))
        first.set()

    thread = threading.Thread(target=heartbeat_loop, args=(stop, interval, emit, lambda: final), daemon=True)
    thread.start()
    return stop, thread, emitted, first


def test_the_first_heartbeat_goes_out_at_once_and_the_stop_ends_the_wait() -> None:
    stop, thread, emitted, first = _run_loop(3600)
    assert first.wait(10)
    stop.set()
    # Prefect's own loop sleeps in whole seconds before it looks at its stop signal
    thread.join(timeout=0.5)
    assert not thread.is_alive()
    assert emitted == [0]


def test_heartbeats_repeat_every_interval_until_stopped() -> None:
    stop, thread, emitted, _first = _run_loop(0.01)
    thread.join(timeout=0.3)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(emitted) >= 3


def test_no_heartbeat_once_the_run_is_final() -> None:
    stop, thread, emitted, _first = _run_loop(0.01, final=True)
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert not stop.is_set()
    assert emitted == []


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_emits_its_heartbeat_and_leaves_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, str]] = []
    emit = flow_engine.FlowRunEngine._emit_flow_run_heartbeat

    def recording(self: Any, resource: Any = None, related: Any = None) -> None:
        sent.append(dict(resource or {}))
        emit(self, resource, related)

    monkeypatch.setattr(flow_engine.FlowRunEngine, "_emit_flow_run_heartbeat", recording)

    @flow(name="heartbeat_probe")
    def probe() -> str:
        from prefect.runtime import flow_run

        return str(flow_run.get_id())

    run_id = probe()
    assert [beat["prefect.resource.id"] for beat in sent] == [f"prefect.flow-run.{run_id}"]
    assert not [t for t in threading.enumerate() if t.name == "flow-heartbeat" and t.is_alive()]


def test_a_flow_without_heartbeats_runs_without_a_thread() -> None:
    class NoHeartbeats:
        heartbeat_seconds = None

    with send_heartbeats(NoHeartbeats()):
        assert not [t for t in threading.enumerate() if t.name == "flow-heartbeat"]


def test_every_deployed_flow_file_installs_them() -> None:
    """Prefect loads a deployment's entrypoint file by path: the file itself must import the ``flows`` package."""
    import ast

    entrypoints = re.findall(r"entrypoint:\s*(flows/\w+\.py):", (ROOT / "prefect.yaml").read_text())
    assert len(entrypoints) >= 9
    for path in entrypoints:
        tree = ast.parse((ROOT / path).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert any(name == "flows" or name.startswith("flows.") for name in imported), path
