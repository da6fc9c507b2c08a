"""The ``ShippingPolicy`` block: the merchant's shipping rules, editable in the Prefect UI.

It holds the rules, the default, the package presets and the label source;
:meth:`ShippingPolicy.from_yaml` loads it from YAML.

The rules themselves are plain data here; the library (:mod:`wishflow.shipping.policy`) validates and
applies them, so a block that does not parse fails the run before anything is submitted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from prefect.blocks.core import Block
from pydantic import Field

from blocks.loading import load_block
from wishflow.shipping.labels import LabelProvider, choose_label_source
from wishflow.shipping.packages import SkuTable
from wishflow.shipping.policy import ShippingPolicy as Policy
from wishflow.shipping.policy import default_policy

POLICY_ENV = "WISHFLOW_SHIPPING_POLICY"
#: run settings of a ship run (not shipping rules): kept off the merchant's ship form
RUN_SETTINGS = ("workers", "max_rate", "lease_seconds")


def _default_workers() -> int:
    return int(os.environ.get("WISHFLOW_SHIP_WORKERS", "8"))


class ShippingPolicy(Block):
    """Which carrier, service, package and origin each order ships with (first matching rule wins)."""

    _block_type_name = "Wishflow Shipping Policy"
    _block_type_slug = "wishflow-shipping-policy"
    _description = (
        "Ordered shipping rules (first match wins) with a default; criteria: countries, regions, weight, "
        "order value, Wish Express, confirmed delivery, SKUs, tags, warehouses."
    )

    default: dict[str, Any] = Field(
        default_factory=lambda: {"carrier": "YunExpress", "service": "standard", "origin_country": "CN"},
        description="Outcome when no rule matches: carrier, service, package, origin_country.",
    )
    rules: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Ordered rules: [{name, when: {countries, regions, min_weight_grams, ...}, then: {carrier, ...}}].",
    )
    presets: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Package presets: name -> {length_mm, width_mm, height_mm, tare_grams, max_weight_grams}.",
    )
    regions: dict[str, list[str]] = Field(default_factory=dict, description="Extra regions: name -> country codes.")
    combine: bool = Field(default=True, description="Combine orders to the same recipient (Wish's 5-day rule).")
    max_batch_size: int = Field(default=500, ge=1, le=5000, description="Orders per shipment batch (one task run).")
    label_provider: Literal["sandbox", "table"] | None = Field(
        default=None,
        description="Where tracking numbers come from: 'table' (a CSV of numbers bought elsewhere) for a live "
        "account; 'sandbox' (the sandbox's carrier) only with the sandbox. Empty: the sandbox's carrier in the "
        "sandbox profile; for a live account, numbers given per run (ship run --tracking / --tracking-file).",
    )
    label_table_path: str | None = Field(default=None, description="CSV of order_id,tracking_number[,carrier].")
    sku_csv_path: str | None = Field(
        default=None, description="CSV of sku,weight_grams,length_mm,width_mm,height_mm,tags (else the warehouse)."
    )

    # -- run settings (issue 19): internal knobs, not the merchant's manual-run form --
    workers: int = Field(
        default_factory=_default_workers,
        ge=1,
        le=64,
        description="Concurrent calls to Wish while shipping (default 8, or WISHFLOW_SHIP_WORKERS).",
    )
    max_rate: float | None = Field(
        default=None, gt=0, description="Ceiling on calls per second (Wish's own limit is always honoured)."
    )
    lease_seconds: float = Field(
        default=600.0, ge=0, description="After this long a claim of another (dead) ship run is taken over."
    )

    # -- validation bounds (issue 18) --
    bounds: dict[str, Any] = Field(
        default_factory=dict,
        description="Blocking upper bounds of orders, e.g. {max_quantity: 50, max_unit_price: 2000}; unset ones "
        "take the defaults (see wishflow/validation/bounds.py), parcel bounds the largest package preset.",
    )

    def policy(self) -> Policy:
        """The library's shipping policy from this block's fields, validated as the YAML form would be."""
        return Policy.from_mapping(
            {
                "default": self.default,
                "rules": self.rules,
                "presets": self.presets,
                "regions": self.regions,
                "combine": self.combine,
                "max_batch_size": self.max_batch_size,
                "bounds": self.bounds,
            }
        )

    def label_source(self, api_url: str) -> LabelProvider:
        """The configured label provider for the API root ``api_url``.

        Never the sandbox's for a live account (:mod:`wishflow.profile`). Raises :class:`ConfigError` before
        anything is sent.
        """
        return choose_label_source(self.label_provider, self.label_table_path, api_url)

    def skus(self) -> SkuTable | None:
        """The SKU table from ``sku_csv_path``, or None so the warehouse's saved table is used."""
        return SkuTable.from_csv(self.sku_csv_path) if self.sku_csv_path else None

    @classmethod
    def from_yaml(cls, source: str | Path) -> ShippingPolicy:
        """A block from a YAML file or text; the policy part is validated by the library first.

        The YAML holds the policy keys plus label_provider, label_table_path, sku_csv_path and the run
        settings workers, max_rate and lease_seconds.
        """
        text = (
            Path(source).read_text() if isinstance(source, Path) or str(source).endswith((".yaml", ".yml")) else source
        )
        data = yaml.safe_load(text) or {}
        not_rules = ("label_provider", "label_table_path", "sku_csv_path", *RUN_SETTINGS)
        extra = {k: data.pop(k) for k in not_rules if k in data}
        Policy.from_mapping(data)  # raise PolicyError early with a clear message
        return cls(**data, **extra)


def resolve_shipping_policy(block_name: str | None = None) -> ShippingPolicy:
    """The named block, else a YAML file named by ``WISHFLOW_SHIPPING_POLICY``, else the embedded default."""
    if block_name:
        return load_block(ShippingPolicy, block_name)
    path = os.environ.get(POLICY_ENV)
    if path:
        return ShippingPolicy.from_yaml(Path(path))
    default = default_policy()
    return ShippingPolicy(default=default.default.to_mapping(), max_batch_size=default.max_batch_size)
