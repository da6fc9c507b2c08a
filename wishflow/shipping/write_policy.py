"""How long the outbox believes a write to Wish may still be in flight (a policy, not a timeout).

Wish's writes are asynchronous and have no idempotency key. A send whose outcome we did not see (a
timeout, a lost response, a killed process) or an accepted write that does not show on the order yet
may still land later: behind Wish's gateway, or while Wish processes it without showing it. Nothing
about that delay is documented, and it is not the client's timeout. So it is a setting:

``settle``   after a send, "nothing of ours on the order" proves nothing until this much time has
             passed; only then may the same number be sent again (or the write be judged failed).
``overdue``  a write still pending after this long is listed by ``wishflow ship status`` as overdue
             (it is never resent with another number; a person looks at it).

Both resolve at run time from ``WISHFLOW_WRITE_SETTLE_SECONDS`` / ``WISHFLOW_WRITE_OVERDUE_SECONDS``,
else the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from wishflow.api.errors import WishConfigError
from wishflow.shipping.outbox import DEFAULT_SETTLE

SETTLE_ENV = "WISHFLOW_WRITE_SETTLE_SECONDS"
OVERDUE_ENV = "WISHFLOW_WRITE_OVERDUE_SECONDS"
DEFAULT_OVERDUE = timedelta(hours=12)


class WritePolicyError(WishConfigError, ValueError):
    """A write-policy setting that is not a non-negative number of seconds.

    A configuration mistake (no retry; one ``error:`` line at the command line).
    """


@dataclass(frozen=True)
class WritePolicy:
    """How long a send may still land at Wish (settle) and when a submitted write is overdue."""

    settle: timedelta = DEFAULT_SETTLE
    overdue: timedelta = DEFAULT_OVERDUE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WritePolicy:
        """The policy from the environment (or ``environ``), defaults for unset variables."""
        env = os.environ if environ is None else environ
        return cls(
            settle=_seconds(env, SETTLE_ENV, DEFAULT_SETTLE),
            overdue=_seconds(env, OVERDUE_ENV, DEFAULT_OVERDUE),
        )


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise WritePolicyError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise WritePolicyError(f"{name} must not be negative")
    return timedelta(seconds=value)


__all__ = ["DEFAULT_OVERDUE", "OVERDUE_ENV", "SETTLE_ENV", "WritePolicy", "WritePolicyError"]
