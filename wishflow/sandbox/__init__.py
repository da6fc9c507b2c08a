"""A faithful, stateful simulator of Wish's Merchant API v3, served over real HTTP.

>>> from wishflow.sandbox import SandboxConfig, serve_in_thread
>>> with serve_in_thread(SandboxConfig(seed=1, orders=100)) as running:   # doctest: +SKIP
...     httpx.get(f"{running.api_url}/orders", headers={"Authorization": f"Bearer {running.access_token}"})

See ``STATUS.md`` beside this file for the admin API, error codes and what is implemented.
"""

from .app import create_app
from .config import FAULT_KINDS, FaultConfig, SandboxConfig
from .core import Sandbox
from .errors import SandboxError
from .server import RunningSandbox, serve_in_thread

__all__ = [
    "FAULT_KINDS",
    "FaultConfig",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "create_app",
    "serve_in_thread",
]
