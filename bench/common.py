"""What every benchmark shares: sandbox process, fresh database, machine, medians.

The sandbox runs in its own process, each run gets a fresh PostgreSQL database, the machine is described
for the results, and figures are medians over repeated runs.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
#: the pid of the ``prefect server`` that :func:`prefect_server_process` started (its CPU is reported)
PREFECT_SERVER_PID: int | None = None
PG_ADMIN_URL = os.environ.get("WISHFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@dataclass
class RunningSandboxProcess:
    """A sandbox serving in a child process: its URLs, a valid access token and the process."""

    base_url: str
    api_url: str
    access_token: str
    process: subprocess.Popen[str]

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        """Call the sandbox's admin API (seeding, clock); returns the answer's ``data``."""
        r = httpx.request(method, f"{self.base_url}{path}", timeout=600, **kw)
        r.raise_for_status()
        body = r.json()
        return body.get("data", body) if isinstance(body, dict) else body


def free_port() -> int:
    """A TCP port free on localhost right now, for a server started next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_process(orders: int = 0, seed: int = 11, rate_limit: int | None = None) -> Iterator[RunningSandboxProcess]:
    """``wishflow sandbox serve`` in a subprocess (its own core and GIL), stopped afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "wishflow_cli.main", "sandbox", "serve", "--port", str(port), "--seed", str(seed)]
    cmd += ["--orders", str(orders)]
    if rate_limit:
        cmd += ["--rate-limit", str(rate_limit)]
    with _served(cmd, "the sandbox") as running:
        yield running


@contextmanager
def prerendered_process(orders: int, seed: int = 11) -> Iterator[RunningSandboxProcess]:
    """``python -m bench.prerendered`` in a subprocess: ``sandbox_process``'s orders, pre-rendered.

    The same orders as ``sandbox_process`` with the same seed, served from pre-rendered bytes (see
    :mod:`bench.prerendered`); it has no admin API.
    """
    cmd = [sys.executable, "-m", "bench.prerendered", "--orders", str(orders), "--seed", str(seed)]
    with _served(cmd, "the pre-rendered server") as running:
        yield running


@contextmanager
def _served(cmd: list[str], what: str) -> Iterator[RunningSandboxProcess]:
    """Start a server that prints ``api: URL`` and ``access token: T`` when ready; stop it afterwards.

    Both the sandbox and the pre-rendered server announce themselves that way, so one loop reads both.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    token = api = None
    assert proc.stdout is not None
    deadline = time.time() + 600
    try:
        while time.time() < deadline and (token is None or api is None):
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{what} exited before it was ready")
            if m := re.match(r"api: (\S+)", line):
                api = m.group(1)
            if m := re.match(r"access token: (\S+)", line):
                token = m.group(1)
        if api is None or token is None:
            raise RuntimeError(f"{what} was not ready within 600 s")
        yield RunningSandboxProcess(api.removesuffix("/api/v3"), api, token, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def drop_database(name: str) -> None:
    """Drop a benchmark's database if it exists (its connections closed first)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def fresh_database(name: str) -> str:
    """A new, migrated PostgreSQL database; returns its URL."""
    from wishflow.warehouse.engine import upgrade

    drop_database(name)
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def repeat(runs: int, fn: Callable[[int], float]) -> dict[str, float]:
    """Call ``fn(run_index)`` ``runs`` times; median, min and max of what it returns."""
    values = [fn(i) for i in range(runs)]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": runs}


def machine() -> dict[str, str]:
    """The machine's description (CPU, memory and the like), for the results' header."""
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = ", ".join(
        f"{pkg} {metadata.version(pkg)}"
        for pkg in ("prefect", "great-expectations", "SQLAlchemy", "psycopg2-binary", "httpx", "orjson", "pandas")
    )
    pg = ""
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            pg = conn.exec_driver_sql("SHOW server_version").scalar_one()
        engine.dispose()
    except Exception:  # noqa: BLE001
        pg = "unreachable"
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": mem,
        "python": platform.python_version(),
        "postgresql": pg,
        "packages": versions,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    Linux's ``VmHWM`` belongs to the process image, so a benchmark child started by a big parent
    reports its own peak; ``ru_maxrss`` is preserved across ``execve`` and would report the parent's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def prefect_server_process() -> Iterator[str]:
    """``prefect server start`` in its own process (as production runs it), with a throw-away home.

    Its SQLite database is thrown away too; ``PREFECT_API_URL`` points this process and its children at
    it.

    Without it, each benchmark process would run Prefect's ephemeral API in-process, where its CPU
    and memory are charged to the flows being measured.
    """
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="wishflow-bench-prefect-"))
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        PREFECT_SERVER_DATABASE_TIMEOUT="60",
    )
    log = open(home / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    previous = os.environ.get("PREFECT_API_URL")
    global PREFECT_SERVER_PID
    PREFECT_SERVER_PID = proc.pid
    try:
        deadline = time.time() + 240
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{api_url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("prefect server did not start within 240 s")
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = api_url
        yield api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        PREFECT_SERVER_PID = None
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
