"""Stand-ins for modules Great Expectations imports at start-up but our suites never run.

GX's KL-divergence expectation imports ``altair`` (charts) and ``scipy.stats`` at module level, and
GX imports every core expectation when it starts: 82 of the 125 MB GX adds to a validation
process (bench/PROFILE.md), for an expectation none of our suites uses. :func:`defer` puts a
stand-in in ``sys.modules`` before GX imports them; the real module is imported the first time
anything reads an attribute from the stand-in, so code that does use them (another library, a
future suite) still gets the real thing, only later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

#: What GX imports for expectations our suites do not use (measured one at a time, PROFILE.md).
GX_UNUSED_IMPORTS = ("altair", "scipy.stats")

_load_lock = threading.RLock()


class DeferredModule(types.ModuleType):
    """A module not imported yet: the first attribute read imports it and becomes it."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def _load(self) -> types.ModuleType:
        name = self.__name__
        with _load_lock:
            if sys.modules.get(name) is self:
                del sys.modules[name]
                try:
                    real = importlib.import_module(name)
                except BaseException:
                    sys.modules[name] = self
                    raise
                # Whoever holds the stand-in (``import altair as alt``) now reads the real module's
                # names directly; the parent package's attribute points at the real module.
                self.__dict__.update({k: v for k, v in real.__dict__.items() if k != "__class__"})
                parent, _, child = name.rpartition(".")
                if parent and parent in sys.modules:
                    setattr(sys.modules[parent], child, real)
                return real
            current = sys.modules.get(name)
            if current is None or isinstance(current, DeferredModule):
                return importlib.import_module(name)
            return current


def defer(names: tuple[str, ...] = GX_UNUSED_IMPORTS) -> list[str]:
    """Put stand-ins for ``names`` not imported yet (and importable); returns those deferred."""
    deferred: list[str] = []
    with _load_lock:
        for name in names:
            if name in sys.modules:
                continue
            try:
                spec = importlib.util.find_spec(name)
            except ModuleNotFoundError:
                continue
            if spec is None:
                continue
            stand_in = DeferredModule(name)
            stand_in.__spec__ = spec
            stand_in.__file__ = spec.origin
            stand_in.__loader__ = spec.loader
            # No ``__path__``: importing a submodule reads it from the stand-in, which imports the
            # real package first, so a submodule never runs without its package's ``__init__``.
            sys.modules[name] = stand_in
            deferred.append(name)
    return deferred


def is_loaded(name: str) -> bool:
    """Whether ``name`` is really imported (not absent, not a stand-in)."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, DeferredModule)
