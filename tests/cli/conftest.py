"""CLI tests reuse the flow tests' sandbox admin and environment fixtures."""

from tests.flows.conftest import admin, flow_env  # noqa: F401 - fixtures
