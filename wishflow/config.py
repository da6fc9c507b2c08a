"""Configuration resolved at run time, never at import.

Environment variables, else the embedded defaults (the sandbox on loopback and a SQLite warehouse
under the working directory). Whether the sandbox's credentials may be used at all is decided in one
place, :mod:`wishflow.profile`.

Prefect blocks sit above this (``blocks/``): a named block wins, then these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from wishflow.errors import ConfigError
from wishflow.profile import EMBEDDED_API_BASE_URL, profile_for
from wishflow.warehouse.engine import default_url

DEFAULT_API_BASE_URL = EMBEDDED_API_BASE_URL
DEFAULT_STORE = "default"


@dataclass(frozen=True)
class WishSettings:
    """How to reach one store's Wish API. Secrets stay ``SecretStr`` until the request is sent."""

    api_base_url: str
    access_token: SecretStr
    store: str = DEFAULT_STORE
    refresh_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def wish_settings_from_env(environ: Mapping[str, str] | None = None) -> WishSettings:
    """The Wish settings from the environment.

    ``WISH_API_BASE_URL``, ``WISH_ACCESS_TOKEN``, ``WISH_REFRESH_TOKEN``, ``WISH_CLIENT_ID``,
    ``WISH_CLIENT_SECRET`` and ``WISHFLOW_STORE``.

    Without a token, the sandbox's seed credentials are used only in the embedded default (no API
    root) or the explicit sandbox profile (``WISHFLOW_PROFILE=sandbox``); for any other API root a
    missing token is a :class:`~wishflow.errors.ConfigError`, never a silent fallback.
    """
    env = os.environ if environ is None else environ
    api_base_url = env.get("WISH_API_BASE_URL") or DEFAULT_API_BASE_URL
    check_api_base_url(api_base_url)
    token = env.get("WISH_ACCESS_TOKEN")
    if not token:
        profile = profile_for(env.get("WISH_API_BASE_URL"), env)
        if not profile.uses_sandbox:
            raise ConfigError(
                f"WISH_ACCESS_TOKEN is not set for the Wish API at {api_base_url}",
                hint="run `wishflow auth login` or set WISH_ACCESS_TOKEN (for a sandbox, set WISHFLOW_PROFILE=sandbox)",
            )
        # The sandbox served with its seed (``wishflow sandbox serve``): credentials derive from it.
        from wishflow.sandbox import Sandbox, SandboxConfig

        sandbox = Sandbox(SandboxConfig(seed=int(env.get("WISHFLOW_SANDBOX_SEED", "0")), orders=0))
        return WishSettings(
            api_base_url=api_base_url,
            access_token=SecretStr(sandbox.access_token),
            store=env.get("WISHFLOW_STORE", DEFAULT_STORE),
            refresh_token=SecretStr(sandbox.refresh_token),
            client_id=sandbox.client_id,
            client_secret=SecretStr(sandbox.client_secret),
        )
    return WishSettings(
        api_base_url=api_base_url,
        access_token=SecretStr(token),
        store=env.get("WISHFLOW_STORE", DEFAULT_STORE),
        refresh_token=_secret(env.get("WISH_REFRESH_TOKEN")),
        client_id=env.get("WISH_CLIENT_ID") or None,
        client_secret=_secret(env.get("WISH_CLIENT_SECRET")),
    )


def check_api_base_url(url: str) -> str:
    """``url`` if it is an http(s) API root with a host; else a :class:`ConfigError`."""
    parsed = urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            f"WISH_API_BASE_URL {url!r} is not an http(s) URL",
            hint="set it to the API root including /api/v3, e.g. https://merchant.wish.com/api/v3",
        )
    return url


def check_warehouse_url(url: str) -> str:
    """``url`` if SQLAlchemy can parse it and knows its dialect; else a :class:`ConfigError`."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"the warehouse URL is malformed ({type(exc).__name__})",
            hint="set WISHFLOW_WAREHOUSE_URL to a SQLAlchemy URL such as "
            "postgresql+psycopg2://user@host:5432/wishflow or sqlite:///.wishflow/warehouse.db",
        ) from None
    return url


def warehouse_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``WISHFLOW_WAREHOUSE_URL`` (a SQLAlchemy URL), else the embedded SQLite file."""
    env = os.environ if environ is None else environ
    return check_warehouse_url(env.get("WISHFLOW_WAREHOUSE_URL") or default_url())


def check_api_reachable(url: str, timeout: float = 5.0) -> None:
    """Open (and close) a TCP connection to the API root's host:port; no HTTP request is sent.

    When nothing answers, a :class:`ConfigError` names them and ``WISH_API_BASE_URL``.
    """
    import socket

    parsed = urlsplit(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Wish API at {host}:{port} ({exc.strerror or type(exc).__name__})",
            hint="check WISH_API_BASE_URL (or the WishCredentials block's api_base_url) and the network",
        ) from None
