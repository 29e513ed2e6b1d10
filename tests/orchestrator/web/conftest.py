"""Shared by the page tests: one headless Debian Chromium per module, driven by Playwright."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


MESSAGES = Path(__file__).resolve().parents[3] / "orchestrator" / "web" / "messages.json"


@pytest.fixture(scope="session")
def catalogue() -> dict:
    """The page's message catalogue, ``{"en": {group: {key: text}}, "zh": {...}}``."""
    return json.loads(MESSAGES.read_text(encoding="utf-8"))
