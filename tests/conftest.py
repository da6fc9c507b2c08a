"""Shared fixtures: a real sandbox over loopback HTTP, real warehouses (SQLite and PostgreSQL), and
one Prefect test harness per session (it costs ~12 s, DESIGN.md §7).

PostgreSQL tests run when ``WISHFLOW_TEST_POSTGRES_URL`` points at a server (``.ci/run`` sets it and
insists); without it they are skipped and the session says so at the end.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS", "8")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

PG_ENV = "WISHFLOW_TEST_POSTGRES_URL"
_pg_skipped: list[str] = []


def _postgres_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@contextmanager
def _scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped afterwards; skips the test without PostgreSQL."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        _pg_skipped.append("postgres")
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} to run them")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:  # pragma: no cover - CI must fail loudly here
        pytest.exit(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc}", returncode=3)
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    from wishflow.warehouse.engine import upgrade

    with _scratch_postgres_database("wishflow_test") as url:
        upgrade(url)
        yield url


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    """A PostgreSQL database that exists but was never migrated, dropped after the test."""
    with _scratch_postgres_database("wishflow_empty") as url:
        yield url


def _truncate_all(url: str) -> None:
    from wishflow.warehouse.schema import metadata

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty warehouse: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        from wishflow.warehouse.engine import upgrade

        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[sa.Engine]:
    from wishflow.warehouse.engine import make_engine

    eng = make_engine(warehouse_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own state directory: a token file one test's refresh wrote (keyed on store and API
    root) must not hand a revoked token to the next test on the shared sandbox.
    """
    monkeypatch.setenv("WISHFLOW_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def running_sandbox():  # type: ignore[no-untyped-def]
    """One sandbox server on a free loopback port for the whole session."""
    from wishflow.sandbox import SandboxConfig, serve_in_thread

    server = serve_in_thread(SandboxConfig(seed=7, orders=0))
    yield server
    server.stop()


@pytest.fixture
def sandbox(running_sandbox):  # type: ignore[no-untyped-def]
    """The session sandbox, reset to an empty, fault-free state for this test.

    Tests may tune the running sandbox's config (e.g. ``ship_processing_seconds``); every knob is put
    back to the session's original first, so no test sees another's settings.
    """
    import copy
    import dataclasses

    import httpx

    config = running_sandbox.sandbox.config
    pristine = running_sandbox.__dict__.setdefault("_pristine_config", copy.deepcopy(config))
    for field in dataclasses.fields(pristine):
        setattr(config, field.name, copy.deepcopy(getattr(pristine, field.name)))

    httpx.post(f"{running_sandbox.base_url}/sandbox/reset", json={"seed": 7}, timeout=30).raise_for_status()
    httpx.put(f"{running_sandbox.base_url}/sandbox/faults", json={}, timeout=30).raise_for_status()
    return running_sandbox


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for the session; request it in tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        self.received.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP receiver on a free loopback port; yields its URL and the JSON bodies received."""
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def notify_block(prefect_harness: None, webhook: tuple[str, list[dict]]) -> str:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    url, _ = webhook
    CustomWebhookNotificationBlock(
        name="wishflow-test",
        url=url,
        json_data={"title": "{{subject}}", "text": "{{body}}"},
        allow_private_urls=True,
    ).save("wishflow-test", overwrite=True)
    return "custom-webhook/wishflow-test"


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if _postgres_admin_url() is None:
        terminalreporter.write_line(
            f"NOTE: PostgreSQL tests were skipped ({PG_ENV} is not set); run `make test` under .ci/run "
            "or set it to a server URL to include them.",
            yellow=True,
        )


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Python's own collections off for the test: only what the code under test collects is freed."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
