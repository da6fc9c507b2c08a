"""``wishflow auth login|status``: obtain a store's first token the Wish way, and see whose it is.

``login`` prints the page where the merchant approves the app (Wish's authorize URL; for the sandbox,
which has no consent page, its code endpoint), takes the code (``--code`` or a prompt), trades it at
``GET /oauth/access_token`` and saves the tokens in the store's token file (``wishflow.api.token_store``)
and, with ``--block``, in that credentials block. ``status`` calls ``/oauth/test`` and prints the
merchant and the expiry. Neither ever prints a token.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

SANDBOX_PROFILE = "sandbox"


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if args.store:
        env["WISHFLOW_STORE"] = args.store
    if getattr(args, "api_url", None):
        env["WISH_API_BASE_URL"] = args.api_url
    return env


def _is_sandbox_root(api_base_url: str, env: Mapping[str, str]) -> bool:
    """The sandbox is used only when asked for: the embedded default root, or ``WISHFLOW_PROFILE=sandbox``."""
    from wishflow.config import DEFAULT_API_BASE_URL

    if env.get("WISHFLOW_PROFILE", "").lower() == SANDBOX_PROFILE:
        return True
    return api_base_url.rstrip("/") == DEFAULT_API_BASE_URL.rstrip("/")


def _expiry_text(expires_at: datetime | None) -> str:
    if expires_at is None:
        return "expiry unknown (Wish states it only when a token is issued; `wishflow auth login` records it)"
    days = (expires_at - datetime.now(UTC)).total_seconds() / 86400
    when = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if days < 0:
        return f"expired {when} (it is refreshed on the next call when a refresh token and app are configured)"
    return f"expires {when} (in {days:.1f} days)"


def run_login(args: argparse.Namespace) -> int:
    """``wishflow auth login``: approve the app at Wish, exchange the code, and save the store's tokens."""
    from wishflow.api import oauth
    from wishflow.api.auth import AppCredentials, TokenSet
    from wishflow.api.client import WishClient
    from wishflow.api.errors import WishError
    from wishflow.api.token_store import TokenStore, state_dir
    from wishflow.config import DEFAULT_API_BASE_URL, DEFAULT_STORE

    env = _env(args)
    block: Any = None
    if args.block:
        from blocks.loading import load_block
        from blocks.wish import WishCredentials

        block = load_block(WishCredentials, args.block)
        root, store_name = block.api_base_url, args.store or block.store
        client_id, secret = block.client_id, block.client_secret
    else:
        root = env.get("WISH_API_BASE_URL") or DEFAULT_API_BASE_URL
        store_name = env.get("WISHFLOW_STORE") or DEFAULT_STORE
        client_id = env.get("WISH_CLIENT_ID") or None
        secret = SecretStr(env["WISH_CLIENT_SECRET"]) if env.get("WISH_CLIENT_SECRET") else None
    sandbox = _is_sandbox_root(root, env)
    redirect_uri = args.redirect_uri or env.get("WISH_REDIRECT_URI") or None
    try:
        if sandbox and (not client_id or secret is None or not redirect_uri):
            app, sandbox_redirect = oauth.sandbox_app(root)
            client_id, secret = client_id or app.client_id, secret or app.client_secret
            redirect_uri = redirect_uri or sandbox_redirect
    except Exception as exc:  # the sandbox is not running there
        return _fail(
            f"cannot reach the sandbox at {oauth.host_root(root)} ({type(exc).__name__}): start it with "
            "`wishflow sandbox serve` or set WISH_API_BASE_URL"
        )
    if not client_id or secret is None:
        return _fail(
            "no Wish app credentials: set WISH_CLIENT_ID and WISH_CLIENT_SECRET (your app's, from the Wish "
            "merchant dashboard's API settings) or pass --block with a Wish Credentials block that has them"
        )
    if not redirect_uri:
        return _fail(
            "no redirect URI: set WISH_REDIRECT_URI (or --redirect-uri) to the one registered for your Wish app"
        )
    app = AppCredentials(client_id, secret)

    code = args.code
    if sandbox:
        print("The sandbox has no consent page; its equivalent of Wish's authorize URL mints a code:")
        print(f"  POST {oauth.sandbox_code_url(root)}")
        if not code:
            code, _ = oauth.sandbox_mint_code(root)
            print("  (code minted)")
    else:
        print("Open this URL as the merchant, approve the app, and copy the `code` from the page Wish redirects to:")
        print(f"  {oauth.authorize_url(root, client_id)}")
    if not code:
        try:
            code = input("code: ").strip()
        except EOFError:
            code = ""
    if not code:
        return _fail("no authorization code given (pass --code or type it at the prompt)")

    try:
        with WishClient(root, TokenSet(SecretStr(""))) as client:
            result = oauth.exchange_code(client, app, code, redirect_uri)
    except WishError as exc:
        return _fail(f"Wish refused the code exchange at {root}: {exc}")

    superseded: list[SecretStr] = []
    if block is not None:
        superseded.append(block.access_token)
    elif env.get("WISH_ACCESS_TOKEN"):
        superseded.append(SecretStr(env["WISH_ACCESS_TOKEN"]))
    else:
        try:
            from wishflow.config import wish_settings_from_env

            superseded.append(wish_settings_from_env(env).access_token)  # the embedded default's token
        except Exception:  # no default token for this root: nothing to supersede
            pass
    store = TokenStore(store_name, root, state_dir(env))
    with store.locked():
        store.save(result.tokens, merchant_id=result.merchant_id, source="login", supersedes=superseded)
    if block is not None:
        block._save_tokens(result.tokens)
    merchant = result.merchant_id or "unknown"
    print(f"logged in: store {store_name}, merchant {merchant}; {_expiry_text(result.tokens.expires_at)}")
    print(f"tokens saved to {store.path} (owner-only)" + (f" and to block {args.block}" if block is not None else ""))
    return 0


def run_status(args: argparse.Namespace) -> int:
    """``wishflow auth status``: which token the store would use, where it comes from, and whether Wish accepts it."""
    from wishflow.api.errors import WishError
    from wishflow.api.token_store import token_fingerprint

    env = _env(args)
    try:
        if args.block:
            from blocks.loading import load_block
            from blocks.wish import WishCredentials

            block: Any = load_block(WishCredentials, args.block)
            client = block.build_client()
            store_name, source, stored = block.store, f"block {args.block}", None
        else:
            from wishflow.api.factory import client_from_env, env_token_store

            client = client_from_env(env)
            store_name = env.get("WISHFLOW_STORE") or "default"
            stored = env_token_store(env).load()
            source = "environment"
    except WishError as exc:
        return _fail(str(exc))
    with client:
        try:
            merchant = client.test_token().get("merchant_id")
        except WishError as exc:
            return _fail(f"the token for store {store_name} at {client.base_url} is not valid: {exc}")
        tokens = client.tokens
    expires_at = tokens.expires_at
    if stored is not None and token_fingerprint(stored.tokens.access_token) == token_fingerprint(tokens.access_token):
        source = f"token file {env_token_store(env).path}"
        expires_at = expires_at or stored.tokens.expires_at
    print(f"store {store_name} at {client.base_url}: token of merchant {merchant} (from {source})")
    print(_expiry_text(expires_at))
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow auth`` and its subcommands."""
    auth = subparsers.add_parser("auth", help="obtain and check the store's Wish OAuth token")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True)

    login = auth_sub.add_parser("login", help="approve the app at Wish, exchange the code, save the tokens")
    login.add_argument("--store", help="the store's name (default: WISHFLOW_STORE or 'default')")
    login.add_argument("--api-url", help="API root including /api/v3 (default: WISH_API_BASE_URL)")
    login.add_argument("--code", help="the authorization code from Wish's redirect (else prompted)")
    login.add_argument("--redirect-uri", help="the app's registered redirect URI (default: WISH_REDIRECT_URI)")
    login.add_argument("--block", help="a Wish Credentials block: app credentials from it, tokens saved to it too")
    login.set_defaults(func=run_login)

    status = auth_sub.add_parser("status", help="whose token the store uses (GET /oauth/test) and when it expires")
    status.add_argument("--store", help="the store's name (default: WISHFLOW_STORE or 'default')")
    status.add_argument("--api-url", help="API root including /api/v3 (default: WISH_API_BASE_URL)")
    status.add_argument("--block", help="check a Wish Credentials block's token instead of the environment's")
    status.set_defaults(func=run_status)
