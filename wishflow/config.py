"""Configuration resolved at run time, never at import: environment variables, else the embedded
defaults (the sandbox on loopback and a SQLite warehouse under the working directory).

Prefect blocks sit above this (``blocks/``): a named block wins, then these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from wishflow.warehouse.engine import default_url

DEFAULT_API_BASE_URL = "http://127.0.0.1:8765/api/v3"
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
    """``WISH_API_BASE_URL``, ``WISH_ACCESS_TOKEN``, ``WISH_REFRESH_TOKEN``, ``WISH_CLIENT_ID``,
    ``WISH_CLIENT_SECRET`` and ``WISHFLOW_STORE``; without a token, the default sandbox's token."""
    env = os.environ if environ is None else environ
    token = env.get("WISH_ACCESS_TOKEN")
    if not token:
        # The embedded default: the sandbox served with its default seed (``wishflow sandbox serve``),
        # whose credentials are derived from the seed.
        from wishflow.sandbox import Sandbox, SandboxConfig

        sandbox = Sandbox(SandboxConfig(seed=int(env.get("WISHFLOW_SANDBOX_SEED", "0")), orders=0))
        return WishSettings(
            api_base_url=env.get("WISH_API_BASE_URL", DEFAULT_API_BASE_URL),
            access_token=SecretStr(sandbox.access_token),
            store=env.get("WISHFLOW_STORE", DEFAULT_STORE),
            refresh_token=SecretStr(sandbox.refresh_token),
            client_id=sandbox.client_id,
            client_secret=SecretStr(sandbox.client_secret),
        )
    return WishSettings(
        api_base_url=env.get("WISH_API_BASE_URL", DEFAULT_API_BASE_URL),
        access_token=SecretStr(token),
        store=env.get("WISHFLOW_STORE", DEFAULT_STORE),
        refresh_token=_secret(env.get("WISH_REFRESH_TOKEN")),
        client_id=env.get("WISH_CLIENT_ID") or None,
        client_secret=_secret(env.get("WISH_CLIENT_SECRET")),
    )


def warehouse_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``WISHFLOW_WAREHOUSE_URL`` (a SQLAlchemy URL), else the embedded SQLite file."""
    env = os.environ if environ is None else environ
    return env.get("WISHFLOW_WAREHOUSE_URL") or default_url()
