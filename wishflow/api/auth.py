"""Access tokens: held as secrets, refreshed through Wish's OAuth endpoint, handed back to be saved.

Refreshing revokes the old token at Wish, so the new token set must be persisted at once (the token
file of :mod:`wishflow.api.token_store`, or the credentials block); how one refresh is shared by every
thread and process of a store is :mod:`wishflow.api.token_refresh`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def parse_expiry(value: object) -> datetime | None:
    """Wish's ``expiry_time`` (ISO 8601, ``Z`` or offset) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def token_set_from_payload(data: Any, fallback_refresh: SecretStr | None = None) -> TokenSet:
    """A :class:`TokenSet` from Wish's ``AccessToken`` object (``/oauth/access_token``, ``/oauth/refresh_token``)."""
    if not isinstance(data, dict) or not data.get("access_token"):
        from wishflow.api.errors import WishUncertainWriteError

        # the token may have been issued (and older ones revoked) all the same: do not resend blindly
        raise WishUncertainWriteError("OAuth response carries no access_token")
    refresh = data.get("refresh_token")
    return TokenSet(
        access_token=SecretStr(str(data["access_token"])),
        refresh_token=SecretStr(str(refresh)) if refresh else fallback_refresh,
        expires_at=parse_expiry(data.get("expiry_time")),
    )
