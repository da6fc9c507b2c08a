"""Webhook secrets: one unguessable secret per store, carried in the subscription URL.

Wish's spec defines no signature for webhook deliveries, so whoever knows a subscription URL can
post to it. The URL therefore ends with a secret of 256 random bits
(``/wish/webhooks/<store>/<secret>``); the receiver compares it in constant time and rejects
anything else. Secrets are ``SecretStr`` everywhere in the code, kept in a store's
``WebhookSecret`` block or in an owner-only JSON file, and never logged or printed.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import SecretStr

#: store -> its webhook secret
StoreSecrets = Mapping[str, SecretStr]

DEFAULT_SECRETS_FILE = Path(".wishflow") / "webhook-secrets.json"
_DUMMY = "x" * 43


class WebhookSecretError(ValueError):
    """A configuration mistake about webhook secrets (a file others can read, a malformed file)."""


def generate_secret() -> SecretStr:
    """A new secret: 32 random bytes, URL-safe (43 characters)."""
    return SecretStr(secrets.token_urlsafe(32))


def secret_matches(expected: SecretStr | None, given: str | None) -> bool:
    """Whether ``given`` is the store's secret, compared in constant time.

    Never true for a store without a secret or a request without one.
    """
    want = expected.get_secret_value() if expected is not None else _DUMMY
    ok = hmac.compare_digest(want.encode(), (given or "").encode())
    return ok and expected is not None and bool(given)


def subscription_url(endpoint: str, secret: SecretStr) -> str:
    """The URL Wish posts to: the store's endpoint followed by its secret."""
    return endpoint.rstrip("/") + "/" + secret.get_secret_value()


def masked_url(endpoint: str) -> str:
    """The endpoint as it may be printed: the secret part replaced by ``<secret>``."""
    return endpoint.rstrip("/") + "/<secret>"


def load_secrets_file(path: str | Path) -> dict[str, SecretStr]:
    """The secrets in an owner-only JSON file ``{store: secret}``.

        A file group or others can read is refused (a configuration mistake); a missing file holds no
    secrets.
    """
    target = Path(path)
    if not target.exists():
        return {}
    mode = stat.S_IMODE(target.stat().st_mode)
    if mode & 0o077:
        raise WebhookSecretError(
            f"{target} can be read by other users (mode {mode:o}); run `chmod 600 {target}` and try again"
        )
    try:
        data = json.loads(target.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError:
        raise WebhookSecretError(f"{target} is not a JSON object of store -> secret") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise WebhookSecretError(f"{target} is not a JSON object of store -> secret")
    return {str(k): SecretStr(v) for k, v in data.items()}


def save_secret_to_file(path: str | Path, store: str, secret: SecretStr) -> None:
    """Add or replace ``store``'s secret in the file, written owner-only (0600) and replaced atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    current = {k: v.get_secret_value() for k, v in load_secrets_file(target).items()}
    current[store] = secret.get_secret_value()
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(current, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)


class RateLimiter:
    """A token bucket per store: ``burst`` deliveries at once, refilled at ``per_minute``.

    Wish delivers one message per event; a store's real traffic is far below the default, so the
    limit only stops a flood (a leaked URL, a misbehaving sender) from starting runs at will.
    """

    def __init__(self, per_minute: float = 120.0, burst: int = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, store: str) -> bool:
        """Take one delivery from ``store``'s bucket; False when it is empty (the receiver answers 429)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(store, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[store] = (tokens, now)
                return False
            self._buckets[store] = (tokens - 1.0, now)
            return True
