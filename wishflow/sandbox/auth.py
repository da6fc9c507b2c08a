"""OAuth for the sandbox: access tokens, authorization codes, the code exchange and the refresh."""

from __future__ import annotations

from typing import Any

from . import errors as E
from .errors import SandboxError
from .model import SCOPES, _digest
from .store import OrderStore
from .timeutil import DAY_MS, SECOND_MS, fmt_ms


class AuthPart(OrderStore):
    """Tokens and the two OAuth endpoints (``/oauth/access_token``, ``/oauth/refresh_token``)."""

    def _issue_access_token(self, now_ms: int) -> str:
        token = _digest("access_token", self.config.seed, self._token_counter)
        self._token_counter += 1
        ttl = int(self.config.token_ttl_days * DAY_MS)
        self._tokens[token] = {"expires_ms": now_ms + ttl, "revoked": False}
        return token

    def _token_payload(self, token: str) -> dict[str, Any]:
        return {
            "access_token": token,
            "refresh_token": self.refresh_token,
            "expiry_time": fmt_ms(self._tokens[token]["expires_ms"]),
            "merchant_id": self.merchant_id,
            "scopes": list(SCOPES),
        }

    def issue_token(self) -> str:
        """A fresh access token (older tokens stay valid); it becomes :attr:`access_token`."""
        with self.lock:
            self.access_token = self._issue_access_token(self.now_ms())
            return self.access_token

    def new_auth_code(self) -> str:
        """A fresh authorization code (what the consent page would redirect with); valid 10 minutes."""
        with self.lock:
            code = _digest("auth_code", self.config.seed, len(self._auth_codes))
            self._auth_codes[code] = {"redeemed": False, "expires_ms": self.now_ms() + 600 * SECOND_MS}
            return code

    def check_token(self, token: str | None) -> str | None:
        """None when the token may be used, else the error kind: "missing", "expired" or "revoked"."""
        info = self._tokens.get(token) if token else None
        if info is None:
            return "missing"
        if info["revoked"]:
            return "revoked"
        if self.now_ms() >= info["expires_ms"]:
            return "expired"
        return None

    def exchange_code(self, params: dict[str, Any]) -> dict[str, Any]:
        """``/oauth/access_token``: trade an authorization code for tokens."""
        with self.lock:
            self.tick()
            for name in ("client_id", "client_secret", "code", "grant_type", "redirect_uri"):
                if not params.get(name):
                    raise SandboxError(E.INVALID_PARAMETER, f"{name} is required")
            if params["grant_type"] != "authorization_code":
                raise SandboxError(E.INVALID_PARAMETER, "grant_type must be set to 'authorization_code'")
            if params["client_id"] != self.client_id or params["client_secret"] != self.client_secret:
                raise SandboxError(
                    E.INVALID_CREDENTIALS,
                    "Incorrect credentials. One of client_id, client_secret, or redirect_url does not "
                    "match our records",
                )
            code = self._auth_codes.get(params["code"])
            if code is None:
                raise SandboxError(E.INVALID_AUTH_CODE, "Incorrect authorization code provided")
            if code["redeemed"]:
                raise SandboxError(E.AUTH_CODE_REDEEMED, "The authorization code has already been redeemed")
            if self.now_ms() >= code["expires_ms"]:
                raise SandboxError(E.AUTH_CODE_EXPIRED, "The authorization code has expired")
            code["redeemed"] = True
            token = self._issue_access_token(self.now_ms())
            return self._token_payload(token)

    def refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        """``/oauth/refresh_token``: a new access token; every older access token is revoked."""
        with self.lock:
            self.tick()
            for name in ("client_id", "client_secret", "refresh_token", "grant_type"):
                if not params.get(name):
                    raise SandboxError(E.INVALID_PARAMETER, f"{name} is required")
            if params["grant_type"] != "refresh_token":
                raise SandboxError(E.INVALID_PARAMETER, "grant_type must be set to 'refresh_token'")
            if params["client_id"] != self.client_id or params["client_secret"] != self.client_secret:
                raise SandboxError(
                    E.INVALID_CREDENTIALS,
                    "Incorrect credentials. client_id or client_secret does not match our records",
                )
            if params["refresh_token"] not in self._refresh_tokens:
                raise SandboxError(E.UNAUTHORIZED_ACCESS, "Unauthorized access on this API")
            for info in self._tokens.values():
                info["revoked"] = True
            token = self._issue_access_token(self.now_ms())
            self.access_token = token
            return self._token_payload(token)
