"""Shared fixtures: a headless Debian Chromium driven by Playwright (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from experiments.chrome_sender import CHROMIUM as CHROMIUM_PATH
from experiments.chrome_sender import CHROMIUM_FLAGS


def chromium_available() -> bool:
    return CHROMIUM_PATH.is_file()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A Playwright Browser on /usr/bin/chromium with CHROMIUM_FLAGS."""
    if not chromium_available():
        pytest.skip(f"{CHROMIUM_PATH} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), headless=True, args=list(CHROMIUM_FLAGS))
        try:
            yield browser
        finally:
            browser.close()
