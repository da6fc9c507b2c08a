"""One place decides whether Wishflow talks to the sandbox or to a live Wish account.

Three profiles:

- ``embedded``: no API root configured (or the default ``http://127.0.0.1:8765/api/v3`` of
  ``wishflow sandbox serve``): the demo and the tests. The sandbox's seed credentials and its label
  endpoint (``POST /sandbox/labels``) may be used.
- ``sandbox``: asked for explicitly with ``WISHFLOW_PROFILE=sandbox`` (any API root, e.g. a sandbox on
  a random loopback port). Same allowances as ``embedded``.
- ``live``: any other API root, or ``WISHFLOW_PROFILE=live``. Nothing of the sandbox is ever used as
  a fallback: a missing token or label source is a :class:`~wishflow.errors.ConfigError`.

This is DESIGN.md invariant 10: the sandbox is reached only on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

from wishflow.errors import ConfigError

PROFILE_ENV = "WISHFLOW_PROFILE"
#: The API root of ``wishflow sandbox serve`` with its defaults: the embedded default.
EMBEDDED_API_BASE_URL = "http://127.0.0.1:8765/api/v3"


class Profile(StrEnum):
    """Where Wishflow talks to: an in-process sandbox, a sandbox server, or the live Wish API."""

    EMBEDDED = "embedded"
    SANDBOX = "sandbox"
    LIVE = "live"

    @property
    def uses_sandbox(self) -> bool:
        """May the sandbox's credentials and label endpoint be used?"""
        return self is not Profile.LIVE


def decide_profile(api_base_url: str | None, requested: str | None = None) -> Profile:
    """The profile for an API root (``None``: none configured) and a ``WISHFLOW_PROFILE`` value."""
    wanted = (requested or "").strip().lower()
    if wanted == Profile.SANDBOX:
        return Profile.SANDBOX
    if wanted == Profile.LIVE:
        return Profile.LIVE
    if wanted:
        raise ConfigError(
            f"{PROFILE_ENV}={wanted!r} is not a profile",
            hint=f"set {PROFILE_ENV} to 'sandbox' or 'live', or leave it unset",
        )
    if not api_base_url or api_base_url.strip().rstrip("/") == EMBEDDED_API_BASE_URL:
        return Profile.EMBEDDED
    return Profile.LIVE


def profile_for(api_base_url: str | None, environ: Mapping[str, str] | None = None) -> Profile:
    """The profile for ``api_base_url`` under the environment's ``WISHFLOW_PROFILE``."""
    env = os.environ if environ is None else environ
    return decide_profile(api_base_url, env.get(PROFILE_ENV))
