"""The ship form's choice lists (``wishflow deploy`` writes them into the ship deployment's parameter
schema): every carrier Wish accepts with the policy's first, the policy's presets, and a schema whose
carrier and package stay optional.
"""

from __future__ import annotations

from wishflow.shipping.choices import carrier_choices, package_choices, schema_choices, schema_with_choices
from wishflow.shipping.policy import ShippingPolicy

POLICY = ShippingPolicy.from_mapping(
    {
        "default": {"carrier": "yunexpress", "service": "standard", "origin_country": "CN"},
        "rules": [
            {"name": "us", "when": {"countries": ["US"]}, "then": {"carrier": "USPS"}},
            {"name": "gone", "when": {"countries": ["FR"]}, "then": {"carrier": "PigeonPost"}},
        ],
        "presets": {"tube": {"length_mm": 400, "width_mm": 60, "height_mm": 60, "tare_grams": 40}},
    }
)


def test_carriers_are_wishs_with_the_policys_first_in_wishs_spelling() -> None:
    accepted = ["DHL", "USPS", "YunExpress", "4PX", "yanwen"]
    choices = carrier_choices(accepted, POLICY)
    # the policy's carriers first, in its order and Wish's spelling; one Wish does not accept is left out
    assert choices[:2] == ["YunExpress", "USPS"]
    assert choices[2:] == ["4PX", "DHL", "yanwen"]
    assert "PigeonPost" not in choices
    assert sorted(choices) == sorted(accepted)


def test_packages_are_the_policys_presets_defaults_and_its_own() -> None:
    packages = package_choices(POLICY)
    assert "tube" in packages
    assert "small_box" in packages


def test_the_schema_offers_the_lists_and_keeps_the_fields_optional() -> None:
    schema = {
        "type": "object",
        "properties": {
            "carrier": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "carrier"},
            "package": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "package"},
            "store": {"type": "string", "default": "default"},
        },
    }
    out = schema_with_choices(schema, {"carrier": ["USPS", "DHL"], "package": [], "missing": ["x"]})
    assert schema_choices(out, "carrier") == ["USPS", "DHL"]
    # a plain list (the form shows it at once); optional, with no null default the form would send
    assert out["properties"]["carrier"]["type"] == "string"
    assert "anyOf" not in out["properties"]["carrier"]
    assert "default" not in out["properties"]["carrier"]
    assert "carrier" not in out.get("required", [])
    assert schema_choices(out, "package") is None  # an empty list leaves free text
    assert schema_choices(out, "store") is None
    assert "missing" not in out["properties"]
    assert schema_choices(schema, "carrier") is None  # the input is not changed
