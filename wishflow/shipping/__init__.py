"""Shipping: from ready orders to tracking numbers at Wish, each submitted exactly once.

Policy (which carrier), packages, batching and combined shipments, labels, and the exactly-once outbox that submits
tracking numbers to Wish (no Prefect imports here).
"""

from wishflow.shipping.batching import (
    COMBINE_WINDOW,
    PlannedBatch,
    PlannedParcel,
    ShipmentPlan,
    can_share_tracking,
    combine_orders,
    plan_shipments,
)
from wishflow.shipping.labels import (
    LabelError,
    LabelProvider,
    ManualLabels,
    SandboxLabels,
    TableLabels,
    assign_numbers,
    check_tracking_number,
)
from wishflow.shipping.model import ShipOrder
from wishflow.shipping.outbox import State, judge_follow, judge_readback
from wishflow.shipping.packages import PackagePreset, SkuInfo, SkuTable, choose_parcel
from wishflow.shipping.policy import (
    CarrierCheck,
    CarrierNotAccepted,
    PolicyError,
    ShippingPolicy,
    default_policy,
)
from wishflow.shipping.ready import ready_orders
from wishflow.shipping.service import ShippingError, change_address, modify_tracking, plan_and_save
from wishflow.shipping.submit import SubmitReport, Submitter, record_orders

__all__ = [
    "COMBINE_WINDOW",
    "CarrierCheck",
    "CarrierNotAccepted",
    "LabelError",
    "LabelProvider",
    "ManualLabels",
    "PackagePreset",
    "PlannedBatch",
    "PlannedParcel",
    "PolicyError",
    "SandboxLabels",
    "ShipOrder",
    "ShipmentPlan",
    "ShippingError",
    "ShippingPolicy",
    "SkuInfo",
    "SkuTable",
    "State",
    "SubmitReport",
    "Submitter",
    "TableLabels",
    "assign_numbers",
    "can_share_tracking",
    "change_address",
    "check_tracking_number",
    "choose_parcel",
    "combine_orders",
    "default_policy",
    "judge_follow",
    "judge_readback",
    "modify_tracking",
    "plan_shipments",
    "plan_and_save",
    "ready_orders",
    "record_orders",
]
