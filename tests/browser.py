"""Headless Chromium for tests (Debian's ``chromium`` + ``chromium-driver`` through Selenium).

When Chromium or Selenium is missing the browser tests skip with the reason, except under CI
(``CI`` set), where they fail: ``.ci/run`` installs Chromium, and Selenium is a dev dependency.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_or_skip() -> tuple[str, str]:
    """Paths of the Chromium binary and its driver, or skip (fail under CI) when absent."""
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver = _find("chromedriver", "chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing = "selenium (pip install -e '.[dev]')"
    else:
        missing = (
            "" if chromium and driver else "chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
        )
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run under CI: {missing} is not installed")
        pytest.skip(f"browser test skipped: {missing} is not installed")
    assert chromium
    assert driver
    return chromium, driver


@contextmanager
def headless_chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A Selenium WebDriver on headless Chromium, closed afterwards."""
    chromium, driver_path = browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--metrics-recording-only",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()
