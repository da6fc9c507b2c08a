"""Build each GX expectation's configuration once per validation instead of ~75 times.

GX 1.x's ``Expectation.configuration`` is a property that serialises the whole pydantic model
(``self.dict()``) and builds a new ``ExpectationConfiguration`` on every read, and GX reads it once
per keyword while it plans a suite (``_get_domain_kwargs``, ``_get_success_kwargs``...): about 8,000
builds for our two suites, 0.26 s of the 0.69 s a batch costs whatever its size (bench/PROFILE.md).

Inside :func:`configurations_built_once` (entered by ``validate_frame``, which holds the validation
lock), the first read of an expectation's configuration is kept and later reads return it. What
keeps that exact:
- the cache is the calling thread's only, and is emptied when the block ends, so nothing outside a
  validation (building the suites, another thread) ever sees a kept configuration;
- an expectation that is assigned a field while the block runs loses its kept configuration (GX's
  planning builds fresh expectation objects from configurations and does not assign to them);
- the cache holds each expectation it keeps a configuration of, so an id is not reused meanwhile.
A test compares both suites' full results with and without the cache.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_active = threading.local()
_installed: set[Any] = set()  # the classes wrapped (GX's Expectation)
_install_lock = threading.Lock()


def install(expectation_class: Any) -> bool:
    """Wrap ``expectation_class.configuration`` (GX's ``Expectation``) so the cache can serve it.

    Returns whether it is wrapped. A GX whose ``configuration`` is no longer a property is left as
    it is: validation is then slower, never wrong.
    """
    with _install_lock:
        if expectation_class in _installed:
            return True
        if not isinstance(inspect.getattr_static(expectation_class, "configuration", None), property):
            return False
        build = expectation_class.configuration.fget
        assign = expectation_class.__setattr__

        def configuration(self: Any) -> Any:
            kept: dict[int, tuple[Any, Any]] | None = getattr(_active, "kept", None)
            if kept is None:
                return build(self)
            entry = kept.get(id(self))
            if entry is None or entry[0] is not self:
                entry = (self, build(self))
                kept[id(self)] = entry
            return entry[1]

        def set_field(self: Any, name: str, value: Any) -> None:
            kept: dict[int, tuple[Any, Any]] | None = getattr(_active, "kept", None)
            if kept is not None:
                kept.pop(id(self), None)
            assign(self, name, value)

        expectation_class.configuration = property(configuration, doc=expectation_class.configuration.__doc__)
        expectation_class.__setattr__ = set_field
        _installed.add(expectation_class)
        return True


@contextmanager
def configurations_built_once() -> Iterator[None]:
    """Within the block, each expectation's configuration is built on its first read only."""
    if getattr(_active, "kept", None) is not None:  # nested: the outer block owns the cache
        yield
        return
    _active.kept = {}
    try:
        yield
    finally:
        _active.kept = None


def kept_count() -> int:
    """How many configurations the calling thread keeps now (0 outside a block; tests read it)."""
    kept = getattr(_active, "kept", None)
    return len(kept) if kept else 0
