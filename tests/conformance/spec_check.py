"""The conformance checker: calls the sandbox's Wish API and validates each answer against Wish's
own OpenAPI file (a success's ``data`` against the operation's 200 schema, an error body against
``APIError``).
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import orjson
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from wishflow.sandbox import RunningSandbox


class Checker:
    """Calls the sandbox's Wish API and validates each answer against the spec."""

    def __init__(self, spec: tuple[OpenAPI, dict[str, Any]], running: RunningSandbox) -> None:
        self.openapi, raw = spec
        self.running = running
        self.api_error = OAS30Validator(raw["components"]["schemas"]["APIError"])
        self.client = httpx.Client(base_url=running.base_url, timeout=30)
        self.checks = 0

    def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.running.access_token}"}
        response = self.client.request(method, path, params=params, json=json, headers=headers)
        assert response.status_code == expect, response.text
        body = response.json()
        self.checks += 1
        if expect == 200:
            assert body["code"] == 0
            assert body["message"] == ""
            request = MockRequest(
                "https://merchant.wish.com", method.lower(), path, args=params or {}, headers={"Authorization": "x"}
            )
            data = MockResponse(orjson.dumps(body["data"]), status_code=200, content_type="application/json")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.openapi.validate_response(request, data)
            return body["data"]
        self.api_error.validate(body)
        assert isinstance(body["code"], int)
        assert body["code"] != 0
        return body
