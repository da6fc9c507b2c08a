"""The ship deployment's run form in the Prefect UI (headless Chromium): after ``wishflow deploy``
the carrier and the package are dropdowns listing the carriers Wish accepts for the account (the
policy's first) and the policy's presets; a choice made there reaches the flow run, a field left
empty sends nothing, and a carrier outside the list is refused by the server before any run exists.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.browser import browser_or_skip, headless_chromium
from tests.e2e.conftest import REPO, PrefectServer, run_logs, wait_for_flow_run, wait_until

pytestmark = pytest.mark.e2e

STORE = "e2e-ship-form"


def _wish_carriers(sandbox: Any) -> list[str]:
    response = httpx.get(
        f"{sandbox.api_url}/orders/shipping_carriers",
        params={"order_type": "GENERAL"},
        headers={"Authorization": f"Bearer {sandbox.access_token}"},
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    return [c["name"] if isinstance(c, dict) else str(c) for c in body.get("data", body)]


def test_the_ship_form_offers_wishs_carriers_and_the_presets_as_dropdowns(
    prefect_server: PrefectServer,
    deployed: dict[str, Any],
    worker: Any,
    worker_env: dict[str, str],
    e2e_sandbox: Any,
    e2e_dir: Any,
) -> None:
    browser_or_skip()
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from wishflow.shipping.choices import schema_choices
    from wishflow.shipping.policy import DEFAULT_PRESETS
    from wishflow_cli.doctor_cmd import _ship_form_check

    # `prefect deploy --all` alone leaves the form free text: doctor says what to run
    with prefect_server.client() as client:
        before = _ship_form_check(client.read_deployments())
    assert before.status == "warn"
    assert "wishflow deploy --choices-only" in before.line()

    # as a merchant would, from a shell whose environment names the server and the Wish account
    done = subprocess.run(
        [sys.executable, "-m", "wishflow_cli.main", "deploy", "--choices-only"],
        cwd=REPO,
        env={**prefect_server.env, **worker_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "carrier from" in done.stdout
    assert "package from" in done.stdout

    accepted = _wish_carriers(e2e_sandbox)
    with prefect_server.client() as client:
        deployment = client.read_deployment_by_name("ship_orders/ship-orders")
    carriers = schema_choices(deployment.parameter_openapi_schema, "carrier")
    assert carriers is not None
    assert sorted(carriers) == sorted(accepted)
    assert carriers[0] == "YunExpress"  # the default policy's carrier first
    assert schema_choices(deployment.parameter_openapi_schema, "package") == list(DEFAULT_PRESETS)
    with prefect_server.client() as client:
        assert _ship_form_check(client.read_deployments()).status == "ok"

    # the safety net on the server: a carrier outside the list never becomes a run
    with prefect_server.client() as client, pytest.raises(Exception, match="PigeonPost"):
        client.create_flow_run_from_deployment(deployment.id, parameters={"store": STORE, "carrier": "PigeonPost"})

    choice = next(c for c in carriers if c != carriers[0])
    with headless_chromium() as browser:
        browser.get(f"{prefect_server.ui_url}/deployments/deployment/{deployment.id}/run")

        def selects() -> dict[str, Any]:
            found = {}
            for element in browser.find_elements(By.TAG_NAME, "select"):
                values = [o.get_attribute("value") for o in element.find_elements(By.TAG_NAME, "option")]
                if "YunExpress" in values:
                    found["carrier"] = (element, values)
                elif "small_box" in values:
                    found["package"] = (element, values)
            return found if len(found) == 2 else {}

        found = wait_until(selects, 120, interval=1, what="the ship form's carrier and package dropdowns")
        browser.save_screenshot(str(e2e_dir / "ship-form.png"))
        assert [v for v in found["carrier"][1] if v] == carriers
        assert [v for v in found["package"][1] if v] == list(DEFAULT_PRESETS)

        store_field = next(f for f in browser.find_elements(By.TAG_NAME, "textarea") if f.get_attribute("value"))
        store_field.clear()
        store_field.send_keys(STORE)
        browser.execute_script("arguments[0].dispatchEvent(new Event('blur'))", store_field)
        Select(found["carrier"][0]).select_by_value(choice)

        def created() -> Any:
            with prefect_server.client() as client:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
                )
            return next((r for r in runs if r.parameters.get("store") == STORE), None)

        flow_run = None
        for _attempt in range(3):  # a click during the form's own validation can be dropped (test_ui_browser)
            submit = next(
                (b for b in browser.find_elements(By.CSS_SELECTOR, "button[type=submit]") if b.text == "Submit"), None
            )
            if submit is not None:
                browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", submit)
            try:
                flow_run = wait_until(created, 60, interval=1, what="the ship run submitted from the form")
                break
            except AssertionError:
                browser.save_screenshot(str(e2e_dir / f"ship-form-submit-{_attempt}.png"))
        assert flow_run is not None, browser.execute_script("return document.body.innerText")[-3000:]

    # the chosen carrier reaches the run; the package left empty is not sent (the flow's default applies)
    assert flow_run.parameters["carrier"] == choice
    assert "package" not in flow_run.parameters or flow_run.parameters["package"] is None
    # the store has no orders: the run checks the carrier with Wish, ships nothing and completes
    finished = wait_for_flow_run(prefect_server, flow_run.id, timeout=240)
    assert finished.state.is_completed(), f"{finished.state}\n{run_logs(prefect_server, flow_run.id)}"
