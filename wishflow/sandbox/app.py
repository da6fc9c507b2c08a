"""The sandbox's HTTP face: a plain ASGI app (served by uvicorn).

``/api/v3/...`` speaks Wish's protocol (envelopes, status codes, headers, rate limits, faults);
``/sandbox/...`` is the admin API (plain JSON, no token, never faulted or rate limited).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

import orjson

from . import errors as E
from . import programs
from .config import FAULT_KINDS, FAULT_SCOPE, FaultConfig
from .core import Sandbox
from .errors import SandboxError
from .partial import parse_fields, project
from .read_profiles import read_profile
from .timeutil import fmt_ms
from .write_profiles import PROFILES
from .write_profiles import resolve as resolve_write_profile

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Wish-Rate-Limit-Remaining reported when the sandbox has no rate limit
UNLIMITED_REMAINING = 10000


@dataclass
class Request:
    """One HTTP request as the handlers see it: decoded query and headers, raw body, path parameters."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    base_url: str

    def json(self) -> Any:
        """The body as JSON (``{}`` when empty); malformed JSON is Wish's invalid-parameter error."""
        if not self.body.strip():
            return {}
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise SandboxError(E.INVALID_PARAMETER, "request body is not valid JSON") from None

    def single(self, name: str) -> str | None:
        """The last value of a query parameter, as Wish reads repeated parameters, or None."""
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    """A response a handler builds itself (a file, a non-200 status, extra headers) instead of an envelope."""

    status: int
    body: bytes
    content_type: bytes = b"application/json"
    headers: list[tuple[bytes, bytes]] | None = None


def envelope(data_json: bytes) -> bytes:
    """Wrap already-serialised ``data`` in Wish's success envelope without decoding it again."""
    return b'{"code":0,"message":"","data":' + data_json + b"}"


def error_body(code: int, message: str) -> bytes:
    """Wish's error envelope: its error code and message."""
    return orjson.dumps({"code": code, "message": message})


class TokenBucket:
    """``rate`` requests per second with a burst of ``rate``; real (wall-clock) time."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.last = time.monotonic()

    def take(self) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until a token is available)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, int(self.tokens), 0.0
        return False, 0, (1.0 - self.tokens) / self.rate

    def remaining(self) -> int:
        """Whole requests left now, for the ``Wish-Rate-Limit-Remaining`` header."""
        return int(self.tokens)


Handler = Callable[["SandboxApp", Request], Any]


@dataclass
class Route:
    """A method and path template bound to its handler, with whether it needs a token and writes."""

    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    auth: bool = True
    write: bool = False


def _route(method: str, template: str, handler: Handler, *, auth: bool = True, write: bool = False) -> Route:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
    return Route(method, re.compile(regex), template, handler, auth, write)


class SandboxApp:
    """ASGI application over a :class:`Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._request_ids = itertools.count(1)
        self._buckets: dict[str, TokenBucket] = {}
        self._burst_left = 0

    # ------------------------------------------------------------------------------------------
    # ASGI entry point
    # ------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: lifespan events, then routing, auth, faults and rate limits per request."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        server = scope.get("server") or ("127.0.0.1", 80)
        host = headers.get("host") or f"{server[0]}:{server[1]}"
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
            headers=headers,
            body=body,
            params={},
            base_url=f"{scope.get('scheme', 'http')}://{host}",
        )
        request_id = f"{next(self._request_ids):024x}"
        if request.path.startswith("/sandbox/") or request.path == "/sandbox":
            response = self._admin(request)
            await self._send(send, response, request_id, self._remaining(None), wish=False)
            return
        await self._wish(request, request_id, send)

    def _http_date(self) -> bytes:
        """The HTTP ``Date`` header from the sandbox clock, so clients see the simulated time."""
        return formatdate(self.sandbox.now_ms() / 1000, usegmt=True).encode()

    async def _send(
        self, send: Send, response: Response, request_id: str, remaining: int, *, wish: bool = True
    ) -> None:
        if wish and response.status != 200:  # Wish's answers follow the read profile; admin's do not
            response.body = read_profile(self.sandbox.config.read_profile).error_body(response.body)
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"wish-request-id", request_id.encode()),
            (b"wish-rate-limit-remaining", str(remaining).encode()),
            (b"date", self._http_date()),
            *(response.headers or []),
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _send_cut(self, send: Send, response: Response, request_id: str, remaining: int) -> None:
        """Declare the full length, send part of the body and return: uvicorn drops the connection."""
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"wish-request-id", request_id.encode()),
            (b"wish-rate-limit-remaining", str(remaining).encode()),
            (b"date", self._http_date()),
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body[: len(response.body) // 2], "more_body": True})

    # ------------------------------------------------------------------------------------------
    # Wish API
    # ------------------------------------------------------------------------------------------

    def _match(self, routes: list[Route], request: Request) -> Route | None:
        path_matched = False
        for route in routes:
            m = route.pattern.match(request.path)
            if m:
                path_matched = True
                if route.method == request.method:
                    request.params = m.groupdict()
                    return route
        if path_matched:
            raise SandboxError(E.INVALID_PARAMETER, f"Method {request.method} not allowed on {request.path}", 405)
        return None

    def _remaining(self, token: str | None) -> int:
        if self.sandbox.config.rate_limit is None:
            return UNLIMITED_REMAINING
        bucket = self._buckets.get(token or "")
        return bucket.remaining() if bucket else int(self.sandbox.config.rate_limit)

    def _count(self, endpoint: str, outcome: str) -> None:
        with self.sandbox.lock:
            self.sandbox.request_stats[(endpoint, outcome)] += 1

    def _draw_fault(self, request: Request, route: Route | None) -> str | None:
        sb = self.sandbox
        faults = sb.faults
        is_write = request.method in ("PUT", "POST", "DELETE") and route is not None and route.write
        with sb.lock:
            for entry in faults.script:
                if entry.get("count", 1) <= 0:
                    continue
                if entry.get("method") and entry["method"].upper() != request.method:
                    continue
                if entry.get("path") and not re.search(entry["path"], request.path):
                    continue
                entry["count"] = entry.get("count", 1) - 1
                return str(entry["kind"])
            if faults.paths and not re.search(faults.paths, request.path):
                return None
            for kind in FAULT_KINDS:
                share = getattr(faults, kind)
                if share <= 0:
                    continue
                scope = FAULT_SCOPE[kind]
                if scope == "read" and request.method != "GET":
                    continue
                if scope == "write" and not is_write:
                    continue
                if sb.fault_rng.random() < share:
                    return kind
        return None

    async def _wish(self, request: Request, request_id: str, send: Send) -> None:
        sb = self.sandbox
        faults = sb.faults
        endpoint = f"{request.method} {request.path}"
        token = _bearer(request)
        try:
            route = self._match(WISH_ROUTES, request)
        except SandboxError as err:
            self._count(endpoint, f"{err.status}:{err.code}")
            await self._send(
                send, Response(err.status, error_body(err.code, err.message)), request_id, self._remaining(token)
            )
            return
        if route is None:
            self._count("unknown", "404")
            body = error_body(E.NOT_FOUND, f"No such API: {request.method} {request.path}")
            await self._send(send, Response(404, body), request_id, self._remaining(token))
            return
        endpoint = f"{route.method} {route.template}"
        if faults.latency_ms or faults.latency_jitter_ms:
            jitter = sb.fault_rng.uniform(0, faults.latency_jitter_ms) if faults.latency_jitter_ms else 0.0
            await asyncio.sleep((faults.latency_ms + jitter) / 1000)

        # faults that stop the request before it is processed
        kind: str | None
        if self._burst_left > 0:
            self._burst_left -= 1
            kind = "http_429"
        else:
            kind = self._draw_fault(request, route)
            if kind == "http_429":
                self._burst_left = max(faults.rate_limit_burst - 1, 0)
        if kind in ("http_500", "http_502", "http_503", "http_429"):
            self._count(endpoint, f"fault:{kind}")
            await self._send(
                send, self._fault_response(kind), request_id, 0 if kind == "http_429" else self._remaining(token)
            )
            return

        # auth and rate limit
        remaining = self._remaining(token)
        if route.auth:
            problem = sb.check_token(token)
            if problem is not None:
                auth_err = _auth_error(problem, oauth_test=route.template == "/api/v3/oauth/test")
                self._count(endpoint, f"{auth_err.status}:{auth_err.code}")
                body = error_body(auth_err.code, auth_err.message)
                await self._send(send, Response(auth_err.status, body), request_id, remaining)
                return
            if sb.config.rate_limit is not None:
                bucket = self._buckets.get(token or "")
                if bucket is None:
                    bucket = self._buckets[token or ""] = TokenBucket(float(sb.config.rate_limit))
                allowed, remaining, wait = bucket.take()
                if not allowed:
                    self._count(endpoint, "429")
                    await self._send(send, self._rate_limited(wait), request_id, 0)
                    return

        if kind == "late":
            # queued behind the gateway: processed only after the client may have given up on it
            self._count(endpoint, "fault:late")
            await asyncio.sleep(faults.timeout_seconds)

        # the request itself
        try:
            data = route.handler(self, request)
            fields = request.query.get("fields") if request.method == "GET" else None
            if fields and "/oauth/" not in request.path:
                try:
                    selection = parse_fields(fields[-1])
                except ValueError as exc:
                    raise SandboxError(E.INVALID_PARAMETER, str(exc)) from None
                data = orjson.dumps(project(orjson.loads(data), selection))
            response = Response(200, envelope(data))
            outcome = "200"
        except SandboxError as err:
            response = Response(err.status, error_body(err.code, err.message))
            outcome = f"{err.status}:{err.code}"

        # faults on the way back
        if kind == "timeout":
            self._count(endpoint, "fault:timeout")
            await asyncio.sleep(faults.timeout_seconds)
            await self._send(send, response, request_id, remaining)
            return
        if kind in ("cut_off", "response_lost"):
            self._count(endpoint, f"fault:{kind}")
            if kind == "response_lost" and response.status == 200:
                oid = request.params.get("id")
                if oid:
                    with sb.lock:
                        for entry in sb._writes.get(oid, [])[-1:]:
                            entry["response_lost"] = True
            await self._send_cut(send, response, request_id, remaining)
            return
        if kind == "malformed_json" and response.status == 200:
            self._count(endpoint, "fault:malformed_json")
            cut = max(1, len(response.body) // 2)
            response.body = response.body[:cut] + b"\n<html><body>upstream error</body></html>"
        elif kind == "schema_drift" and response.status == 200:
            self._count(endpoint, "fault:schema_drift")
            response.body = _drift(response.body)
        else:
            self._count(endpoint, outcome)
        await self._send(send, response, request_id, remaining)

    def _fault_response(self, kind: str) -> Response:
        if kind == "http_502":
            return Response(
                502, b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>", b"text/html"
            )
        if kind == "http_503":
            return Response(503, error_body(E.INTERNAL_ERROR, "Service temporarily unavailable, please retry"))
        if kind == "http_429":
            return self._rate_limited(1.0)
        return Response(500, error_body(E.INTERNAL_ERROR, "Internal server error"))

    def _rate_limited(self, wait_seconds: float) -> Response:
        return Response(
            429,
            error_body(E.RATE_LIMITED, "Rate limit exceeded, please retry after Wish-Rate-Limit-Reset"),
            headers=read_profile(self.sandbox.config.read_profile).reset_header(wait_seconds),
        )

    # ------------------------------------------------------------------------------------------
    # Wish handlers: each returns the JSON bytes of ``data``
    # ------------------------------------------------------------------------------------------

    def h_access_token(self, req: Request) -> bytes:
        """``/oauth/access_token``: exchange an authorisation code for tokens (query or JSON body, GET or POST)."""
        params = {k: v[-1] for k, v in req.query.items()}
        if req.method == "POST":
            body = req.json()
            if isinstance(body, dict):
                params.update({k: str(v) for k, v in body.items()})
        return orjson.dumps(self.sandbox.exchange_code(params))

    def h_refresh_token(self, req: Request) -> bytes:
        """``/oauth/refresh_token``: new tokens for a refresh token; the older access tokens are revoked."""
        params = {k: v[-1] for k, v in req.query.items()}
        if req.method == "POST":
            body = req.json()
            if isinstance(body, dict):
                params.update({k: str(v) for k, v in body.items()})
        return orjson.dumps(self.sandbox.refresh(params))

    def h_oauth_test(self, _req: Request) -> bytes:
        """``GET /oauth/test``: the merchant the token belongs to."""
        return orjson.dumps({"merchant_id": self.sandbox.merchant_id})

    def h_list_orders(self, req: Request) -> bytes:
        """``GET /orders``: one page of orders, serialised once and joined without decoding."""
        return b"[" + b",".join(self.sandbox.list_orders_raw(req.query)) + b"]"

    def h_get_order(self, req: Request) -> bytes:
        """``GET /orders/{id}``."""
        return self.sandbox.get_order_raw(req.params["id"])

    def h_tracking(self, req: Request) -> bytes:
        """``PUT /orders/{id}/tracking``: ship (or correct the tracking of) an order; a write."""
        return self.sandbox.ship(req.params["id"], req.json())

    def h_address(self, req: Request) -> bytes:
        """``PUT /orders/{id}/address``: change the shipping address; a write."""
        return self.sandbox.modify_address(req.params["id"], req.json())

    def h_refund_reasons(self, req: Request) -> bytes:
        """``GET /orders/{id}/refund_reasons``."""
        return orjson.dumps(self.sandbox.refund_reasons(req.params["id"]))

    def h_refund(self, req: Request) -> bytes:
        """``PUT /orders/{id}/refund``; a write."""
        return self.sandbox.refund(req.params["id"], req.json())

    def h_carriers(self, req: Request) -> bytes:
        """``GET /orders/shipping_carriers`` for an order type and destination country."""
        return orjson.dumps(self.sandbox.shipping_carriers(req.single("order_type"), req.single("dest_country_code")))

    def h_bulk_get(self, req: Request) -> bytes:
        """``POST /orders/bulk_get``: start a download job of orders."""
        return orjson.dumps(self.sandbox.create_download_job(req.query))

    def h_bulk_get_status(self, req: Request) -> bytes:
        """``GET /orders/bulk_get/{id}``: a download job's state and, once done, its file's URL."""
        return orjson.dumps(self.sandbox.get_download_job(req.params["id"], req.base_url))

    def h_update_order(self, req: Request) -> bytes:
        """``PUT /orders/{id}`` (UpdateOrder): an LTL order's delivery confirmation (programs.py)."""
        return programs.ltl_update(self.sandbox, req.params["id"], req.json())

    def h_list_tickets(self, req: Request) -> bytes:
        """``GET /tickets``."""
        return orjson.dumps(self.sandbox.list_tickets(req.query))

    def h_get_ticket(self, req: Request) -> bytes:
        """``GET /tickets/{id}``."""
        return orjson.dumps(self.sandbox.get_ticket(req.params["id"]))

    def h_update_ticket(self, req: Request) -> bytes:
        """``PUT /tickets/{id}``; a write."""
        return orjson.dumps(self.sandbox.update_ticket(req.params["id"], req.json()))

    def h_reply_ticket(self, req: Request) -> bytes:
        """``POST /tickets/{id}/replies``; a write."""
        return orjson.dumps(self.sandbox.reply_ticket(req.params["id"], req.json()))

    def h_list_penalties(self, req: Request) -> bytes:
        """``GET /penalties``."""
        return orjson.dumps(self.sandbox.list_penalties(req.query))

    def h_count_penalties(self, req: Request) -> bytes:
        """``GET /penalties/count``."""
        return orjson.dumps({"count": self.sandbox.count_penalties(req.query)})

    def h_get_penalty(self, req: Request) -> bytes:
        """``GET /penalties/{id}``."""
        return orjson.dumps(self.sandbox.get_penalty(req.params["id"]))

    # ------------------------------------------------------------------------------------------
    # admin API
    # ------------------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        try:
            route = self._match(ADMIN_ROUTES, request)
            if route is None:
                raise SandboxError(E.NOT_FOUND, f"No such admin API: {request.method} {request.path}", 404)
            result = route.handler(self, request)
            if isinstance(result, Response):
                return result
            return Response(200, orjson.dumps(result))
        except SandboxError as err:
            return Response(err.status, error_body(err.code, err.message))

    def a_create_orders(self, req: Request) -> Any:
        """Admin ``POST /sandbox/orders``: the given ``orders``, or ``count`` generated ones spread in time."""
        body = req.json()
        if not isinstance(body, dict):
            raise SandboxError(E.INVALID_PARAMETER, "body must be an object")
        if "count" in body:
            count = body["count"]
            if not isinstance(count, int):
                raise SandboxError(E.INVALID_PARAMETER, "count must be an integer")
            template = body.get("template")
            if template is not None and not isinstance(template, dict):
                raise SandboxError(E.INVALID_PARAMETER, "template must be an object")
            spread = body.get("spread_seconds")
            if spread is not None and (not isinstance(spread, int | float) or spread < 0):
                raise SandboxError(E.INVALID_PARAMETER, "spread_seconds must be a non-negative number")
            ids = self.sandbox.create_default_orders(
                count, template=template, spread_seconds=spread, mix=bool(body.get("mix"))
            )
            return Response(200, b'{"ids":' + orjson.dumps(ids) + b"}")
        orders = body.get("orders")
        if not isinstance(orders, list):
            raise SandboxError(E.INVALID_PARAMETER, 'body needs "orders": [...] or "count": N')
        return {"ids": self.sandbox.create_orders(orders)}

    def a_writes(self, req: Request) -> Any:
        """Admin ``GET /sandbox/orders/{id}/writes``: every write accepted for the order (exactly-once judge)."""
        with self.sandbox.lock:
            self.sandbox._rec(req.params["id"])
            return {"writes": self.sandbox.writes(req.params["id"])}

    def a_clock_get(self, _req: Request) -> Any:
        """Admin ``GET /sandbox/clock``: the sandbox's time and whether it runs."""
        sb = self.sandbox
        with sb.lock:
            sb.tick()
            return {"now": fmt_ms(sb.now_ms()), "running": sb.clock.running}

    def a_clock_post(self, req: Request) -> Any:
        """Admin ``POST /sandbox/clock``: stop or start the clock, set it, or advance it (firing what falls due)."""
        body = req.json()
        if not isinstance(body, dict):
            raise SandboxError(E.INVALID_PARAMETER, "body must be an object")
        sb = self.sandbox
        with sb.lock:
            if "running" in body:
                sb.clock.set_ms(sb.clock.now_ms())
                sb.clock.running = bool(body["running"])
            if "now" in body:
                try:
                    sb.set_now(str(body["now"]))
                except ValueError:
                    raise SandboxError(E.INVALID_PARAMETER, "now must be an ISO 8601 date-time") from None
            if "advance_seconds" in body:
                seconds = body["advance_seconds"]
                if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                    raise SandboxError(E.INVALID_PARAMETER, "advance_seconds must be a number")
                sb.advance(float(seconds))
            sb.tick()
            return {"now": fmt_ms(sb.now_ms()), "running": sb.clock.running}

    def a_faults_get(self, _req: Request) -> Any:
        """Admin ``GET /sandbox/faults``: the injected faults now in force."""
        return self.sandbox.faults.to_dict()

    def a_faults_put(self, req: Request) -> Any:
        """Admin ``PUT /sandbox/faults``: replace the injected faults (a running burst ends)."""
        body = req.json()
        if not isinstance(body, dict):
            raise SandboxError(E.INVALID_PARAMETER, "body must be an object")
        try:
            faults = FaultConfig.from_dict(body)
        except (TypeError, ValueError) as exc:
            raise SandboxError(E.INVALID_PARAMETER, str(exc)) from None
        with self.sandbox.lock:
            self.sandbox.faults = faults
            self._burst_left = 0
        return faults.to_dict()

    # -- write profiles (wishflow/sandbox/write_profiles.py) --------------------------------------

    def a_write_profile_get(self, _req: Request) -> Any:
        """Admin ``GET /sandbox/write_profile``: how writes are acknowledged now, and the named profiles."""
        return {"profile": self.sandbox.write_profile.to_dict(), "known": sorted(PROFILES)}

    def a_write_profile_put(self, req: Request) -> Any:
        """Admin ``PUT /sandbox/write_profile``: how writes accepted from now on are acknowledged.

                The body is a name (``{"name": "slow-hours"}``) or knobs (``{"name": "queued", "processing_seconds":
        60}``).
        """
        body = req.json()
        spec = body.get("name") if isinstance(body, dict) and set(body) == {"name"} else body
        try:
            profile = resolve_write_profile(spec)
        except (TypeError, ValueError) as exc:
            raise SandboxError(E.INVALID_PARAMETER, str(exc)) from None
        with self.sandbox.lock:
            self.sandbox.write_profile = profile
            self.sandbox.config.write_profile = profile.to_dict()
        return {"profile": profile.to_dict(), "known": sorted(PROFILES)}

    def a_data_profile_get(self, _req: Request) -> Any:
        """Admin ``GET /sandbox/data_profile``: the data profile in force, the store's own, the known ones."""
        return {
            "profile": programs.active(self.sandbox).name,
            "own": self.sandbox.config.data_profile,
            "known": sorted(programs.DATA_PROFILES),
        }

    def a_data_profile_put(self, req: Request) -> Any:
        """``{"name": "programs"}`` (or ``{"name": null}``: the read profile's): shapes data made from now on."""
        body = req.json()
        if not isinstance(body, dict) or set(body) != {"name"}:
            raise SandboxError(E.INVALID_PARAMETER, 'body must be {"name": PROFILE} (or null)')
        name = body["name"]
        if name is not None:
            try:
                programs.data_profile(str(name))
            except ValueError as exc:
                raise SandboxError(E.INVALID_PARAMETER, str(exc)) from None
        with self.sandbox.lock:
            self.sandbox.config.data_profile = None if name is None else str(name)
        return self.a_data_profile_get(req)

    def a_reverse_penalty(self, req: Request) -> Any:
        """Wish reverses a penalty now (a scripted reversal, beside the profile's drawn ones)."""
        with self.sandbox.lock:
            now = self.sandbox.tick()
            return programs.reverse_penalty(self.sandbox, now, req.params["id"])

    def a_stats(self, _req: Request) -> Any:
        """Admin ``GET /sandbox/stats``: orders by state and requests by endpoint and outcome."""
        return self.sandbox.stats()

    def a_reset(self, req: Request) -> Any:
        """Admin ``POST /sandbox/reset``: new data (optionally a new seed), no webhook subscriptions; credentials."""
        body = req.json()
        seed = body.get("seed") if isinstance(body, dict) else None
        if seed is not None and not isinstance(seed, int):
            raise SandboxError(E.INVALID_PARAMETER, "seed must be an integer")
        self.sandbox.reset(seed)
        _webhooks.drop_hub(self.sandbox)
        self._buckets.clear()
        self._burst_left = 0
        return self.a_credentials(req)

    def a_credentials(self, req: Request) -> Any:
        """Admin ``GET /sandbox/credentials``: what a client needs to connect (API URL, app credentials, tokens)."""
        sb = self.sandbox
        return {
            "api_url": f"{req.base_url}/api/v3",
            "seed": sb.config.seed,
            "client_id": sb.client_id,
            "client_secret": sb.client_secret,
            "redirect_uri": sb.redirect_uri,
            "access_token": sb.access_token,
            "refresh_token": sb.refresh_token,
            "merchant_id": sb.merchant_id,
        }

    def a_auth_code(self, _req: Request) -> Any:
        """Admin ``POST /sandbox/oauth/code``: an authorisation code, as if the merchant had approved the app."""
        return {"code": self.sandbox.new_auth_code(), "redirect_uri": self.sandbox.redirect_uri}

    def a_issue_token(self, _req: Request) -> Any:
        """Admin ``POST /sandbox/oauth/token``: a further valid access token."""
        return {"access_token": self.sandbox.issue_token()}

    def a_labels(self, req: Request) -> Any:
        """Admin ``POST /sandbox/labels``: tracking numbers for orders, as a label provider would print them."""
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("order_ids"), list):
            raise SandboxError(E.INVALID_PARAMETER, 'body needs "order_ids": [...] and "carrier"')
        return {"labels": self.sandbox.make_labels(body["order_ids"], body.get("carrier", ""))}

    def a_open_ticket(self, req: Request) -> Any:
        """Admin ``POST /sandbox/tickets``: a customer opens a ticket on an order."""
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("order_id"), str):
            raise SandboxError(E.INVALID_PARAMETER, 'body needs "order_id"')
        reason = body.get("reason", "OTHER")
        return {"id": self.sandbox.open_ticket(body["order_id"], str(reason))}

    def a_file(self, req: Request) -> Any:
        """Admin ``GET /sandbox/files/orders/{id}.json``: a finished download job's file."""
        return Response(200, self.sandbox.download_file(req.params["id"]))

    def a_catalog(self, _req: Request) -> Any:
        """Admin ``GET /sandbox/catalog``: the product variations orders are drawn from (SKUs, weights)."""
        return {
            "variations": [
                {
                    "product_id": v.product_id,
                    "variation_id": v.variation_id,
                    "sku": v.sku,
                    "name": v.name,
                    "color": v.color,
                    "size": v.size,
                    "price": v.price,
                    "weight_grams": v.weight_grams,
                }
                for v in self.sandbox.catalog
            ]
        }

    def a_save(self, _req: Request) -> Any:
        """Admin ``POST /sandbox/save``: write the state file now (the sandbox must have been started with one)."""
        from .persist import save_state

        if not self.sandbox.config.state_file:
            raise SandboxError(E.INVALID_PARAMETER, "the sandbox was started without a state file")
        save_state(self.sandbox, self.sandbox.config.state_file)
        return {"saved": self.sandbox.config.state_file}


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    token = request.single("access_token")
    return token or None


def _auth_error(problem: str, *, oauth_test: bool) -> SandboxError:
    """Resources answer 401; /oauth/test answers 400 with the codes Wish documents for it."""
    status = 400 if oauth_test else 401
    if problem == "expired":
        return SandboxError(E.TOKEN_EXPIRED, "The access token has expired", status)
    if problem == "revoked":
        return SandboxError(E.TOKEN_REVOKED, "The access token has been revoked", status)
    if oauth_test:
        return SandboxError(E.UNAUTHORIZED_ACCESS, "No access token found or the app does not exist", 400)
    return SandboxError(E.MISSING_TOKEN, "Unauthorized request: a valid access token is required", 401)


def _drift(body: bytes) -> bytes:
    """Schema drift: unknown fields in the envelope and in every object of ``data``."""
    doc = orjson.loads(body)
    extra = {"x_sandbox_added": {"since": "3.0.66", "note": "unknown field, ignore me"}}
    doc["request_meta"] = {"api_version": "3.0.66"}
    data = doc.get("data")
    if isinstance(data, dict):
        data.update(extra)
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                item.update(extra)
    return orjson.dumps(doc)


A = SandboxApp
WISH_ROUTES: list[Route] = [
    _route("POST", "/api/v3/oauth/access_token", A.h_access_token, auth=False),
    _route("GET", "/api/v3/oauth/access_token", A.h_access_token, auth=False),
    _route("GET", "/api/v3/oauth/refresh_token", A.h_refresh_token, auth=False),
    _route("POST", "/api/v3/oauth/refresh_token", A.h_refresh_token, auth=False),
    _route("GET", "/api/v3/oauth/test", A.h_oauth_test),
    _route("GET", "/api/v3/orders", A.h_list_orders),
    _route("GET", "/api/v3/orders/shipping_carriers", A.h_carriers),
    _route("POST", "/api/v3/orders/bulk_get", A.h_bulk_get),
    _route("GET", "/api/v3/orders/bulk_get/{id}", A.h_bulk_get_status),
    _route("GET", "/api/v3/orders/{id}", A.h_get_order),
    _route("PUT", "/api/v3/orders/{id}", A.h_update_order, write=True),
    _route("PUT", "/api/v3/orders/{id}/tracking", A.h_tracking, write=True),
    _route("PUT", "/api/v3/orders/{id}/address", A.h_address, write=True),
    _route("GET", "/api/v3/orders/{id}/refund_reasons", A.h_refund_reasons),
    _route("PUT", "/api/v3/orders/{id}/refund", A.h_refund, write=True),
    _route("GET", "/api/v3/tickets", A.h_list_tickets),
    _route("GET", "/api/v3/tickets/{id}", A.h_get_ticket),
    _route("PUT", "/api/v3/tickets/{id}", A.h_update_ticket, write=True),
    _route("POST", "/api/v3/tickets/{id}/replies", A.h_reply_ticket, write=True),
    _route("GET", "/api/v3/penalties", A.h_list_penalties),
    _route("GET", "/api/v3/penalties/count", A.h_count_penalties),
    _route("GET", "/api/v3/penalties/{id}", A.h_get_penalty),
]
ADMIN_ROUTES: list[Route] = [
    _route("POST", "/sandbox/orders", A.a_create_orders, auth=False),
    _route("GET", "/sandbox/orders/{id}/writes", A.a_writes, auth=False),
    _route("GET", "/sandbox/clock", A.a_clock_get, auth=False),
    _route("POST", "/sandbox/clock", A.a_clock_post, auth=False),
    _route("GET", "/sandbox/faults", A.a_faults_get, auth=False),
    _route("PUT", "/sandbox/faults", A.a_faults_put, auth=False),
    _route("GET", "/sandbox/stats", A.a_stats, auth=False),
    _route("POST", "/sandbox/reset", A.a_reset, auth=False),
    _route("GET", "/sandbox/credentials", A.a_credentials, auth=False),
    _route("POST", "/sandbox/oauth/code", A.a_auth_code, auth=False),
    _route("POST", "/sandbox/oauth/token", A.a_issue_token, auth=False),
    _route("POST", "/sandbox/labels", A.a_labels, auth=False),
    _route("POST", "/sandbox/tickets", A.a_open_ticket, auth=False),
    _route("GET", "/sandbox/files/orders/{id}.json", A.a_file, auth=False),
    _route("GET", "/sandbox/catalog", A.a_catalog, auth=False),
    _route("POST", "/sandbox/save", A.a_save, auth=False),
    _route("GET", "/sandbox/write_profile", A.a_write_profile_get, auth=False),
    _route("GET", "/sandbox/data_profile", A.a_data_profile_get, auth=False),
    _route("PUT", "/sandbox/data_profile", A.a_data_profile_put, auth=False),
    _route("POST", "/sandbox/penalties/{id}/reverse", A.a_reverse_penalty, auth=False),
    _route("PUT", "/sandbox/write_profile", A.a_write_profile_put, auth=False),
]


def create_app(sandbox: Sandbox) -> SandboxApp:
    """The ASGI app serving ``sandbox``."""
    return SandboxApp(sandbox)


# Webhook subscriptions and deliveries (wishflow/sandbox/webhooks.py).
from . import webhooks as _webhooks  # noqa: E402

WISH_ROUTES += [
    _route("GET", "/api/v3/webhook/topics", _webhooks.h_topics),
    _route("GET", "/api/v3/webhook/subscriptions", _webhooks.h_list_subscriptions),
    _route("POST", "/api/v3/webhook/subscriptions", _webhooks.h_create_subscription, write=True),
    _route("GET", "/api/v3/webhook/subscriptions/{id}", _webhooks.h_get_subscription),
    _route("PUT", "/api/v3/webhook/subscriptions/{id}", _webhooks.h_update_subscription, write=True),
    _route("DELETE", "/api/v3/webhook/subscriptions/{id}", _webhooks.h_delete_subscription, write=True),
]
ADMIN_ROUTES += [
    _route("POST", "/sandbox/webhooks/scan", _webhooks.a_scan, auth=False),
    _route("GET", "/sandbox/webhooks/deliveries", _webhooks.a_deliveries, auth=False),
]
