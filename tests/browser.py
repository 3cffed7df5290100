"""The browser and page fixtures of every real-browser test, wherever it lives (a plugin of
tests/conftest.py, so that one Playwright serves a whole test process: a second would find
the first one's event loop running). Playwright's Python API drives Debian's Chromium.

Playwright's own browser download cannot work on these machines; `make test` installs
Debian's chromium when it is missing. When no browser starts, these tests fail: a
browser test that skips proves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = (
    Path(os.environ.get("SCREENSHOT_DIR", "")) if os.environ.get("SCREENSHOT_DIR") else None
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in the test thread; Django's guard against
    # database calls from async code would otherwise refuse the test's own queries.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                      "--disable-background-networking", "--disable-component-update",
                      "--no-first-run", "--disable-sync"],
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - say plainly why no browser started
            pytest.fail(f"Chromium did not start ({CHROMIUM}): {exc}", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page: Page, base_url: str, email: str, password: str = "pw-for-tests") -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def screenshot(page: Page, name: str) -> None:
    """With SCREENSHOT_DIR set (`make screenshots`), keep a picture of the page."""
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
