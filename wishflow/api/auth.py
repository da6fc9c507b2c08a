"""Access tokens: held as secrets, refreshed through Wish's OAuth endpoint, handed back to be saved.

Refreshing revokes the old token at Wish, so the new token set must be persisted by the caller
(the credentials block); the client calls ``on_refresh`` with it before using it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr


@dataclass
class TokenSet:
    """The tokens in use. ``repr`` never shows them (pydantic's SecretStr)."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class AppCredentials:
    """The OAuth app a refresh is made for."""

    client_id: str
    client_secret: SecretStr


TokenSaver = Callable[[TokenSet], None]
