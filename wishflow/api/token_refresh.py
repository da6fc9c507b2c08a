"""Single-flight token refresh: one refresh per expired token, whatever the number of threads or processes.

Why: Wish revokes every older access token when it issues a new one. If each of eight threads that saw
"expired" refreshed on its own, each refresh would revoke the token the others had just obtained
(8 refreshes, most calls failing with 1008), and the token saved last could be a revoked one.

The rule, shared by every thread using one client: a call remembers the token it was sent with. When
it fails with an expired/revoked/missing token (:data:`~wishflow.api.errors.ErrorAction.REFRESH_TOKEN`),
it calls :meth:`SingleFlightRefresher.recover` with that token. Under one lock:

1. if the client's current token is no longer the one the call used, another thread already
   refreshed: retry with the current token (no refresh, even on 1008);
2. else, under the store's cross-process lock (:meth:`TokenPersistence.locked`), re-read the saved
   tokens: if another process saved a different token since, adopt it (no refresh);
3. else refresh once at Wish, save the new tokens while still holding the lock, then publish them.

Saves happen only under the cross-process lock and only right after the refresh that produced the
token, so the token saved last is always the newest one Wish issued, never a revoked one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from pydantic import SecretStr

from wishflow.api.auth import AppCredentials, TokenSaver, TokenSet
from wishflow.api.errors import WishAuthError

logger = logging.getLogger("wishflow.api")

#: Exchanges a refresh token for a new token set at Wish (the HTTP call, made by the client).
RefreshExchange = Callable[[AppCredentials, SecretStr], TokenSet]


class TokenPersistence(Protocol):
    """Where refreshed tokens are kept so other processes and later runs use them."""

    def locked(self) -> AbstractContextManager[None]:
        """The store's cross-process refresh lock."""
        ...

    def load(self) -> TokenSet | None:
        """The newest saved tokens (read again under the lock), or None."""
        ...

    def save(self, tokens: TokenSet, replaced: TokenSet) -> None:
        """Persist ``tokens``, which replaced ``replaced`` (now revoked at Wish)."""
        ...


def _same(a: SecretStr, b: SecretStr) -> bool:
    return a.get_secret_value() == b.get_secret_value()


class SingleFlightRefresher:
    """The tokens one client uses, and the only code path that replaces them."""

    def __init__(
        self,
        tokens: TokenSet,
        *,
        app: AppCredentials | None,
        exchange: RefreshExchange,
        persistence: TokenPersistence | None = None,
        on_refresh: TokenSaver | None = None,
    ) -> None:
        self._tokens = tokens
        self._app = app
        self._exchange = exchange
        self._persistence = persistence
        self._on_refresh = on_refresh
        self._lock = threading.Lock()
        #: Refreshes this client made at Wish (for tests and logs; adoptions are not counted).
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"SingleFlightRefresher(refreshes={self.refresh_count})"

    def current(self) -> TokenSet:
        """The token set to send now (read without the lock: replaced as a whole, never mutated)."""
        return self._tokens

    @property
    def can_refresh(self) -> bool:
        """Whether a refresh is possible at all (app credentials and a refresh token are known)."""
        return self._app is not None and self._tokens.refresh_token is not None

    def recover(self, used: TokenSet) -> bool:
        """After a call sent with ``used`` was refused as expired/revoked: make the current token newer.

        True when the caller should retry with :meth:`current`; False when nothing newer can be had
        (no refresh token or app credentials). Errors of the refresh itself propagate.
        """
        with self._lock:
            if not _same(self._tokens.access_token, used.access_token):
                return True  # another thread refreshed while this call was in flight
            if self._persistence is None:
                if not self.can_refresh:
                    return False
                self._publish(self._refresh(used))
                return True
            with self._persistence.locked():
                latest = self._persistence.load()
                if latest is not None and not _same(latest.access_token, used.access_token):
                    logger.info("using the access token another process refreshed")
                    if latest.refresh_token is None:
                        latest = TokenSet(latest.access_token, used.refresh_token, latest.expires_at)
                    self._tokens = latest
                    return True
                if not self.can_refresh:
                    return False
                new = self._refresh(used)
                self._persistence.save(new, used)
                self._publish(new)
            return True

    def force_refresh(self) -> TokenSet:
        """Refresh the current token now (single-flight like :meth:`recover`)."""
        if not self.recover(self._tokens):
            raise WishAuthError("cannot refresh the access token: no refresh token or app credentials")
        return self._tokens

    def _refresh(self, used: TokenSet) -> TokenSet:
        refresh_token = self._tokens.refresh_token or used.refresh_token
        if self._app is None or refresh_token is None:
            raise WishAuthError("cannot refresh the access token: no refresh token or app credentials")
        new = self._exchange(self._app, refresh_token)
        if new.refresh_token is None:
            new = TokenSet(new.access_token, refresh_token, new.expires_at)
        self.refresh_count += 1
        logger.info("access token refreshed; Wish revoked the previous one")
        return new

    def _publish(self, new: TokenSet) -> None:
        self._tokens = new
        if self._on_refresh is not None:
            self._on_refresh(new)
