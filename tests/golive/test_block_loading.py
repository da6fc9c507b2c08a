"""A block the Prefect server does not hold is a ConfigError saying how to create it, recognised by type."""

from __future__ import annotations

import uuid

import pytest

from blocks.loading import is_missing_block, load_block
from blocks.warehouse import Warehouse
from wishflow.errors import ConfigError


def test_a_missing_block_is_a_config_error_naming_it_and_how_to_create_it(prefect_harness: None) -> None:
    name = f"nosuch-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConfigError) as info:
        load_block(Warehouse, name)
    assert info.value.message.startswith(f"the Wishflow Warehouse block {name!r} does not exist on ")
    assert "WISHFLOW_WAREHOUSE_URL" in (info.value.hint or "")


def test_a_value_error_is_not_a_missing_block_by_its_words() -> None:
    """Only Prefect's ObjectNotFound (the API's 404) behind the ValueError makes a block missing."""
    from prefect.exceptions import ObjectNotFound

    assert not is_missing_block(ValueError("Unable to find block document named x for block type y"))
    missing = ValueError("any words")
    missing.__cause__ = ObjectNotFound(http_exc=Exception("404"))  # as Block.load raises it: `from` the 404
    assert is_missing_block(missing)
