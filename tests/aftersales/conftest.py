"""Fixtures of the after-sales tests: the tracking tests' helpers, a frozen sandbox clock, a client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tracking"))

from track_helpers import freeze, make_client  # noqa: E402

from wishflow.api.client import WishClient  # noqa: E402


@pytest.fixture
def clock(sandbox: Any) -> Any:
    freeze(sandbox)
    return sandbox


@pytest.fixture
def client(clock: Any) -> Iterator[WishClient]:
    with make_client(clock) as c:
        yield c
