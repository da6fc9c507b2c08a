"""The task that checks the ship form's carrier and package and reads the policy's run settings.

It runs before a ship run touches the outbox (one task run per ship run), so a wrong choice fails before anything is
planned.
"""

from __future__ import annotations

from prefect import task

from blocks.shipping import resolve_shipping_policy
from blocks.wish import build_wish_client
from tasks.common import API_TASK
from wishflow.shipping.choices import ShipChoices, check_carrier, check_package


@task(name="check-ship-choices", **API_TASK)
def check_ship_choices(
    wish_block: str | None, policy_block: str | None, carrier: str | None, package: str | None
) -> ShipChoices:
    """Check the ship form's choices and read the policy's run settings.

    Returns the carrier in Wish's spelling (asking Wish which it accepts only when one is chosen), the package, and the
    policy block's ``workers``, ``max_rate`` and ``lease_seconds``. A wrong choice raises a configuration error listing
    the accepted values.
    """
    block = resolve_shipping_policy(policy_block)
    package = check_package(package, block.policy())
    if carrier and carrier.strip():
        with build_wish_client(wish_block) as client:
            carrier = check_carrier(carrier, client.shipping_carriers("GENERAL"))
    return ShipChoices(
        carrier=carrier or None,
        package=package,
        workers=block.workers,
        max_rate=block.max_rate,
        lease_seconds=block.lease_seconds,
    )
