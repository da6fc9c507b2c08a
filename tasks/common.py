"""What every task shares: the option presets (retries and caching) and the per-process engine cache.

Every task takes one preset, so which task retries what is decided here, once:

- :data:`API_TASK`: calls Wish. Retried with jittered backoff, only for what is still transient
  after the client's own per-request retries (5xx, timeouts, 429 past the wait budget) or a lost
  database connection.
- :data:`DB_TASK`: reads or writes the warehouse only. Retried briefly, only for a lost connection.
- :data:`NOTIFY_TASK`: sends a message through a notification block (any transport): retried
  unless the failure is a configuration mistake or a bug.
- :data:`LOCAL_TASK`: computes, publishes artifacts or orchestrates: never retried.

None of them retries a configuration error (:mod:`wishflow.errors`) or a bug (``TypeError``,
``KeyError``...): retrying cannot fix either. None caches: every task works on live data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypedDict, TypeVar, cast

from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote
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


def warehouse_engine(warehouse_block: str | None) -> Engine:
    """The engine of the named ``Warehouse`` block (else the environment's warehouse), resolved here, inside the task.

    Its URL may hold a password, so only the block's name crosses the task boundary.
    """
    from blocks.warehouse import resolve_warehouse_url

    return engine_for(resolve_warehouse_url(warehouse_block))


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:  # noqa: ARG001 (Prefect retry_condition_fn signature)
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


#: Exceptions that say the code is wrong, not the world: a retry runs the same bug again.
BUGS: tuple[type[BaseException], ...] = (
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    NameError,
    AssertionError,
    ValueError,
    NotImplementedError,
)


def retry_unless_config_error_or_bug(task: Any, task_run: Any, state: Any) -> bool:  # noqa: ARG001 (Prefect retry_condition_fn signature)
    """``retry_condition_fn`` for tasks whose transient failures have no type of their own (a notification's transport).

    Anything but a configuration error or a bug.
    """
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - a state we cannot read is not worth retrying
        return False
    if not isinstance(exc, BaseException):
        return False
    return not (is_config_error(exc) or isinstance(exc, BUGS))


class TaskOptions(TypedDict, total=False):
    """The ``@task`` options a preset sets (``@task(name=..., **API_TASK)``)."""

    retries: int
    retry_delay_seconds: float | list[float] | Callable[[int], list[float]]
    retry_jitter_factor: float
    retry_condition_fn: Callable[[Any, Any, Any], bool]
    cache_policy: CachePolicy


API_TASK: TaskOptions = {
    "retries": 4,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
    "cache_policy": NO_CACHE,
}
DB_TASK: TaskOptions = {
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": retry_transient,
    "cache_policy": NO_CACHE,
}
NOTIFY_TASK: TaskOptions = {
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": retry_unless_config_error_or_bug,
    "cache_policy": NO_CACHE,
}
LOCAL_TASK: TaskOptions = {"retries": 0, "cache_policy": NO_CACHE}


_T = TypeVar("_T")


class Handoff(Generic[_T]):
    """A large value handed to one task run, which lets go of it once it has succeeded.

    Prefect can keep a finished task run's engine, and with it the run's parameters, alive after
    the run: its transaction stays in a context captured while it ran (a task with a timeout), until
    that context is dropped. In ``validate_orders`` at 1M orders this kept the previous batch's
    50,000-order frame through the next batch's read and validation, now and then: the process's
    peak grew by the frame's size, and by its outcome's (bench/PROFILE.md). A task given a Handoff
    takes the value with :meth:`get` and calls :meth:`release` when it has succeeded (a failed run
    keeps it for a retry); a task that returns one lets its caller :meth:`take` the result out.
    """

    __slots__ = ("_value",)

    def __init__(self, value: _T) -> None:
        self._value: _T | None = value

    def get(self) -> _T:
        """The value; a run that already succeeded and released it is a bug, and raises."""
        if self._value is None:
            raise RuntimeError("this value was handed to a task run that has already succeeded and let go of it")
        return self._value

    def release(self) -> None:
        """Drop the value (the task run has succeeded: nothing reads it again)."""
        self._value = None

    def take(self) -> _T:
        """The value, let go of here: for a task run's result, which the caller takes out."""
        value = self.get()
        self._value = None
        return value


def quoted(value: _T) -> _T:
    """``quote(value)`` for a task argument, typed as the value the task receives.

    Prefect unwraps a quote before the task runs, so the task gets ``value`` itself; quoting only stops Prefect from
    walking the value's contents (for futures and task inputs), which costs seconds on a large frame. ``quote`` is typed
    as its wrapper, hence the cast.
    """
    return cast("_T", quote(value))
