"""Query-string parsing shared by the listing endpoints (orders, tickets, penalties)."""

from __future__ import annotations

from collections.abc import Iterator

from . import errors as E
from .errors import SandboxError
from .timeutil import parse_bound_ms


def _walk(keys: list[tuple[int, str]], lo: int, hi: int, desc: bool) -> Iterator[tuple[int, str]]:
    if desc:
        for i in range(hi - 1, lo - 1, -1):
            yield keys[i]
    else:
        for i in range(lo, hi):
            yield keys[i]


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _parse_limit(query: dict[str, list[str]], default: int, maximum: int) -> int:
    raw = _single(query, "limit")
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise SandboxError(E.INVALID_PARAMETER, f"limit must be an integer between 1 and {maximum}") from None
    if not 1 <= limit <= maximum:
        raise SandboxError(E.INVALID_PARAMETER, f"limit must be an integer between 1 and {maximum}")
    return limit


def _parse_sort(query: dict[str, list[str]], fields: tuple[str, ...], default: str) -> tuple[str, bool]:
    raw = _single(query, "sort_by") or f"{default}.desc"
    name, _, direction = raw.partition(".")
    if name not in fields or direction not in ("", "asc", "desc"):
        allowed = "|".join(fields)
        raise SandboxError(E.INVALID_PARAMETER, f"sort_by must match ({allowed})(.asc|.desc)")
    return name, direction != "asc"


def _parse_multi(
    query: dict[str, list[str]], name: str, allowed: tuple[str, ...], max_items: int | None = None
) -> list[str]:
    """A multi-valued parameter, repeated (``states=A&states=B``) and/or comma-separated."""
    values = [part.strip() for raw in query.get(name, []) for part in raw.split(",") if part.strip()]
    for value in values:
        if value not in allowed:
            raise SandboxError(E.INVALID_PARAMETER, f"{name} values must be among {', '.join(allowed)}")
    if max_items is not None and len(values) > max_items:
        raise SandboxError(E.INVALID_PARAMETER, f"{name} takes at most {max_items} values")
    return values


def _bounds(query: dict[str, list[str]], prefix: str) -> tuple[int | None, int | None]:
    out: list[int | None] = []
    for suffix, upper in (("min", False), ("max", True)):
        raw = _single(query, f"{prefix}_{suffix}")
        if not raw:
            out.append(None)
            continue
        try:
            out.append(parse_bound_ms(raw, upper=upper))
        except ValueError:
            raise SandboxError(E.INVALID_PARAMETER, f"{prefix}_{suffix} is not a valid ISO 8601 date-time") from None
    return out[0], out[1]
