"""The page with a film the encoder cannot establish the anatomy of, in headless Chromium against a real server: the
second reader reads it alone, and the page says so on the film (the viewer's corner) and in the answer, with every
finding given as possible. Screenshot: test-artifacts/web/read-alone.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.findings.calibration import THRESHOLD
from orchestrator.server import Service

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "web"
# a film of the held-out `scatter` rendering whose anatomy the shipped weights cannot establish and the second
# reader's can (tests/orchestrator/encoders/test_second_reader.py reads the same film through the engine)
SEED, RENDER = 5, "scatter"


def test_a_film_read_by_the_second_reader_alone_says_so_on_the_page(browser: object, service: Service,
                                                                    catalogue: dict, tmp_path: Path) -> None:
    from encoder.phantom import CaseSpec, generate_case

    generate_case(SEED, CaseSpec(render=RENDER)).write(tmp_path)
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(service.url + "/")
    page.wait_for_selector("#health.ok", timeout=20_000)
    words = catalogue[page.evaluate("window.hilum.state.lang")]
    page.set_input_files("#file-input", str(tmp_path / "image.dcm"))
    card = page.locator(".turn-card[data-turn='1']")
    card.wait_for(timeout=60_000)
    assert words["ui"]["read_alone"] in page.locator("#corner-tl").inner_text()
    first = page.evaluate("window.hilum.state.turns[0]")
    assert "second_reader" in first["film_check"]["warnings"] and first["findings"]
    assert all(f["confidence"] < THRESHOLD for f in first["findings"])  # given as possible, never flatly
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "read-alone.png"))
    assert not errors, errors
    page.close()
