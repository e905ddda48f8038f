"""Headless Chromium for the playground tests: the system browser (Debian `chromium` and
`chromium-driver`) through Selenium, which is told where both are, so nothing is downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

WAIT = 180  # seconds; two short answers on the tiny model take a few
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


# --- driving the page ---------------------------------------------------------------
def by_id(d, element_id: str):
    from selenium.webdriver.common.by import By

    return d.find_element(By.ID, element_id)


def wait(d, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.2).until(lambda _: condition())


def state(d, pane: str) -> str:
    return by_id(d, pane).get_attribute("data-state")


def connect(d, server, key: str | None, expect_ok: bool = True) -> None:
    d.get(f"{server.url}/")
    wait(d, lambda: d.execute_script("return document.querySelectorAll('#examples button').length"))
    if key is not None:
        by_id(d, "api-key").send_keys(key)
        by_id(d, "connect").click()
    if expect_ok:
        wait(d, lambda: "decoder layers" in by_id(d, "server-line").text)


def ask(d, max_tokens: int) -> None:
    box = by_id(d, "max-tokens")
    box.clear()
    box.send_keys(str(max_tokens))
    by_id(d, "submit").click()


def done(d, *panes: str) -> None:
    wait(d, lambda: all(state(d, p) in ("done", "error", "off") for p in panes))


def pick_example(d, example_id: str) -> None:
    """Click a built-in image and wait until the page has filled in its query."""
    d.find_element("css selector", f'#examples [data-example="{example_id}"]').click()
    wait(d, lambda: by_id(d, "prompt").get_attribute("value"))


def full_page_screenshot(d, out) -> None:
    """The whole page at the window's width (the table of numbers opened)."""
    d.execute_script("document.querySelector('details').open = true; window.scrollTo(0, 0)")
    width = d.execute_script("return window.innerWidth")
    height = d.execute_script("return document.documentElement.scrollHeight")
    d.set_window_size(width, height)
    d.save_screenshot(str(out))
