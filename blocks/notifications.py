"""The merchant's notification settings: one notification block and the run-failure automations.

The block is any Apprise-backed Prefect block or a ``CustomWebhookNotificationBlock``; the
deployments name it as ``notify_block`` for their digests, and the automations send failed and
crashed runs of Wishflow's deployments to it.

``wishflow notify setup`` calls :func:`setup_notifications`; it is idempotent (the block and the
automations are replaced, never duplicated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from wishflow.notify import DEFAULT_BLOCK_NAME  # the name prefect.yaml's deployments use

#: the automations this module owns (by name)
AUTOMATIONS = {
    "wishflow: run failed": "prefect.flow-run.Failed",
    "wishflow: run crashed": "prefect.flow-run.Crashed",
}
#: flow runs of Wishflow's deployments carry this tag (prefect.yaml)
WISHFLOW_TAG = "wishflow"


@dataclass(frozen=True)
class NotificationSetup:
    """What ``wishflow notify setup`` made: the block's slug and the automations' ids by name."""

    block_slug: str
    automation_ids: dict[str, str]


def save_webhook_block(url: str, name: str = DEFAULT_BLOCK_NAME, allow_private_urls: bool = False) -> str:
    """A webhook notification block posting ``{"title": subject, "text": body}`` as JSON to ``url``.

    Returns its ``type-slug/name``, the form the flows' ``notify_block`` parameter takes.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name=name,
        url=url,
        json_data={"title": "{{subject}}", "text": "{{body}}"},
        headers=None,
        cookies=None,
        allow_private_urls=allow_private_urls,
    )
    block.save(name, overwrite=True)
    return f"{block.get_block_type_slug()}/{name}"


def _block_document_id(slug: str) -> Any:
    from prefect.blocks.core import Block

    # Block.load is async-dispatched (typed as block-or-coroutine); called from sync code it is the block
    return cast(Block, Block.load(slug))._block_document_id


def create_run_alerts(block_slug: str) -> dict[str, str]:
    """Automations that send a message through the block when a ``wishflow`` flow run fails or crashes.

    Earlier automations of the same names are replaced.
    """
    from prefect.automations import Automation
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    block_id = _block_document_id(block_slug)
    created: dict[str, str] = {}
    for name, event in AUTOMATIONS.items():
        _delete_automations(name)
        automation = cast(
            Automation,
            Automation(
                name=name,
                description="Wishflow: tell the merchant when a run of the order cycle did not succeed.",
                trigger=EventTrigger(
                    expect={event},
                    match={"prefect.resource.id": "prefect.flow-run.*"},
                    match_related={
                        "prefect.resource.role": "tag",
                        "prefect.resource.id": f"prefect.tag.{WISHFLOW_TAG}",
                    },
                    posture=Posture.Reactive,
                    threshold=1,
                ),
                actions=[
                    SendNotification(
                        block_document_id=block_id,
                        subject="Wishflow: {{ flow.name }} run {{ flow_run.name }} " + event.rsplit(".", 1)[-1].lower(),
                        body="Flow run {{ flow_run.name }} of {{ flow.name }} ended {{ flow_run.state.name }}: "
                        "{{ flow_run.state.message }}\nParameters: {{ flow_run.parameters }}",
                    )
                ],
            ).create(),
        )  # sync call: the automation, not a coroutine
        created[name] = str(automation.id)
    return created


def _delete_automations(name: str) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(name):
            client.delete_automation(automation.id)


def setup_notifications(
    url: str, name: str = DEFAULT_BLOCK_NAME, allow_private_urls: bool = False
) -> NotificationSetup:
    """The block and the failed/crashed-run automations, in one step."""
    slug = save_webhook_block(url, name, allow_private_urls)
    return NotificationSetup(slug, create_run_alerts(slug))
