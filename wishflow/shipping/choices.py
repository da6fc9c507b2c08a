"""The merchant's choices on the ship form (carrier, package), checked before anything else runs.

Wish's accepted carriers are not a fixed list: live accounts get them from
``GET /orders/shipping_carriers`` (hundreds, changing over time, per destination and program), so
the form cannot offer a static enum without turning away carriers Wish accepts. The package presets
come from the merchant's policy (its own presets beside the defaults). Both are therefore checked
here, first thing in a ship run, and a wrong choice is one configuration error that lists the
accepted values, before any claim is settled, label bought or tracking sent.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    """Wish's spelling of ``carrier`` (matched case-insensitively) among ``accepted``, None when no
    carrier is chosen, else :class:`UnknownShipChoice` listing the accepted ones. Whether the carrier
    suits each order's destination and program is checked later, per order, by the plan."""
    if not carrier or not carrier.strip():
        return None
    names = list(accepted)
    by_lower = {name.lower(): name for name in names}
    found = by_lower.get(carrier.strip().lower())
    if found is None:
        raise UnknownShipChoice(f"Wish does not accept the carrier {carrier!r}; accepted carriers: {_listing(names)}")
    return found
