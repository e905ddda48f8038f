"""Headless Chromium for the playground tests: the system browser (Debian `chromium` and
`chromium-driver`) through Selenium, which is told where both are, so nothing is downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

INSTALL = "apt-get install -y chromium chromium-driver && pip install selenium"


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if path:
            return path
    return None


def missing() -> str | None:
    """Why no browser test can run here (None: they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed ({INSTALL})"
    if _find("chromium", "chromium-browser") is None:
        return f"no chromium browser installed ({INSTALL})"
    if _find("chromedriver") is None:
        return f"no chromedriver installed ({INSTALL})"
    return None


def make_driver(width: int = 1280, height: int = 800):
    """A headless Chromium window of this size (CSS pixels)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager never goes to the network
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(
        service=Service(executable_path=_find("chromedriver")), options=options
    )
    driver.set_window_size(width, height)
    return driver
