"""The page with an earlier film, in headless Chromium against a real server: the reader picks the earlier film,
then uploads the film; the screening card compares them (its section and the measurements table's rows), and
"has it grown?" is answered from them; the earlier film is shown on demand with where its findings were.
Screenshots: test-artifacts/web/earlier-film.png, earlier-film-shown.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.server import Service

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "web"


def test_earlier_film_compared_on_the_page(browser: object, service: Service, catalogue: dict,
                                           tmp_path: Path) -> None:
    from encoder.phantom import earlier_film, generate_case, scenario_spec

    case = generate_case(7, scenario_spec())
    case.write(tmp_path)
    earlier_film(case, days=180, scale=0.75).write(tmp_path / "earlier")
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(service.url + "/")
    page.wait_for_selector("#health.ok", timeout=20_000)
    lang = page.evaluate("window.hilum.state.lang")
    words = catalogue[lang]
    assert page.locator("#earlier-pick").inner_text().startswith(words["ui"]["earlier_title"])
    page.set_input_files("#earlier-input", str(tmp_path / "earlier" / "image.dcm"))
    assert page.locator("#earlier-name").inner_text() == "image.dcm"
    page.set_input_files("#file-input", str(tmp_path / "image.dcm"))
    card = page.locator(".turn-card[data-turn='1']")
    card.wait_for(timeout=60_000)
    assert page.locator("#earlier-name").inner_text() == ""  # used once: the next film is not compared with it
    assert card.locator(".section[data-kind='interval']").count() == 1
    table = card.locator(".measurements-table").inner_text()
    assert words["measure"]["interval_change"] in table and words["interval"]["larger"] in table
    # the earlier film on screen, with where its findings were; and back
    assert page.locator("#btn-earlier").is_visible()
    film_href = page.get_attribute("#film", "href")
    page.click("#btn-earlier")
    page.wait_for_selector("#earlier-banner:not(.hidden)", timeout=20_000)
    assert page.get_attribute("#film", "href") != film_href
    assert page.locator("#earlier-overlays ellipse[data-anchor-id='A1']").count() == 1
    assert page.locator("#btn-earlier").inner_text() == words["ui"]["show_current"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "earlier-film-shown.png"))
    page.click("#btn-earlier")
    assert page.get_attribute("#film", "href") == film_href and page.locator("#earlier-overlays *").count() == 0
    page.fill("#question", "和上次比有变化吗?" if lang == "zh" else "Has it grown since the last film?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn-card[data-turn='2'][data-intent='interval_change']", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "earlier-film.png"))
    assert not errors, errors
    page.close()
