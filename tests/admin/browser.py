"""A real Chromium for the admin's browser tests: one browser per test, driven through Playwright's sync API.

Chromium comes from apt (``/usr/bin/chromium``; scripts/test installs it): Playwright's own browser download is not
reachable here. Tests that use it carry ``pytestmark = BROWSER`` and are skipped cleanly where it is missing.
"""

import shutil
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars"]

BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Chromium is not installed (apt-get install chromium)"),
]

# Horizontal overflow, measured the way a person meets it: the page scrolls sideways (the document is wider than the
# window), or a changelist's table is wider than its box (Django's ``.results`` scrolls on its own).
OVERFLOW_JS = """() => {
    const root = document.documentElement;
    const results = document.querySelector('#result_list');
    const box = results && results.parentElement;
    return {
        page: root.scrollWidth - root.clientWidth,
        table: box ? Math.max(box.scrollWidth - box.clientWidth,
                              Math.ceil(results.getBoundingClientRect().width - box.clientWidth)) : 0,
        tableWidth: results ? Math.ceil(results.getBoundingClientRect().width) : 0,
        boxWidth: box ? box.clientWidth : 0,
    };
}"""


def overflow_of(page) -> dict:
    """Pixels of horizontal overflow of the page and of the changelist's table (0 when it fits)."""
    return page.evaluate(OVERFLOW_JS)


@contextmanager
def chromium_context(*, width: int = 1280, height: int = 900, locale: str = "ru-RU"):
    """A browser context that asks for ``locale`` (the operator's Accept-Language)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            browser.close()


def log_in(page, base_url: str, *, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
