"""In headless Chromium, on the Prefect UI served by the e2e server: open the pull deployment's
"Custom run" form, change the store and the page size, submit, and watch the run complete; the
orders land in the warehouse under the store typed into the form.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser import browser_or_skip, headless_chromium
from tests.e2e.conftest import PrefectServer, run_logs, wait_for_flow_run, wait_until

pytestmark = pytest.mark.e2e

STORE = "e2e-browser"


def _type_into(browser: Any, element: Any, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    element.click()
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)
    browser.execute_script("arguments[0].dispatchEvent(new Event('blur'))", element)


def test_a_custom_run_from_the_ui_form_completes(
    prefect_server: PrefectServer, worker: Any, e2e_admin: Any, e2e_warehouse: str, e2e_dir: Any
) -> None:
    browser_or_skip()
    from selenium.webdriver.common.by import By

    ids = set(e2e_admin.post("/sandbox/orders", json={"count": 6, "spread_seconds": 300}).json()["ids"])
    with prefect_server.client() as client:
        deployment = client.read_deployment_by_name("pull_orders/pull-orders")

    with headless_chromium() as browser:
        browser.get(f"{prefect_server.ui_url}/deployments/deployment/{deployment.id}/run")

        def form_ready() -> Any:
            fields = browser.find_elements(By.TAG_NAME, "textarea")
            return next((f for f in fields if f.get_attribute("value") == "default"), None)

        store_field = wait_until(form_ready, 120, interval=1, what="the custom run form")
        page_size = next(
            e for e in browser.find_elements(By.CSS_SELECTOR, "input[type=number]") if e.get_attribute("value") == "500"
        )
        _type_into(browser, store_field, STORE)
        _type_into(browser, page_size, "4")
        wait_until(
            lambda: store_field.get_attribute("value") == STORE and page_size.get_attribute("value") == "4",
            30,
            what="the form to hold the typed values",
        )
        browser.save_screenshot(str(e2e_dir / "ui-form.png"))

        def created() -> Any:
            from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

            with prefect_server.client() as client:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
                )
            return next((r for r in runs if r.parameters.get("store") == STORE), None)

        # On a loaded 2-core machine the form validates its parameters against the server before it
        # submits, and a click that lands while that is pending can be dropped. So the test watches
        # for the outcome (a run with the typed store) and clicks again only while none exists,
        # which can never create a second run.
        flow_run = None
        for _attempt in range(3):
            submit = next(
                (b for b in browser.find_elements(By.CSS_SELECTOR, "button[type=submit]") if b.text == "Submit"),
                None,
            )
            if submit is not None:
                # a JavaScript click: a sticky footer or toast can cover the button at (x, y), which
                # makes a pointer click raise ElementClickInterceptedException
                browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", submit)
            try:
                flow_run = wait_until(created, 60, interval=1, what="the flow run submitted from the form")
                break
            except AssertionError:
                browser.save_screenshot(str(e2e_dir / f"ui-submit-{_attempt}.png"))
        assert flow_run is not None, (
            "the UI form never created the run; the page said:\n"
            + browser.execute_script("return document.body.innerText")[-3000:]
        )
        finished = wait_for_flow_run(prefect_server, flow_run.id, timeout=240)
        assert finished.state.is_completed(), f"{finished.state}\n{run_logs(prefect_server, flow_run.id)}"
        assert finished.parameters["store"] == STORE
        assert finished.parameters["page_size"] == 4
        browser.get(f"{prefect_server.ui_url}/runs/flow-run/{flow_run.id}")

        def shows_completed() -> bool:
            browser.refresh()
            time.sleep(2)
            return "Completed" in browser.execute_script("return document.body.innerText")

        wait_until(shows_completed, 90, interval=2, what="the UI to show the run Completed")
        browser.save_screenshot(str(e2e_dir / "ui-run.png"))

    engine = sa.create_engine(e2e_warehouse)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT order_id FROM orders WHERE store = :s"), {"s": STORE}).scalars())
    engine.dispose()
    assert ids <= stored
