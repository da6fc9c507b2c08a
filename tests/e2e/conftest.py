"""End-to-end fixtures: a real Prefect server in a subprocess, the project's deployments registered
from ``prefect.yaml`` with ``prefect deploy --all``, process workers polling the work pool, and
sandboxes over loopback HTTP.

Everything here is session-scoped: the server takes 10-60 s to start on a busy 2-core machine, so
every e2e test shares one. Each test uses its own store names, so tests never see each other's data.
The server runs with its own ``PREFECT_HOME`` and SQLite database under a temporary directory, with
analytics off; it never touches the developer's Prefect profile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 240
WORK_POOL = "wishflow-process"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_exc!r})")


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """Stop a process this session started, and its children (it leads its own process group)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class PrefectServer:
    api_url: str
    ui_url: str
    home: Path
    log: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def settings(self) -> Any:
        """A context manager pointing this process's Prefect client at the test server."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        return temporary_settings(updates={PREFECT_API_URL: self.api_url})

    def client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)

    def cli(self, *args: str, timeout: float = 240, extra_env: dict[str, str] | None = None) -> str:
        """Run ``prefect ...`` against the server from the repository root; return its output."""
        env = {**self.env, **(extra_env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"prefect {' '.join(args)} failed ({done.returncode}):\n{out[-4000:]}"
        return out

    def start_worker(self, name: str, extra_env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
        """A process worker on the project's work pool; flow runs inherit ``extra_env``."""
        env = {**self.env, **extra_env, "WISHFLOW_PROJECT_DIR": str(REPO)}
        log = open(log_dir / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed below, once the worker has it
        with log:  # the worker writes to its own copy of the descriptor; ours is closed once it has started
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "worker",
                    "start",
                    "--pool",
                    WORK_POOL,
                    "--name",
                    name,
                    "--type",
                    "process",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(proc)
        return proc


def _base_env(home: Path, api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "WISH_", "WISHFLOW_"))}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "False",
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
            "PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS": "4",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """``prefect server start`` on a free loopback port, with its own home and SQLite database."""
    root = tmp_path_factory.mktemp("prefect-server")
    home = root / "home"
    home.mkdir()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = _base_env(home, api_url)
    server_env = {
        **env,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        "PREFECT_UI_API_URL": api_url,
        # SQLite under a loaded machine: wait for locks rather than failing requests
        "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
        "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": "30",
        # event triggers (webhooks -> deployments) need the triggers service, which is on by default
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true",
        # a run waiting for its deployment's slot is retried after this long (default 30 s)
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "3",
    }
    server_env.pop("PREFECT_API_URL")
    log_path = root / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = PrefectServer(api_url=api_url, ui_url=f"http://127.0.0.1:{port}", home=home, log=log_path, env=env)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited:\n{log_path.read_text()[-3000:]}")
        return httpx.get(f"{api_url}/health", timeout=5).status_code == 200

    try:
        wait_until(healthy, SERVER_START_TIMEOUT, interval=0.5, what="the Prefect server")
        yield server
    finally:
        for worker in reversed(server.processes):
            stop_process(worker)
        stop_process(proc, grace=20)
        log.close()


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def e2e_warehouse(e2e_dir: Path) -> str:
    """The warehouse the workers' flow runs write to (a SQLite file, shared by the e2e tests)."""
    from wishflow.warehouse.engine import upgrade

    url = f"sqlite:///{e2e_dir / 'warehouse.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def e2e_sandbox() -> Iterator[Any]:
    """The sandbox the workers' environment points at (store ``default`` credentials)."""
    from wishflow.sandbox import SandboxConfig, serve_in_thread

    running = serve_in_thread(SandboxConfig(seed=71, orders=0, ship_processing_seconds=0))
    yield running
    running.stop()


@pytest.fixture
def e2e_admin(e2e_sandbox: Any) -> Iterator[httpx.Client]:
    """A client on the e2e sandbox's admin endpoints (closed after the test: no socket left to the GC)."""
    with httpx.Client(base_url=e2e_sandbox.base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def deployed(prefect_server: PrefectServer) -> dict[str, dict[str, Any]]:
    """The work pool created and every deployment of ``prefect.yaml`` registered with
    ``prefect deploy --all``, as an operator would; returns the deployments by name.
    """
    prefect_server.cli("work-pool", "create", WORK_POOL, "--type", "process", "--overwrite")
    prefect_server.cli("--no-prompt", "deploy", "--all", timeout=420)
    with prefect_server.client() as client:
        deployments = client.read_deployments()
    return {d.name: d.model_dump(mode="json") for d in deployments}


@pytest.fixture(scope="session")
def worker_env(e2e_sandbox: Any, e2e_warehouse: str) -> dict[str, str]:
    """Every worker's environment: runs without a credentials block use the e2e sandbox."""
    return {
        "WISH_API_BASE_URL": e2e_sandbox.api_url,
        "WISHFLOW_PROFILE": "sandbox",
        "WISH_ACCESS_TOKEN": e2e_sandbox.access_token,
        "WISH_REFRESH_TOKEN": e2e_sandbox.refresh_token,
        "WISH_CLIENT_ID": e2e_sandbox.client_id,
        "WISH_CLIENT_SECRET": e2e_sandbox.client_secret,
        "WISHFLOW_WAREHOUSE_URL": e2e_warehouse,
    }


@pytest.fixture(scope="session")
def worker(
    prefect_server: PrefectServer, deployed: dict[str, Any], worker_env: dict[str, str], e2e_dir: Path
) -> subprocess.Popen[bytes]:
    """One process worker whose flow runs see the e2e sandbox and warehouse through the environment."""
    pause_schedules(prefect_server)
    proc = prefect_server.start_worker("worker-1", worker_env, e2e_dir)

    def online() -> bool:
        if proc.poll() is not None:
            raise RuntimeError((e2e_dir / "worker-worker-1.log").read_text()[-3000:])
        with prefect_server.client() as client:
            workers = client.read_workers_for_work_pool(WORK_POOL)
        return any(w.name == "worker-1" for w in workers)

    wait_until(online, 120, interval=1, what="worker-1 to register with the work pool")
    return proc


def pause_schedules(server: PrefectServer) -> None:
    """Pause every schedule and drop the runs already scheduled, so that only the tests' own runs
    compete for the workers (the deployment test has checked the schedules by then).
    """
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with server.client() as client:
        for deployment in client.read_deployments():
            for schedule in deployment.schedules:
                client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        scheduled = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            limit=200,
        )
        for run in scheduled:
            client.delete_flow_run(run.id)


def wait_for_flow_run(server: PrefectServer, flow_run_id: Any, timeout: float = 240) -> Any:
    """Wait until the flow run is final; return it."""

    def final() -> Any:
        with server.client() as client:
            run = client.read_flow_run(flow_run_id)
        return run if run.state is not None and run.state.is_final() else None

    return wait_until(final, timeout, interval=1, what=f"flow run {flow_run_id} to finish")


def run_logs(server: PrefectServer, flow_run_id: Any) -> str:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    with server.client() as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
    del FlowRunFilter, FlowRunFilterId
    return "\n".join(f"{log.level} {log.message}" for log in logs)
