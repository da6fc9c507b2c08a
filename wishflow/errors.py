"""Configuration errors: one exception type for every mistake a person must fix in configuration.

A configuration mistake (an unmigrated warehouse, a database that does not exist, a malformed URL, a
rejected token, an unreachable API root, a live API root without a token or label source, an invalid
option) is not a bug and not transient: retrying cannot fix it and a traceback does not help. It is
raised as :class:`ConfigError` with a ``hint`` that says what to do; the ``wishflow`` command prints
it as one ``error:`` line (exit status 2) and the Prefect tasks never retry it.

:func:`config_error_from` finds the :class:`ConfigError` behind an exception, also when it arrives
wrapped (``__cause__`` / ``__context__``, e.g. by a failed Prefect flow run). Nothing is recognised by
its message: a mistake is a ConfigError where it can be told apart, by its type or by asking. The
warehouse engine asks the database when a statement or a connection fails
(:mod:`wishflow.warehouse.diagnosis`: not migrated, no such PostgreSQL database), the URL is checked
where it is parsed (:func:`wishflow.config.check_warehouse_url`), a missing Prefect block is recognised
by Prefect's ``ObjectNotFound`` (``blocks/loading.py``), a rejected token by its Wish error class.
"""

from __future__ import annotations


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


def config_error_from(exc: BaseException) -> ConfigError | None:
    """The configuration mistake behind ``exc`` (itself, or anywhere in its chain), else None."""
    for item in _chain(exc):
        if isinstance(item, ConfigError):
            return item
    return None


def is_config_error(exc: BaseException) -> bool:
    """Whether ``exc`` is, wraps or is recognised as a configuration problem (not worth a retry)."""
    return config_error_from(exc) is not None
