"""Shared fixtures: a headless Debian Chromium driven by Playwright (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_PATH = Path("/usr/bin/chromium")
# DESIGN.md's flags for real WebRTC calls headless on a loopback-only machine.
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
)


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
