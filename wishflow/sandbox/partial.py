"""``fields=`` partial responses, as Wish's general documentation describes them.

"All GET endpoints (except OAuth) support a fields parameter which allows for requesting a partial
response": a comma-separated list, ``/`` for a nested field (``a/b``), parentheses for several nested
fields (``items(id,info/name)``) and ``*`` as a wildcard. Lists are projected element by element.
Source: the Wish Marketplace V3 API description ("Partial Resources"), in the spec's info block.
"""

from __future__ import annotations

from typing import Any

Selection = dict[str, "Selection | None"]  # None: the whole value


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses in fields")
        current.append(ch)
    if depth != 0:
        raise ValueError("unbalanced parentheses in fields")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _merge(into: Selection, name: str, sub: Selection | None) -> None:
    if name in into and into[name] is None:
        return
    if sub is None:
        into[name] = None
        return
    existing = into.get(name)
    if existing is None:
        into[name] = dict(sub)
        return
    for key, value in sub.items():
        _merge(existing, key, value)


def parse_fields(text: str) -> Selection:
    """The selection tree of a ``fields`` value; ``ValueError`` on a malformed one."""
    selection: Selection = {}
    for part in _split_top(text):
        if "(" in part and (part.index("(") < part.index("/") if "/" in part else True):
            name, _, rest = part.partition("(")
            if not rest.endswith(")"):
                raise ValueError(f"malformed fields entry {part!r}")
            _merge(selection, name.strip(), parse_fields(rest[:-1]))
        elif "/" in part:
            name, _, rest = part.partition("/")
            _merge(selection, name.strip(), parse_fields(rest))
        else:
            _merge(selection, part, None)
    return selection


def project(value: Any, selection: Selection | None) -> Any:
    """``value`` reduced to ``selection`` (lists element by element; ``*`` keeps every key)."""
    if selection is None:
        return value
    if isinstance(value, list):
        return [project(v, selection) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in selection:
            out[key] = project(item, selection[key])
        elif "*" in selection:
            out[key] = project(item, selection["*"])
    return out
