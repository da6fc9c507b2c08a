"""Serving the sandbox with uvicorn: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from .app import create_app
from .config import SandboxConfig
from .core import Sandbox


class _DropCutOffNoise(logging.Filter):
    """Injected cut-off responses make uvicorn log an error; they are intended, so hide them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def quiet_uvicorn_logs() -> None:
    """Hide uvicorn's error log for the cut-off responses the fault injection produces on purpose."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropCutOffNoise) for f in logger.filters):
        logger.addFilter(_DropCutOffNoise())


def build_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    """A sandbox from ``config``, restored from its state file when one exists."""
    config = config or SandboxConfig()
    if config.state_file:
        from .persist import load_state

        sandbox = load_state(config.state_file, config)
        if sandbox is not None:
            return sandbox
    return Sandbox(config)


def _uvicorn_config(app: Any, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        date_header=False,  # the app sends Date from the sandbox clock
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        http="h11",
        loop="asyncio",
    )


class RunningSandbox:
    """A sandbox served by uvicorn in a daemon thread. Use as a context manager or call :meth:`stop`."""

    def __init__(self, sandbox: Sandbox, server: uvicorn.Server, thread: threading.Thread, host: str, port: int):
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._server = server
        self._thread = thread
        self.base_url = f"http://{host}:{port}"
        self.api_url = f"{self.base_url}/api/v3"

    @property
    def access_token(self) -> str:
        """The latest access token (it changes after a refresh, which revokes the older ones)."""
        return self.sandbox.access_token

    @property
    def refresh_token(self) -> str:
        """The latest refresh token."""
        return self.sandbox.refresh_token

    @property
    def client_id(self) -> str:
        """The app's client id, for the OAuth exchanges."""
        return self.sandbox.client_id

    @property
    def client_secret(self) -> str:
        """The app's client secret, for the OAuth exchanges."""
        return self.sandbox.client_secret

    @property
    def merchant_id(self) -> str:
        """The merchant the tokens belong to."""
        return self.sandbox.merchant_id

    def stop(self) -> None:
        """Stop serving (waiting up to 10 s) and save the state file if the sandbox has one."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self.sandbox.config.state_file:
            from .persist import save_state

            save_state(self.sandbox, self.sandbox.config.state_file)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sandbox: Sandbox | None = None,
    log_level: str = "warning",
) -> RunningSandbox:
    """Serve a sandbox on ``host:port`` (0 = a free port) in a daemon thread; returns once it accepts."""
    quiet_uvicorn_logs()
    sandbox = sandbox or build_sandbox(config)
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(create_app(sandbox), log_level))
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]  # not the main thread
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"wish-sandbox-{actual_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    return RunningSandbox(sandbox, server, thread, host, actual_port)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0 = a free port)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: without it a response's header and body writes
    # meet Nagle's algorithm and the client's delayed ACK, and every request stalls ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve_forever(sandbox: Sandbox, sock: socket.socket, log_level: str = "warning") -> None:
    """Serve on an already bound socket in the foreground until interrupted (Ctrl-C).

    The state file is saved on the way out.
    """
    quiet_uvicorn_logs()
    server = uvicorn.Server(_uvicorn_config(create_app(sandbox), log_level))
    try:
        server.run(sockets=[sock])
    finally:
        if sandbox.config.state_file:
            from .persist import save_state

            save_state(sandbox, sandbox.config.state_file)
