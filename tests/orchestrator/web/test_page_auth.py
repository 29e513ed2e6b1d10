"""The page against a server with API keys, in headless Chromium: the first 401 asks for the key
once, the key stays in sessionStorage, and upload, the streamed ask and the film all carry it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.server import Service

pytestmark = pytest.mark.browser


def test_page_asks_for_the_key_once(browser: object, keyed_service: Service, phantom_dir: Path,
                                    api_keys: dict[str, str]) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    prompts: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def answer(dialog: object) -> None:
        prompts.append(dialog.type)  # type: ignore[attr-defined]
        dialog.accept(api_keys["alice"])  # type: ignore[attr-defined]

    page.on("dialog", answer)
    page.goto(keyed_service.url + "/")
    page.wait_for_selector("#health.ok", timeout=20_000)  # /readyz needs no key: no prompt yet
    assert prompts == []
    page.set_input_files("#file-input", str(phantom_dir / "image.png"))
    page.wait_for_selector(".turn-card[data-turn='1']", timeout=60_000)
    page.fill("#question", "Is there anything abnormal in the lungs?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn-card[data-turn='2']", timeout=60_000)
    assert prompts == ["prompt"]  # once, for the upload; the film, the streamed ask reuse the key
    assert page.evaluate("sessionStorage.getItem('hilum.apiKey')") == api_keys["alice"]
    assert errors == []
    page.close()
