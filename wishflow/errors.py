"""Configuration errors: one exception type for every mistake a person must fix in configuration.

A configuration mistake (an unmigrated warehouse, a database that does not exist, a malformed URL, a
rejected token, an unreachable API root, a live API root without a token or label source, an invalid
option) is not a bug and not transient: retrying cannot fix it and a traceback does not help. It is
raised as :class:`ConfigError` with a ``hint`` that says what to do; the ``wishflow`` command prints
it as one ``error:`` line (exit status 2) and the Prefect tasks never retry it.

:func:`config_error_from` is the one table that recognises configuration mistakes that arrive as
other exceptions (a driver's "no such table", "database does not exist", an unparsable URL), also
when they arrive wrapped (``__cause__`` / ``__context__``, e.g. by a failed Prefect flow run).
"""

from __future__ import annotations

import re


class ConfigError(Exception):
    """A configuration mistake: ``message`` says what is wrong, ``hint`` what to do about it.

    Messages never contain secrets (tokens, passwords): name the setting, never its value.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        """The message without the hint."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        # the hint travels with the message wherever the error is shown (Prefect states, worker logs)
        return self.line()

    def line(self) -> str:
        """The message and the hint on one line (newlines folded)."""
        text = self.message if not self.hint else f"{self.message} — {self.hint}"
        return " ".join(text.split())


UPGRADE_HINT = "run `wishflow db upgrade` (with the same WISHFLOW_WAREHOUSE_URL)"

_NO_TABLE = re.compile(r"no such table: (\w+)|relation \"?([\w.]+)\"? does not exist", re.IGNORECASE)
_NO_DATABASE = re.compile(r'database "([^"]+)" does not exist', re.IGNORECASE)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was raised from or during (each once)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
        # Prefect and exception groups keep the original under other names
        todo += [e for e in getattr(item, "exceptions", ()) if isinstance(e, BaseException)]
    return seen


def _classify(exc: BaseException) -> ConfigError | None:
    if isinstance(exc, ConfigError):
        return exc
    try:
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    # A malformed URL or an unknown dialect never reaches here as SQLAlchemy's ArgumentError: the
    # URL is checked where it is parsed (wishflow.config.check_warehouse_url, called by make_engine
    # and upgrade), which raises ConfigError by exception type, not by message.
    if isinstance(exc, sa_exc.DBAPIError):
        text = str(getattr(exc, "orig", None) or exc)
        table = _NO_TABLE.search(text)
        if table:
            name = table.group(1) or table.group(2)
            return ConfigError(f"the warehouse is not migrated (table {name} is missing)", hint=UPGRADE_HINT)
        database = _NO_DATABASE.search(text)
        if database:
            name = database.group(1)
            return ConfigError(
                f'PostgreSQL database "{name}" does not exist',
                hint=f"create it (`createdb {name}`) and run `wishflow db upgrade`, or fix WISHFLOW_WAREHOUSE_URL",
            )
    return None


def config_error_from(exc: BaseException) -> ConfigError | None:
    """The configuration mistake behind ``exc`` (itself, or anywhere in its chain), else None."""
    for item in _chain(exc):
        found = _classify(item)
        if found is not None:
            return found
    return None


def is_config_error(exc: BaseException) -> bool:
    """Whether ``exc`` is, wraps or is recognised as a configuration problem (not worth a retry)."""
    return config_error_from(exc) is not None
