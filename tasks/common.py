"""What every task shares: the retry policy and per-process engine cache."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from wishflow.api.errors import is_retryable
from wishflow.errors import is_config_error
from wishflow.warehouse.engine import make_engine

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine (connection pool) per warehouse URL per process."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry transient Wish errors and lost database connections only.

    Configuration errors, rejected requests and bugs fail at once: retrying cannot fix them.
    """
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - a state we cannot read is not worth retrying
        return False
    if isinstance(exc, BaseException) and is_config_error(exc):
        return False  # an unmigrated warehouse, a missing database, a rejected token: a person must fix it
    lost_connection = isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
    return is_retryable(exc) or lost_connection


def retry_unless_config_error(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` for tasks that retry any failure: anything but a configuration error."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - a state we cannot read is not worth retrying
        return False
    return not (isinstance(exc, BaseException) and is_config_error(exc))
