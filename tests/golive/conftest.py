"""Going live, rehearsed: the sandbox behind a loopback proxy that serves only Wish's own paths
(``/api/v3/...``) and counts anything else, and the ``wishflow`` command run as a merchant runs it
(a subprocess, configured by environment variables, live profile: no ``WISHFLOW_PROFILE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
WISHFLOW = str(Path(sys.executable).with_name("wishflow"))
PASSED_HEADERS = ("content-type", "date", "wish-request-id", "wish-rate-limit-remaining", "wish-rate-limit-reset")


@dataclass
class WishOnlyProxy:
    """Forwards ``/api/v3/...`` to the sandbox; refuses (404) and records every other path."""

    target: str
    refused: list[str] = field(default_factory=list)
    forwarded: int = 0
    url: str = ""


def _handler(proxy: WishOnlyProxy, client: httpx.Client) -> type[BaseHTTPRequestHandler]:

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not self.path.startswith("/api/v3/"):
                proxy.refused.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            proxy.forwarded += 1
            headers = {
                k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type", "accept")
            }
            response = client.request(self.command, self.path, content=body, headers=headers)
            self.send_response_only(response.status_code)  # no Date of its own: Wish's (the sandbox's) passes
            for key, value in response.headers.items():
                if key.lower() in PASSED_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_PUT = do_POST = do_DELETE = _any  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def proxy(sandbox: Any) -> Iterator[WishOnlyProxy]:
    state = WishOnlyProxy(target=sandbox.base_url)
    client = httpx.Client(base_url=state.target, timeout=60)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, client))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()
    client.close()  # not left to the GC: an open client's socket is a ResourceWarning


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A warehouse that exists but was never migrated (an empty SQLite file, an empty database)."""
    if request.param == "sqlite":
        path = tmp_path / "warehouse.db"
        sa.create_engine(f"sqlite:///{path}").connect().close()
        yield f"sqlite:///{path}"
        return
    yield request.getfixturevalue("empty_postgres_database")  # the root conftest's, dropped after the test


@pytest.fixture
def base_env(prefect_harness: None, tmp_path: Path) -> dict[str, str]:
    """The environment of a merchant's shell: nothing of Wishflow's set, the session's Prefect API."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WISH_", "WISHFLOW_"))}
    env.update(
        {
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "GX_ANALYTICS_ENABLED": "False",
            "DO_NOT_TRACK": "1",
            "PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS": "8",
        }
    )
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def error_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith("error:")]


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> Result:
    done = subprocess.run([WISHFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def sandbox_requests(sandbox: Any) -> int:
    """Requests the sandbox answered on Wish's API (its own request statistics)."""
    stats = httpx.get(f"{sandbox.base_url}/sandbox/stats", timeout=30).json()
    stats = stats.get("data", stats)
    return sum(sum(outcomes.values()) for outcomes in stats["requests"].values())


def sandbox_writes(sandbox: Any) -> int:
    stats = httpx.get(f"{sandbox.base_url}/sandbox/stats", timeout=30).json()
    return int(stats.get("data", stats)["writes"])
