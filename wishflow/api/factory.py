"""Build a :class:`~wishflow.api.client.WishClient` from settings, in one place."""

from __future__ import annotations

from wishflow.api.auth import AppCredentials, TokenSaver, TokenSet
from wishflow.api.client import WishClient
from wishflow.config import WishSettings


def client_from_settings(settings: WishSettings, on_token_refresh: TokenSaver | None = None) -> WishClient:
    app = None
    if settings.client_id and settings.client_secret is not None:
        app = AppCredentials(settings.client_id, settings.client_secret)
    return WishClient(
        settings.api_base_url,
        TokenSet(settings.access_token, settings.refresh_token),
        app=app,
        on_token_refresh=on_token_refresh,
    )
