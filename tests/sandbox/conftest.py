"""Fixtures for the sandbox tests: one server per session on loopback, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from wishflow.sandbox import RunningSandbox, SandboxConfig, serve_in_thread

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SEED = 7


def base_config(**overrides: object) -> SandboxConfig:
    config = SandboxConfig(seed=SEED, orders=120, start_time=START, ship_processing_seconds=2)
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture(scope="session")
def server() -> Iterator[RunningSandbox]:
    running = serve_in_thread(base_config())
    yield running
    running.stop()


@pytest.fixture
def running(server: RunningSandbox) -> RunningSandbox:
    """The session server, reset to the default config and seed (clean state, same tokens)."""
    sandbox = server.sandbox
    defaults = base_config()
    for field in ("orders", "delayed_share", "never_scanned_share", "cancelled_share", "ticket_share"):
        setattr(sandbox.config, field, getattr(defaults, field))
    sandbox.config.ship_processing_seconds = 2
    sandbox.config.bad_order_share = 0.0
    sandbox.config.read_profile = "documented"
    httpx.post(f"{server.base_url}/sandbox/reset", json={"seed": SEED}).raise_for_status()
    return server


@pytest.fixture
def api(running: RunningSandbox) -> Iterator[httpx.Client]:
    """An httpx client on the Wish API root with the sandbox's access token."""
    with httpx.Client(
        base_url=running.api_url, headers={"Authorization": f"Bearer {running.access_token}"}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def admin(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{running.base_url}/sandbox", timeout=30) as client:
        yield client
