"""Conformance fixtures: one sandbox per session on loopback, reset before each test, and the spec
checker (spec_check.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openapi_core import Config, OpenAPI

from wishflow.sandbox import RunningSandbox, SandboxConfig, serve_in_thread

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spec_check import Checker  # noqa: E402

SPEC = Path(__file__).resolve().parents[3] / "shared" / "wish-api" / "openapi" / "wish-marketplace-v3-openapi.json"
if not SPEC.exists():  # the spec lives beside the repository, at ../shared/wish-api/openapi/
    SPEC = Path("/work/shared/wish-api/openapi/wish-marketplace-v3-openapi.json")
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SEED = 11


@pytest.fixture(scope="session")
def spec() -> tuple[OpenAPI, dict[str, Any]]:
    if not SPEC.exists():
        pytest.skip("Wish's OpenAPI file is not available")
    openapi = OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))
    return openapi, orjson.loads(SPEC.read_bytes())


@pytest.fixture(scope="session")
def server() -> Iterator[RunningSandbox]:
    running = serve_in_thread(SandboxConfig(seed=SEED, orders=0, start_time=START, ship_processing_seconds=0))
    yield running
    running.stop()


@pytest.fixture
def running(server: RunningSandbox) -> RunningSandbox:
    """The session server with a clean state, the default profiles and the first token."""
    server.sandbox.config.read_profile = "documented"
    server.sandbox.config.data_profile = None
    server.sandbox.config.ship_processing_seconds = 0
    httpx.put(f"{server.base_url}/sandbox/faults", json={}, timeout=30).raise_for_status()
    httpx.post(f"{server.base_url}/sandbox/reset", json={"seed": SEED}, timeout=60).raise_for_status()
    return server


@pytest.fixture
def admin(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{running.base_url}/sandbox", timeout=60) as client:
        yield client


@pytest.fixture
def check(spec: tuple[OpenAPI, dict[str, Any]], running: RunningSandbox) -> Iterator[Checker]:
    checker = Checker(spec, running)
    yield checker
    checker.client.close()
