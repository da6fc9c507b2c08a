"""``wishflow doctor``: is this setup ready to run against its Wish account? One check per line.

Each check returns :class:`Check` (``ok``, ``FAIL`` with what to do, or ``warn`` for what only some
setups need). The library holds the checks that need no Prefect (API root, token, warehouse, shipping
policy and label source, carriers for the open orders, SKU data, ``WISHFLOW_PROJECT_DIR``); the
command (``wishflow_cli/doctor_cmd.py``) adds the Prefect server checks and prints them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine

from wishflow.api.contract import WishApi
from wishflow.config import WishSettings
from wishflow.errors import ConfigError, config_error_from
from wishflow.profile import profile_for

Status = Literal["ok", "FAIL", "warn"]


@dataclass(frozen=True)
class Check:
    """One line of ``wishflow doctor``: what was checked, its status, and what to do when it failed."""

    status: Status
    name: str
    detail: str
    fix: str | None = None

    def line(self) -> str:
        """The check as one terminal line, with the fix after a dash when it did not pass."""
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text} — {self.fix}" if self.fix and self.status != "ok" else text

    @property
    def failed(self) -> bool:
        """Whether this check blocks going live."""
        return self.status == "FAIL"


def ok(name: str, detail: str) -> Check:
    """A passing check."""
    return Check("ok", name, detail)


def fail(name: str, error: ConfigError | str, fix: str | None = None) -> Check:
    """A failed check; a :class:`ConfigError` brings its own message and, unless ``fix`` is given, its hint."""
    if isinstance(error, ConfigError):
        return Check("FAIL", name, error.message, fix or error.hint)
    return Check("FAIL", name, error, fix)


def guarded(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """Run ``check``; a configuration mistake it raises becomes a FAIL line (bugs still raise)."""
    try:
        result = check()
    except Exception as exc:
        problem = config_error_from(exc)
        if problem is None:
            raise
        return [fail(name, problem)]
    return result if isinstance(result, list) else [result]


def check_api(settings: WishSettings, client: WishApi) -> list[Check]:
    """The API root answers and the token is accepted (``GET /oauth/test``), and whose token it is."""
    profile = profile_for(settings.api_base_url)
    data = client.test_token()
    whose = data.get("merchant_id") if isinstance(data, dict) else None
    return [
        ok("API root", f"{settings.api_base_url} answers ({profile.value} profile)"),
        ok("token", f"accepted for merchant {whose or '?'} (store {settings.store})"),
    ]


def check_warehouse(url: str) -> Check:
    """The warehouse is reachable and migrated to the head revision (raises ConfigError otherwise)."""
    from wishflow.warehouse.readiness import check_warehouse_ready, describe_url

    check_warehouse_ready(url)
    return ok("warehouse", f"{describe_url(url)} is reachable and migrated to the head revision")


def check_label_source(label_source: Callable[[], Any], api_url: str) -> Check:
    """The shipping policy names a label source fit for this profile (never the sandbox's for live)."""
    provider = label_source()
    profile = profile_for(api_url)
    return ok("label source", f"{provider.name} ({profile.value} profile)")


def check_carriers(engine: Engine, store: str, policy: Any, skus: Any, client: WishApi) -> Check:
    """Every open (ready) order's carrier, as the policy decides it, is one Wish accepts for it."""
    from wishflow.shipping.batching import plan_shipments
    from wishflow.shipping.packages import SkuTable
    from wishflow.shipping.policy import CarrierCheck
    from wishflow.shipping.ready import ready_orders

    orders = ready_orders(engine, store, None)
    check = CarrierCheck(lambda t, d: client.shipping_carriers(t, d))
    plan = plan_shipments(orders, policy, skus or SkuTable.load(engine, store), carriers=check)
    carriers = sorted({p.decision.carrier for p in plan.parcels})
    if not orders:
        return ok("carriers", "no open orders to check yet (the policy's default is checked when some arrive)")
    return ok("carriers", f"Wish accepts {', '.join(carriers)} for the {len(orders)} open orders")


def check_skus(engine: Engine, store: str, skus: Any) -> Check:
    """Every SKU the store sells has a package size, so shipping can pick a package without guessing."""
    from wishflow.shipping.packages import SkuTable

    table = skus if skus is not None else SkuTable.load(engine, store)
    if len(table) == 0:
        return Check(
            "FAIL",
            "SKU data",
            f"no SKU weights or sizes for store {store} (every parcel would be estimated)",
            "load them: `wishflow ship load-skus FILE.csv` (sku,weight_grams,length_mm,width_mm,height_mm,tags) "
            "or set sku_csv_path in the shipping policy",
        )
    return ok("SKU data", f"{len(table)} SKUs for store {store}")


def check_project_dir(environ: Mapping[str, str] | None = None) -> Check:
    """Workers run the deployments from the checkout named by ``WISHFLOW_PROJECT_DIR``."""
    env = os.environ if environ is None else environ
    value = env.get("WISHFLOW_PROJECT_DIR")
    fix = "start workers with WISHFLOW_PROJECT_DIR=/path/to/wishflow prefect worker start --pool wishflow-process"
    if not value:
        return Check("warn", "WISHFLOW_PROJECT_DIR", "not set here (workers need it)", fix)
    if not os.path.isfile(os.path.join(value, "prefect.yaml")):
        return Check("FAIL", "WISHFLOW_PROJECT_DIR", f"{value} holds no prefect.yaml", fix)
    return ok("WISHFLOW_PROJECT_DIR", value)


def any_failed(checks: Iterable[Check]) -> bool:
    """Whether any check failed (the command's exit status)."""
    return any(c.failed for c in checks)
