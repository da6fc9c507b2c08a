"""A pre-rendered Wish list server: the loaders measured, not the sandbox.

    python -m bench.prerendered --orders 100000 [--seed 11] [--port 0]

The orders are generated once with the sandbox's own generator (same seed, same payload bytes as
``wishflow sandbox serve``), then the sandbox is dropped and ``GET /api/v3/orders`` is answered from
memory with the same list semantics the pull relies on: inclusive ``updated_at_min``/``max`` and
``released_at_min``/``max`` (whole milliseconds, as :func:`wishflow.sandbox.timeutil.parse_bound_ms`
rounds them), ``states``, ``limit`` (1-500, default 50), ``sort_by`` ``updated_at``/``released_at``
``.asc``/``.desc`` (default ``updated_at.desc``), ties broken by order id, so every paginator (the
pull's keyset with tie paging, the plain loader's, dlt's) walks it exactly as it walks the sandbox.

Each answer is rendered once and kept as bytes (the walk every loader follows, ``updated_at.asc``
from the beginning at ``limit`` 500, is rendered before the server says it is ready): a loader
reads a page for the price of a dictionary lookup and a socket write, so nearly all the CPU the
benchmark sees belongs to the loader and PostgreSQL. ``GET /api/v3/oauth/test`` answers too (the
client reads Wish's clock from it); the ``Date`` header is never earlier than the newest order, so
a window that ends at Wish's now covers every order. Anything else is a Wish-style 404: the
benchmark's data never needs the download job (checked: a pull of it makes no such request).

It prints ``api: URL`` and ``access token: TOKEN`` like ``wishflow sandbox serve`` (any bearer token
is accepted), so :func:`bench.common.prerendered_process` starts it the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import sys
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

_STATES = ("APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED")
_ID_MAX = "\uffff"


class BadRequest(Exception):
    """A query Wish would refuse (code 1000, HTTP 400)."""


@dataclass(frozen=True)
class Snapshot:
    """The orders, sorted by each list field, with their stored payload bytes."""

    raws: list[bytes]
    ids: list[str]
    states: list[str]
    updated: list[int]
    released: list[int]
    #: per sort field: the (ms, id) keys in ascending order and the record index of each
    keys: dict[str, list[tuple[int, str]]]
    order: dict[str, list[int]]
    newest_ms: int


def generate(orders: int, seed: int) -> Snapshot:
    """``orders`` orders from the sandbox's generator, as ``wishflow sandbox serve --orders`` makes them."""
    from wishflow.sandbox.config import SandboxConfig
    from wishflow.sandbox.core import Sandbox

    return snapshot(Sandbox(SandboxConfig(seed=seed, orders=orders)))


def snapshot(sandbox: Any) -> Snapshot:
    """The orders of a :class:`~wishflow.sandbox.core.Sandbox` as they are now."""
    recs = list(sandbox._orders.values())
    raws = [r.raw for r in recs]
    states = [r.state for r in recs]
    updated = [r.updated_ms for r in recs]
    released = [r.released_ms for r in recs]
    ids = [r.id for r in recs]
    keys: dict[str, list[tuple[int, str]]] = {}
    order: dict[str, list[int]] = {}
    for field, stamps in (("updated_at", updated), ("released_at", released)):
        idx = sorted(range(len(recs)), key=lambda i, s=stamps: (s[i], ids[i]))  # type: ignore[misc]
        order[field] = idx
        keys[field] = [(stamps[i], ids[i]) for i in idx]
    return Snapshot(raws, ids, states, updated, released, keys, order, max(updated, default=int(time.time() * 1000)))


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _bound(value: str | None, *, upper: bool) -> int | None:
    if not value:
        return None
    from wishflow.sandbox.timeutil import parse_bound_ms

    try:
        return parse_bound_ms(value, upper=upper)
    except ValueError:
        raise BadRequest(f"{value!r} is not a valid ISO 8601 date-time") from None


class Lister:
    """``GET /orders`` over a :class:`Snapshot`, each distinct answer rendered once."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.cache: dict[tuple[Any, ...], bytes] = {}
        self.requests = 0
        self.rendered = 0

    def answer(self, query: dict[str, list[str]]) -> bytes:
        """The bytes of the ``GET /orders`` answer to ``query``, rendered the first time it is asked."""
        self.requests += 1
        raw_limit = _single(query, "limit")
        try:
            limit = int(raw_limit) if raw_limit else 50
        except ValueError:
            raise BadRequest("limit must be an integer between 1 and 500") from None
        if not 1 <= limit <= 500:
            raise BadRequest("limit must be an integer between 1 and 500")
        name, _, direction = (_single(query, "sort_by") or "updated_at.desc").partition(".")
        if name not in ("updated_at", "released_at") or direction not in ("", "asc", "desc"):
            raise BadRequest("sort_by must match (updated_at|released_at)(.asc|.desc)")
        desc = direction != "asc"
        states = tuple(sorted({p.strip() for raw in query.get("states", []) for p in raw.split(",") if p.strip()}))
        if any(s not in _STATES for s in states):
            raise BadRequest(f"states values must be among {', '.join(_STATES)}")
        other = "released_at" if name == "updated_at" else "updated_at"
        lo = _bound(_single(query, f"{name}_min"), upper=False)
        hi = _bound(_single(query, f"{name}_max"), upper=True)
        olo = _bound(_single(query, f"{other}_min"), upper=False)
        ohi = _bound(_single(query, f"{other}_max"), upper=True)
        keys = self.snap.keys[name]
        a = bisect.bisect_left(keys, (lo, "")) if lo is not None else 0
        b = bisect.bisect_right(keys, (hi, _ID_MAX)) if hi is not None else len(keys)
        key = (name, desc, a, b, olo, ohi, states if len(states) < len(_STATES) else (), limit)
        body = self.cache.get(key)
        if body is None:
            body = self.cache[key] = self._render(name, desc, a, b, other, olo, ohi, set(states), limit)
        return body

    def _render(  # noqa: PLR0913 - the parsed query, one value per parameter
        self,
        name: str,
        desc: bool,
        a: int,
        b: int,
        other: str,
        olo: int | None,
        ohi: int | None,
        states: set[str],
        limit: int,
    ) -> bytes:
        self.rendered += 1
        snap = self.snap
        idx = snap.order[name]
        stamps = snap.released if other == "released_at" else snap.updated
        chosen: list[int] = []
        if olo is not None or ohi is not None:
            # both fields bounded (a tie paged by released_at): walk the narrower of the two ranges
            okeys = snap.keys[other]
            oa = bisect.bisect_left(okeys, (olo, "")) if olo is not None else 0
            ob = bisect.bisect_right(okeys, (ohi, _ID_MAX)) if ohi is not None else len(okeys)
            if ob - oa < b - a:
                own = snap.updated if name == "updated_at" else snap.released
                first, last = snap.keys[name][a][0] if a < b else 0, snap.keys[name][b - 1][0] if a < b else -1
                cand = [i for i in snap.order[other][oa:ob] if first <= own[i] <= last]
                cand.sort(key=lambda i: (own[i], snap.ids[i]), reverse=desc)
                walk: Any = cand
            else:
                walk = reversed(idx[a:b]) if desc else idx[a:b]
        else:
            walk = reversed(idx[a:b]) if desc else idx[a:b]
        for i in walk:
            if olo is not None and stamps[i] < olo:
                continue
            if ohi is not None and stamps[i] > ohi:
                continue
            if states and snap.states[i] not in states:
                continue
            chosen.append(i)
            if len(chosen) >= limit:
                break
        return b'{"code":0,"message":"","data":[' + b",".join(snap.raws[i] for i in chosen) + b"]}"

    def prerender(self, limit: int = 500) -> int:
        """Render the walk every loader follows (``updated_at.asc`` from the beginning); pages kept."""
        keys = self.snap.keys["updated_at"]
        n, a, pages = len(keys), 0, 0
        while True:
            body = self._render("updated_at", False, a, n, "released_at", None, None, set(), limit)
            self.cache[("updated_at", False, a, n, None, None, (), limit)] = body
            pages += 1
            if a + limit >= n:
                return pages
            nxt = bisect.bisect_left(keys, (keys[a + limit - 1][0], ""))
            a = nxt if nxt > a else a + limit  # a full page of one instant: the pager's tie walk takes over


def _response(status: int, body: bytes, date_ms: int) -> bytes:
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Wish-Request-Id: 000000000000000000000000\r\n"
        "Wish-Rate-Limit-Remaining: 10000\r\n"
        f"Date: {formatdate(date_ms / 1000, usegmt=True)}\r\n\r\n"
    )
    return head.encode() + body


class Server:
    """A minimal HTTP/1.1 server of pre-rendered answers, so the loader, not the server, is measured."""

    def __init__(self, lister: Lister, token: str) -> None:
        self.lister = lister
        self.token = token

    def date_ms(self) -> int:
        """Wish's clock for the ``Date`` header, never before the newest order."""
        # never before the newest order: a window ending at Wish's now (minus no lag) covers them all
        return max(int(time.time() * 1000), self.lister.snap.newest_ms + 2000)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the requests of one keep-alive connection until the client closes it."""
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line[:15].lower() == "content-length:":
                        length = int(line[15:].strip())
                if length:
                    await reader.readexactly(length)
                writer.write(self.route(method, target))
                await writer.drain()
        finally:
            writer.close()

    def route(self, method: str, target: str) -> bytes:
        """The whole HTTP response to ``method`` ``target``, as bytes ready to write."""
        url = urlsplit(target)
        now = self.date_ms()
        if method == "GET" and url.path == "/api/v3/orders":
            try:
                return _response(200, self.lister.answer(parse_qs(url.query, keep_blank_values=True)), now)
            except BadRequest as exc:
                return _response(400, b'{"code":1000,"message":"%s"}' % str(exc).encode(), now)
        if method == "GET" and url.path == "/api/v3/oauth/test":
            return _response(200, b'{"code":0,"message":"","data":{"merchant_id":"prerendered"}}', now)
        return _response(404, b'{"code":1004,"message":"not served by the pre-rendered list server"}', now)


async def _serve(lister: Lister, port: int) -> None:
    server = Server(lister, "prerendered-token")
    srv = await asyncio.start_server(server.handle, "127.0.0.1", port, limit=1 << 20)
    bound = srv.sockets[0].getsockname()[1]
    print(f"api: http://127.0.0.1:{bound}/api/v3", flush=True)
    print(f"access token: {server.token}", flush=True)
    async with srv:
        await srv.serve_forever()


def main() -> int:
    """Serve pre-rendered orders until stopped (the options give their count, seed and port)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    lister = Lister(generate(args.orders, args.seed))
    pages = lister.prerender()
    print(f"pre-rendered {pages} pages of {args.orders} orders in {time.perf_counter() - started:.1f} s", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(lister, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
