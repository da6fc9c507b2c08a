"""Fixtures of the tracking tests: a frozen sandbox clock and a client on the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from track_helpers import freeze, make_client

from wishflow.api.client import WishClient


@pytest.fixture
def clock(sandbox: Any) -> Any:
    """The session sandbox with its clock frozen a little ahead of real time."""
    freeze(sandbox)
    return sandbox


@pytest.fixture
def client(clock: Any) -> Iterator[WishClient]:
    with make_client(clock) as c:
        yield c
