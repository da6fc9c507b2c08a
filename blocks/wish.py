"""The ``WishCredentials`` block: one store's Wish API access, secrets as ``SecretStr``.

Register with ``prefect block register -m blocks``. A refreshed token set is saved back to the
block at once, because Wish revokes the old access token when it issues a new one. Every process
using the block refreshes under the store's file lock and first re-reads the block, so one refresh
serves them all and the block never ends up holding a revoked token
(:mod:`wishflow.api.token_refresh`).
"""

from __future__ import annotations

import contextlib

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from blocks.loading import load_block
from wishflow.api.auth import TokenSet
from wishflow.api.client import WishClient
from wishflow.api.factory import client_from_env, client_from_settings, settings_from_env_and_token_file
from wishflow.api.token_store import TokenStore
from wishflow.config import DEFAULT_API_BASE_URL, DEFAULT_STORE, WishSettings


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
        """The block's fields as the library's :class:`WishSettings` (the form every client is built from)."""
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
        """A client whose refreshed tokens are written back to this block, so every worker uses the newest."""
        return client_from_settings(self.settings(), token_persistence=BlockTokenPersistence(self))


class BlockTokenPersistence:
    """Refreshed tokens go to the block, under the store's cross-process lock (the token file's lock).

    ``load`` reads the saved block again, so a process that waited on the lock picks up the token
    another process just refreshed instead of refreshing (and revoking it) a second time.
    """

    def __init__(self, block: WishCredentials) -> None:
        self.block = block
        self._lock_store = TokenStore(block.store, block.api_base_url)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The token store's cross-process lock, taken around a refresh."""
        return self._lock_store.locked()

    def load(self) -> TokenSet | None:
        """The block's tokens as saved now (another process may have refreshed them), or None if never saved."""
        name = self.block._block_document_name
        if not name:
            return None
        saved = load_block(WishCredentials, name)
        return TokenSet(saved.access_token, saved.refresh_token)

    def save(self, tokens: TokenSet, replaced: TokenSet) -> None:  # noqa: ARG002 (TokenPersistence's signature)
        """Write the new tokens to the block (the replaced ones are already revoked at Wish)."""
        self.block._save_tokens(tokens)


def resolve_wish_settings(block_name: str | None = None) -> WishSettings:
    """The named block's settings, else environment variables (with the token file's newer tokens)."""
    if block_name:
        return load_block(WishCredentials, block_name).settings()
    return settings_from_env_and_token_file()


def build_wish_client(block_name: str | None = None) -> WishClient:
    """A client for the named block, else from the environment.

    Refreshed tokens are saved to the block, or without one to the token file.
    """
    if block_name:
        return load_block(WishCredentials, block_name).build_client()
    return client_from_env()
