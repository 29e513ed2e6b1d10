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
    assert words["measure"]["interval_change"] in table
    # the earlier film read the 9 mm nodule only as a "possibly": the answer gives no growth figure from that reading,
    # and the table says so (it said "larger ?", a change the text does not state)
    row = next(line for line in table.splitlines() if words["measure"]["interval_change"] in line and "A1" in line)
    assert words["interval"]["from_possible"] in row and words["interval"]["larger"] not in row, row
    # the earlier film on screen, with where its findings were; and back
    assert page.locator("#btn-earlier").is_visible()
    film_href = page.get_attribute("#film", "href")
    page.click("#btn-earlier")
    page.wait_for_selector("#earlier-banner:not(.hidden)", timeout=20_000)
    assert page.get_attribute("#film", "href") != film_href
    assert page.locator("#earlier-overlays ellipse[data-anchor-id='A1']").count() == 1
    # the corners say which film this is, and give none of this film's spacing or millimetres
    assert page.locator("#corner-tl").inner_text() == words["ui"]["show_earlier"]
    assert page.locator("#corner-br").inner_text() == ""
    # ... and where it lay there is labelled a possible lesion, with no size ("9.0 mm ?" before), as the text says
    labels = page.locator("#earlier-overlays text").all_text_contents()
    assert f"A1 · {words['interval']['possible_there']}" in labels, labels
    assert page.locator("#btn-earlier").inner_text() == words["ui"]["show_current"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "earlier-film-shown.png"))
    page.click("#btn-earlier")
    assert page.get_attribute("#film", "href") == film_href and page.locator("#earlier-overlays *").count() == 0
    assert "mm/px" in page.locator("#corner-br").inner_text()  # this film's spacing again
    page.fill("#question", "和上次比有变化吗?" if lang == "zh" else "Has it grown since the last film?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn-card[data-turn='2'][data-intent='interval_change']", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "earlier-film.png"))
    assert not errors, errors
    page.close()


def test_a_refused_earlier_film_is_said_so_and_leaves_the_open_study(browser: object, service: Service, catalogue: dict,
                                                                    tmp_path: Path) -> None:
    """An earlier film that is no chest film: the upload is refused, the message says it was the earlier film, the
    study on screen stays open (its questions still answered), and the earlier film can be removed."""
    import numpy as np

    from encoder.phantom import generate_case, scenario_spec
    from loadtests.film_corpus import png_bytes

    generate_case(7, scenario_spec()).write(tmp_path)
    noise = tmp_path / "noise.png"
    noise.write_bytes(png_bytes(np.random.default_rng(5).random((256, 256)).astype(np.float32)))
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    page.goto(service.url + "/")
    page.wait_for_selector("#health.ok", timeout=20_000)
    page.set_input_files("#file-input", str(tmp_path / "image.dcm"))
    page.wait_for_selector(".turn-card[data-turn='1']", timeout=60_000)
    page.set_input_files("#earlier-input", str(noise))
    page.set_input_files("#file-input", str(tmp_path / "image.png"))
    page.wait_for_selector("#earlier-name.refused", timeout=60_000)
    shown = page.locator("#toast").inner_text()
    lang = page.evaluate("window.hilum.state.lang")
    assert ("The earlier film" in shown) if lang == "en" else ("以前的片子" in shown)
    page.fill("#question", "how big is it?")  # the study on screen is still open
    page.press("#question", "Enter")
    page.wait_for_selector(".turn-card[data-turn='2']", timeout=60_000)
    page.click("#earlier-clear")
    assert page.locator("#earlier-name").inner_text() == "" and page.evaluate("window.hilum.state.earlier") is None
    page.close()



def test_an_example_film_puts_down_the_earlier_film_chosen_and_a_new_study_shows_every_layer(
        browser: object, service: Service, tmp_path: Path) -> None:
    """An earlier film picked, then an example clicked: the example was not compared, and the earlier film stayed armed
    for whichever film came next (another patient's, maybe). A layer hidden in one study stayed hidden in the next,
    whose text names anchors it then did not draw."""
    from encoder.phantom import earlier_film, generate_case, scenario_spec

    case = generate_case(7, scenario_spec())
    earlier_film(case, days=180, scale=0.75).write(tmp_path / "earlier")
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    page.goto(service.url + "/")
    page.wait_for_selector("#health.ok", timeout=20_000)
    page.wait_for_selector("button.example", timeout=20_000)
    page.set_input_files("#earlier-input", str(tmp_path / "earlier" / "image.dcm"))
    assert page.evaluate("window.hilum.state.earlier") is not None
    page.locator("button.example").first.click()
    page.wait_for_selector(".turn-card[data-turn='1']", timeout=60_000)
    assert page.evaluate("window.hilum.state.earlier") is None and page.locator("#earlier-name").inner_text() == ""
    layer = page.locator("[data-layer-toggle] input").first
    layer.uncheck()
    assert page.evaluate("window.hilum.state.hidden.size") == 1
    page.locator("button.example").nth(1).click()
    # a function, evaluated once: the page's CSP refuses the eval Playwright runs on a bare expression at each poll
    page.wait_for_function("() => window.hilum.state.hidden.size === 0", timeout=60_000)
    assert page.locator("[data-layer-toggle] input").first.is_checked()
    page.close()
