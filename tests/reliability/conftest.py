"""Fixtures of the reliability suite (the machinery lives in ``harness.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("WISHFLOW_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("reliability tests need PostgreSQL: set WISHFLOW_TEST_POSTGRES_URL")
    return url


@pytest.fixture
def fresh_pg(pg_admin_url: str) -> Iterator[str]:
    """A new migrated PostgreSQL database of its own (the crash runs need one per scenario)."""
    from harness import fresh_postgres

    with fresh_postgres(pg_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def prefect_api_url(prefect_harness) -> str:  # type: ignore[no-untyped-def]
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())
