"""Checks of how Wishflow is exposed, for ``wishflow doctor`` (no Prefect import: a plain probe).

A Prefect server without authentication lets whoever reaches it start any deployment with any
parameters, which for Wishflow means shipping orders or changing a customer's address. On loopback
only this machine can reach it; anywhere else it must sit behind Prefect's own API authentication
(``PREFECT_SERVER_API_AUTH_STRING`` on the server, ``PREFECT_API_AUTH_STRING`` on every client) and
a reverse proxy with TLS (docs/security.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

#: answers only with valid credentials when the server has an auth string (``/health`` never asks)
PROBE_PATH = "/admin/version"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (localhost, 127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def unauthenticated_probe(url: str, timeout: float = 5.0) -> int:
    """GET ``url`` with no credentials; its HTTP status."""
    import httpx

    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        return client.get(url).status_code


def prefect_api_unauthenticated_warning(
    api_url: str | None, probe: Callable[[str], int] = unauthenticated_probe
) -> str | None:
    """A warning when the Prefect API at ``api_url`` answers anyone on a non-loopback address.

    That is: it answers a request without credentials (or is reached over plain HTTP). ``None`` when all
    is well or the answer cannot be had (an unreachable API is reported elsewhere).

    ``probe(url)`` performs ``GET url`` without credentials and returns the status code.
    """
    if not api_url:
        return None
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if not host or is_loopback(host):
        return None
    try:
        status = probe(api_url.rstrip("/") + PROBE_PATH)
    except Exception:  # noqa: BLE001 - unreachable: not this check's finding
        return None
    advice = (
        "set PREFECT_SERVER_API_AUTH_STRING on the server and PREFECT_API_AUTH_STRING on every client, "
        "and serve it through a reverse proxy with TLS (docs/security.md)"
    )
    if 200 <= status < 300:
        return (
            f"the Prefect API at {parts.scheme}://{parts.netloc} answers without authentication on a "
            f"non-loopback address: anyone who reaches it can start runs that ship orders; {advice}"
        )
    if parts.scheme == "http":
        return (
            f"the Prefect API at {parts.scheme}://{parts.netloc} is reached over plain HTTP on a non-loopback "
            "address: its credentials travel in clear text; serve it through a reverse proxy with TLS "
            "(docs/security.md)"
        )
    return None
