"""Load a named block, or say in one line that it does not exist and how to create it.

Prefect's ``Block.load`` raises a ``ValueError`` when a deployment, a worker or the CLI names a block
the Prefect server does not hold; it is raised from the client's typed
:class:`prefect.exceptions.ObjectNotFound` (the API's 404), which is how it is recognised here (never by
its message; ``Block.load`` and ``Block.aload`` both chain it, ``prefect/blocks/core.py``). That is a
configuration mistake, not a bug and not transient: it is raised as
:class:`wishflow.errors.ConfigError` (the CLI prints one ``error:`` line and exits 2; the tasks never
retry it), naming the block, its type and how to create it.
"""

from __future__ import annotations

from typing import TypeVar

from prefect.blocks.core import Block
from prefect.exceptions import ObjectNotFound

from wishflow.errors import ConfigError

B = TypeVar("B", bound=Block)

#: how to create each block type, after ``prefect block register -m blocks``
HOW_TO_CREATE: dict[str, str] = {
    "wish-credentials": "create a Wish Credentials block of that name in the Prefect UI (Blocks, after "
    "`prefect block register -m blocks`), or drop wish_block (--wish-block) to use WISH_API_BASE_URL and "
    "WISH_ACCESS_TOKEN",
    "wishflow-warehouse": "create a Wishflow Warehouse block of that name in the Prefect UI (Blocks, after "
    "`prefect block register -m blocks`), or drop warehouse_block (--warehouse-block) to use WISHFLOW_WAREHOUSE_URL",
    "wishflow-shipping-policy": "create a Wishflow Shipping Policy block of that name in the Prefect UI "
    "(Blocks, after `prefect block register -m blocks`), or drop policy_block (--policy-block) to use "
    "WISHFLOW_SHIPPING_POLICY (a YAML file)",
    "wishflow-retention-policy": "create a Wishflow Retention Policy block of that name in the Prefect UI "
    "(Blocks, after `prefect block register -m blocks`), or unset WISHFLOW_RETENTION_BLOCK to use "
    "WISHFLOW_RETENTION_DAYS",
    "wishflow-webhook-secret": "create it with `wishflow webhooks subscribe`",
}


def is_missing_block(exc: BaseException) -> bool:
    """Prefect's "no block document of that name" error: a ``ValueError`` raised from ``ObjectNotFound``.

    A ``ValueError`` of another cause (a block document that fails validation) is not a missing block.
    """
    return isinstance(exc, ValueError) and isinstance(exc.__cause__, ObjectNotFound)


def missing_block_error(block_type: type[Block], name: str) -> ConfigError:
    """The configuration error for a named block that does not exist on the Prefect server."""
    from prefect.settings import get_current_settings

    slug = block_type.get_block_type_slug()
    api = get_current_settings().api.url
    where = f"the Prefect server at {api}" if api else "the temporary Prefect server (no PREFECT_API_URL is set)"
    return ConfigError(
        f"the {block_type.get_block_type_name()} block {name!r} does not exist on {where}",
        hint=HOW_TO_CREATE.get(slug, "create it in the Prefect UI (Blocks)"),
    )


def load_block(block_type: type[B], name: str) -> B:
    """``block_type.load(name)``; a block that does not exist is a :class:`ConfigError`."""
    try:
        return block_type.load(name)  # type: ignore[return-value]
    except ValueError as exc:
        if is_missing_block(exc):
            raise missing_block_error(block_type, name) from None
        raise
