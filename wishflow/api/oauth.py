"""Wish's OAuth authorization-code flow: the first token of a store (``wishflow auth login``).

Wish's spec (``wish-api/openapi/wish-oauth-api-openapi.yml``, ``securitySchemes.OAuth2``): the merchant
approves the app at ``authorizationUrl`` ``https://merchant.wish.com/v3/oauth/authorize`` (the API root's
host, without ``/api``), Wish redirects to the app's redirect URI with ``?code=...``, and the app trades
the code at ``GET /api/v3/oauth/access_token`` (``client_id``, ``client_secret``, ``code``,
``grant_type=authorization_code``, ``redirect_uri``) for an ``AccessToken`` (access and refresh token,
``expiry_time``, ``merchant_id``). A code is redeemed once.

The Wishflow sandbox has no consent page; its equivalent is ``POST /sandbox/oauth/code``, which mints
a code as if the merchant had approved (sandbox STATUS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from wishflow.api.auth import AppCredentials, TokenSet, parse_expiry, token_set_from_payload
from wishflow.api.client import WishClient

#: Where Wish's authorize page sits below the API root's host (spec: ``authorizationUrl``).
AUTHORIZE_PATH = "/v3/oauth/authorize"
SANDBOX_CODE_PATH = "/sandbox/oauth/code"


@dataclass(frozen=True)
class LoginResult:
    """What a code exchange gave: the tokens (secret) and whose they are."""

    tokens: TokenSet
    merchant_id: str | None
    scopes: tuple[str, ...] = ()


def host_root(api_base_url: str) -> str:
    """``https://merchant.wish.com/api/v3`` -> ``https://merchant.wish.com`` (the path before ``/api``)."""
    parts = urlsplit(api_base_url.rstrip("/"))
    path = parts.path
    cut = path.find("/api/")
    path = path[:cut] if cut >= 0 else (path[:-4] if path.endswith("/api") else path)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def authorize_url(api_base_url: str, client_id: str, *, state: str | None = None) -> str:
    """The page where the merchant approves the app (Wish's ``authorizationUrl`` on the API root's host)."""
    query = {"client_id": client_id, **({"state": state} if state else {})}
    return f"{host_root(api_base_url)}{AUTHORIZE_PATH}?{urlencode(query)}"


def sandbox_code_url(api_base_url: str) -> str:
    """The sandbox's stand-in for the consent page: ``POST`` here mints an authorization code."""
    return f"{host_root(api_base_url)}{SANDBOX_CODE_PATH}"


def sandbox_mint_code(api_base_url: str, timeout: float = 30.0) -> tuple[str, str]:
    """(code, redirect_uri) from the sandbox, as if the merchant had approved the app."""
    response = httpx.post(sandbox_code_url(api_base_url), timeout=timeout)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return str(body["code"]), str(body["redirect_uri"])


def sandbox_app(api_base_url: str, timeout: float = 30.0) -> tuple[AppCredentials, str]:
    """The sandbox's app credentials and redirect URI (its admin ``/sandbox/credentials``)."""
    response = httpx.get(f"{host_root(api_base_url)}/sandbox/credentials", timeout=timeout)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return AppCredentials(str(body["client_id"]), SecretStr(str(body["client_secret"]))), str(body["redirect_uri"])


def exchange_code(client: WishClient, app: AppCredentials, code: str, redirect_uri: str) -> LoginResult:
    """``GET /oauth/access_token``: trade an authorization code for the store's tokens."""
    data = client.request(
        "GET",
        "/oauth/access_token",
        params={
            "client_id": app.client_id,
            "client_secret": app.client_secret.get_secret_value(),
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        },
        auth=False,
        write=True,  # changes state at Wish (revokes / redeems): never resent blindly
    )
    tokens = token_set_from_payload(data)
    scopes = tuple(str(s) for s in data.get("scopes") or ())
    merchant = data.get("merchant_id")
    return LoginResult(tokens, str(merchant) if merchant else None, scopes)


__all__ = [
    "AUTHORIZE_PATH",
    "LoginResult",
    "authorize_url",
    "exchange_code",
    "host_root",
    "parse_expiry",
    "sandbox_app",
    "sandbox_code_url",
    "sandbox_mint_code",
]
