"""Build a :class:`~wishflow.api.client.WishClient` from settings, in one place.

Environment credentials and the token file meet here: when a token file exists for the store and API
root and it already replaced the environment's token (or the environment has none), the file's newer
tokens are used, and a refresh is saved back to the file at once (under the store's lock) so the next
run does not refresh again. A token the file never saw (set by an operator since) wins over the file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from wishflow.api.auth import AppCredentials, TokenSaver, TokenSet
from wishflow.api.client import WishClient
from wishflow.api.token_refresh import TokenPersistence
from wishflow.api.token_store import FileTokenPersistence, StoredTokens, TokenStore, state_dir
from wishflow.config import DEFAULT_API_BASE_URL, DEFAULT_STORE, WishSettings, wish_settings_from_env


def client_from_settings(
    settings: WishSettings,
    on_token_refresh: TokenSaver | None = None,
    *,
    token_persistence: TokenPersistence | None = None,
) -> WishClient:
    """A :class:`WishClient` for ``settings``, able to refresh its token when app credentials are set.

    Refreshed tokens go to ``token_persistence`` (shared by processes) and to ``on_token_refresh``.
    """
    app = None
    if settings.client_id and settings.client_secret is not None:
        app = AppCredentials(settings.client_id, settings.client_secret)
    return WishClient(
        settings.api_base_url,
        TokenSet(settings.access_token, settings.refresh_token),
        app=app,
        on_token_refresh=on_token_refresh,
        token_persistence=token_persistence,
    )


def env_token_store(environ: Mapping[str, str] | None = None) -> TokenStore:
    """The token file for ``WISHFLOW_STORE`` at ``WISH_API_BASE_URL`` (or their defaults)."""
    env = os.environ if environ is None else environ
    return TokenStore(
        env.get("WISHFLOW_STORE") or DEFAULT_STORE,
        env.get("WISH_API_BASE_URL") or DEFAULT_API_BASE_URL,
        state_dir(env),
    )


def _with_stored(settings: WishSettings, stored: StoredTokens) -> WishSettings:
    return dataclasses.replace(
        settings,
        access_token=stored.tokens.access_token,
        refresh_token=stored.tokens.refresh_token or settings.refresh_token,
    )


def settings_from_env_and_token_file(environ: Mapping[str, str] | None = None) -> WishSettings:
    """Environment settings, with the token file's tokens when they are newer (see the module doc)."""
    env = os.environ if environ is None else environ
    stored = env_token_store(env).load()
    if stored is None:
        return wish_settings_from_env(env)
    try:
        settings = wish_settings_from_env(env)
    except Exception:
        # No usable token in the environment (e.g. a live root after `wishflow auth login`): the
        # file supplies it. Anything else wrong with the environment still raises below.
        if env.get("WISH_ACCESS_TOKEN"):
            raise
        overlay = {**env, "WISH_ACCESS_TOKEN": stored.tokens.access_token.get_secret_value()}
        return _with_stored(wish_settings_from_env(overlay), stored)
    if stored.knows(settings.access_token):
        return _with_stored(settings, stored)
    return settings


def client_from_env(environ: Mapping[str, str] | None = None) -> WishClient:
    """A client from environment credentials whose refreshed tokens persist to the token file."""
    env = os.environ if environ is None else environ
    settings = settings_from_env_and_token_file(env)
    store = TokenStore(settings.store, settings.api_base_url, state_dir(env))
    return client_from_settings(settings, token_persistence=FileTokenPersistence(store))
