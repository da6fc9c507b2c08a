"""The merchant's choices on the ship form (carrier, package), checked before anything else runs.

Wish's accepted carriers are not a fixed list: live accounts get them from
``GET /orders/shipping_carriers`` (hundreds, changing over time, per destination and program), so
the form cannot offer a static enum without turning away carriers Wish accepts. The package presets
come from the merchant's policy (its own presets beside the defaults). Both are therefore checked
here, first thing in a ship run, and a wrong choice is one configuration error that lists the
accepted values, before any claim is settled, label bought or tracking sent.

The ship form still offers both as lists: ``wishflow deploy`` writes the account's carriers (the
policy's first) and the presets into the deployment's parameter schema (:func:`schema_with_choices`),
so the Prefect UI shows dropdowns; the run-start checks remain the safety net.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wishflow.shipping.policy import PolicyError, ShippingPolicy


class UnknownShipChoice(PolicyError):
    """The ship form names a carrier Wish does not accept or a package the policy does not know."""


def _listing(values: Iterable[str], limit: int = 60) -> str:
    names = sorted(set(values), key=str.lower)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_package(package: str | None, policy: ShippingPolicy) -> str | None:
    """``package`` if it names one of the policy's presets (or is empty), else :class:`UnknownShipChoice`."""
    if not package:
        return None
    if package not in policy.presets:
        raise UnknownShipChoice(f"unknown package {package!r}; the policy's presets are: {_listing(policy.presets)}")
    return package


def check_carrier(carrier: str | None, accepted: Iterable[str]) -> str | None:
    """Wish's spelling of ``carrier``, matched case-insensitively among ``accepted``.

    None when no carrier is chosen, else :class:`UnknownShipChoice` listing the accepted ones. Whether the carrier
    suits each order's destination and program is checked later, per order, by the plan.
    """
    if not carrier or not carrier.strip():
        return None
    names = list(accepted)
    by_lower = {name.lower(): name for name in names}
    found = by_lower.get(carrier.strip().lower())
    if found is None:
        raise UnknownShipChoice(f"Wish does not accept the carrier {carrier!r}; accepted carriers: {_listing(names)}")
    return found


# -- the ship form's choice lists ------------------------------------------------------------------
#
# The run form of the ship deployment offers the carriers and packages as lists (``enum`` in the
# deployment's parameter schema, which the Prefect UI shows as a dropdown). The lists are written at
# deploy time (``wishflow deploy``) from the account's carriers and the policy; the checks above stay
# the safety net at run start, for a list gone stale and for runs started without the form.

#: the ship form's parameters that get choice lists
CHOICE_PARAMETERS = ("carrier", "package")


def carrier_choices(accepted: Iterable[str], policy: ShippingPolicy) -> list[str]:
    """Every carrier Wish accepts, the policy's own first, so the run form offers them at the top.

    In Wish's spelling and in the policy's order (default, then rules); the rest alphabetically; the policy's carriers
    Wish does not accept are left out (a run naming them would fail).
    """
    names = list(dict.fromkeys(accepted))
    by_lower = {name.lower(): name for name in names}
    policy_carriers = [policy.default.carrier, *(rule.then.carrier for rule in policy.rules)]
    first = list(dict.fromkeys(by_lower[c.lower()] for c in policy_carriers if c and c.lower() in by_lower))
    return first + sorted((n for n in names if n not in first), key=str.lower)


def package_choices(policy: ShippingPolicy) -> list[str]:
    """The policy's package presets (the defaults and the merchant's own), in the policy's order."""
    return list(policy.presets)


def schema_with_choices(schema: Mapping[str, Any], choices: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A copy of a deployment's parameter schema whose named properties become dropdowns.

    The schema is JSON Schema, as Prefect generates it from the flow's signature; the copy's named properties are a list
    of ``choices`` (``enum``), which the Prefect UI's run form shows as a dropdown. An optional property (``str |
    None``: ``anyOf`` with ``null``, default null) becomes a plain string list without the default: the form then shows
    the list at once (not a str/None switch), and a form left empty sends nothing, so the flow's default (None) applies.
    An empty list leaves the property free text.
    """
    out = copy.deepcopy(dict(schema))
    properties = out.get("properties") or {}
    for name, values in choices.items():
        prop = properties.get(name)
        if prop is None or not values:
            continue
        branches = prop.pop("anyOf", None)
        if branches is not None and prop.get("default", ...) is None:
            prop.pop("default")
        prop["type"] = "string"
        prop["enum"] = list(values)
        if branches is not None and name in out.get("required", []):
            out["required"].remove(name)
    return out


def schema_choices(schema: Mapping[str, Any], name: str) -> list[str] | None:
    """The ``enum`` a deployment's parameter schema offers for ``name`` (None: free text)."""
    prop = (schema.get("properties") or {}).get(name) or {}
    for branch in [prop, *(prop.get("anyOf") or [])]:
        if "enum" in branch:
            return list(branch["enum"])
    return None


@dataclass(frozen=True)
class ShipChoices:
    """The checked ship-form choices and the policy block's run settings, for one ship run."""

    carrier: str | None
    package: str | None
    workers: int
    max_rate: float | None
    lease_seconds: float
