"""Headless Chromium (Debian's package) driven by Playwright, for the tests that look at pages.
Playwright is pointed at the system browser, so nothing is downloaded. On CI a missing browser is a
failure, not a skip: `setup.sh` installs it there."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SCREENS = Path(__file__).resolve().parent.parent / "artifacts" / "screens"


@contextmanager
def chromium() -> Iterator[object]:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (setup.sh installs it as root on Debian)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """artifacts/screens/<name>.png, of the page as it has settled: transitions still running (a bar
    filling, the dial's leg moving) are taken at their end, a pulsing dot at full strength."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path
