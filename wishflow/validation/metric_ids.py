"""Name GX's metric configurations without its all-purpose JSON conversion of plain values.

GX names every metric configuration it plans by the MD5 of its keyword arguments as JSON
(``IDDict.to_id``, twice per ``MetricConfiguration``: about 3,300 configurations per batch for our
two suites, whatever the batch's size). Before hashing, it converts the arguments with
``convert_to_json_serializable``, a chain of ``isinstance`` checks per value in which ``None``
(most domains' ``row_condition`` and ``condition_parser``) passes three ``numpy.issubdtype`` calls
before it is recognised: about a quarter of GX's fixed cost per batch (bench/PROFILE.md).

:func:`install` gives ``to_id`` a converter that handles itself the values GX's converter returns
as they are, or builds from plainly: exact ``str``, ``int``, ``bool`` and ``None``, ``float`` (NaN
as ``None``), and exact ``dict``/``IDDict`` (keys as ``str``), ``list``, ``tuple`` and ``set`` of
such values, each converted as GX converts it. Anything else (an ``Enum``, a NumPy scalar, a
pydantic model, a subclass of ``str`` or ``dict``...) goes to GX's converter, so every id is the
one GX makes; a test compares the two on each kind of value. Only ``to_id``'s module sees the
converter: result documents are converted by GX's own, as before.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

_install_lock = threading.Lock()
_installed: set[str] = set()


def plain_converter(general: Callable[..., Any], mapping_types: tuple[type, ...] = (dict,)) -> Callable[..., Any]:
    """A converter equal to ``general`` (GX's ``convert_to_json_serializable``), fast on plain values.

    ``mapping_types`` are the exact types converted as ``dict`` is (GX converts any ``dict`` that is not
    one of its serializable dict classes key by key).
    """

    def convert(data: Any) -> Any:
        kind = type(data)
        if kind is str or kind is int or kind is bool or data is None:
            return data
        if kind is float:
            return None if data != data else data  # GX: NaN -> None
        if kind in mapping_types:
            return {str(key): convert(value) for key, value in data.items()}
        if kind is list or kind is tuple or kind is set:
            return [convert(value) for value in data]
        return general(data)

    def convert_to_json_serializable(data: Any) -> Any:  # GX's name and keyword: to_id calls it with data=
        return convert(data)

    convert_to_json_serializable.__doc__ = general.__doc__
    return convert_to_json_serializable


def install(module_name: str = "great_expectations.core.id_dict") -> bool:
    """Give ``module_name``'s ``to_id`` the plain-value converter; returns whether it has it.

    A GX whose module no longer names ``convert_to_json_serializable`` or ``IDDict`` is left as it is
    (validation is then slower, never wrong).
    """
    with _install_lock:
        if module_name in _installed:
            return True
        module = importlib.import_module(module_name)
        general = getattr(module, "convert_to_json_serializable", None)
        id_dict = getattr(module, "IDDict", None)
        if not callable(general) or not isinstance(id_dict, type) or not issubclass(id_dict, dict):
            return False
        module.convert_to_json_serializable = plain_converter(general, (dict, id_dict))  # type: ignore[attr-defined]
        _installed.add(module_name)
        return True
