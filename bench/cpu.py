"""CPU seconds per process, read from ``/proc`` (Linux), so a benchmark can say whose core did the work.

The loader runs in a child process and reports its own CPU (``getrusage``, all its threads). This
module measures the others over the same interval: a server process with its descendants (the
list server, ``prefect server``), and PostgreSQL's backends for one database, found through
``pg_stat_activity`` by a sampling thread, because a loader's connections come and go during a run.
Background processes PostgreSQL shares between databases (WAL writer, checkpointer) are not counted:
other work on the same server would land there too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces: fields resume after its closing parenthesis
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0 when it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def tree_cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds (user and system) of the processes ``pids``, summed."""
    return sum(cpu_seconds(p) for p in pids)


class PostgresBackends:
    """CPU seconds PostgreSQL's backends spent on ``database`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, admin_url: str, database: str, interval: float = 0.2) -> None:
        self.engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.database = database
        self.interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at: datetime | None = None

    def _sample(self, conn: sa.Connection) -> None:
        rows = conn.exec_driver_sql(
            "SELECT pid, backend_start > %(t)s FROM pg_stat_activity WHERE datname = %(d)s AND pid <> pg_backend_pid()",
            {"t": self._started_at, "d": self.database},
        ).all()
        for pid, born_after in rows:
            value = cpu_seconds(pid)
            if pid not in self._first:
                self._first[pid] = 0.0 if born_after else value
            if value:
                self._last[pid] = value

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                self._sample(conn)
                self._stop.wait(self.interval)
            self._sample(conn)

    def start(self) -> None:
        """Note the backends' CPU so far and start sampling it every ``interval`` on a thread."""
        with self.engine.connect() as conn:
            self._started_at = conn.exec_driver_sql("SELECT now()").scalar_one()
            self._sample(conn)
        self._thread = threading.Thread(target=self._run, daemon=True, name="pg-cpu-sampler")
        self._thread.start()

    def stop(self) -> float:
        """CPU seconds of the database's backends since :meth:`start`.

        A backend that ended between two samples loses at most its last ``interval``.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.engine.dispose()
        return sum(max(0.0, self._last.get(pid, first) - first) for pid, first in self._first.items())
