"""The ``WishCredentials`` block: one store's Wish API access, secrets as ``SecretStr``.

Register with ``prefect block register -m blocks``. A refreshed token set is saved back to the
block at once, because Wish revokes the old access token when it issues a new one.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from wishflow.api.auth import TokenSet
from wishflow.api.client import WishClient
from wishflow.api.factory import client_from_settings
from wishflow.config import DEFAULT_API_BASE_URL, DEFAULT_STORE, WishSettings, wish_settings_from_env


class WishCredentials(Block):
    """Access to one merchant store on the Wish Merchant API v3 (or the Wishflow sandbox)."""

    _block_type_name = "Wish Credentials"
    _block_type_slug = "wish-credentials"
    _description = "OAuth credentials and API root for one Wish merchant store."

    store: str = Field(default=DEFAULT_STORE, description="The store's name in the warehouse.")
    api_base_url: str = Field(
        default=DEFAULT_API_BASE_URL,
        description="API root including /api/v3, e.g. https://merchant.wish.com/api/v3.",
    )
    access_token: SecretStr = Field(description="OAuth access token (valid 30 days).")
    refresh_token: SecretStr | None = Field(default=None, description="OAuth refresh token.")
    client_id: str | None = Field(default=None, description="The Wish app's client id.")
    client_secret: SecretStr | None = Field(default=None, description="The Wish app's client secret.")

    def settings(self) -> WishSettings:
        return WishSettings(
            api_base_url=self.api_base_url,
            access_token=self.access_token,
            store=self.store,
            refresh_token=self.refresh_token,
            client_id=self.client_id,
            client_secret=self.client_secret,
        )

    def _save_tokens(self, tokens: TokenSet) -> None:
        self.access_token = tokens.access_token
        if tokens.refresh_token is not None:
            self.refresh_token = tokens.refresh_token
        if self._block_document_name:
            self.save(self._block_document_name, overwrite=True)

    def build_client(self) -> WishClient:
        return client_from_settings(self.settings(), on_token_refresh=self._save_tokens)


def resolve_wish_settings(block_name: str | None = None) -> WishSettings:
    """The named block's settings, else environment variables, else the local sandbox."""
    if block_name:
        return WishCredentials.load(block_name).settings()  # type: ignore[union-attr]
    return wish_settings_from_env()


def build_wish_client(block_name: str | None = None) -> WishClient:
    """A client for the named block (saving refreshed tokens to it), else from the environment."""
    if block_name:
        block = WishCredentials.load(block_name)
        return block.build_client()  # type: ignore[union-attr]
    return client_from_settings(wish_settings_from_env())
