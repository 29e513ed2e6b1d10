"""The page in one language at a time, in headless Chromium against a real server: the whole
journey (example film → screening → margin → distance → checklist → report) in zh and in en with
no string of the other language on screen; a language switch mid-session (earlier answers composed
again in the new language); a question typed while
the film loads is queued and answered; a stale error does not stay on screen.

"On screen" is every rendered text node (SVG labels included), the document title and visible
placeholders; the language switch itself and, after a switch, the reader's own earlier questions
(and the words of them the page quotes) are the only exceptions. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.api.examples import EXAMPLES_DIR, MANIFEST
from orchestrator.server import Service

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "web"
SCENARIO = next(e for e in json.loads((EXAMPLES_DIR / MANIFEST).read_text(encoding="utf-8"))["examples"] if e["scenario"])
TIMEOUT = 90_000  # ms: generous, the machine is shared

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff01-\uff60]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
# what a Chinese page may show in Latin letters: the product, formats, modalities, views, units
ALLOWED_LATIN = {"Hilum", "DICOM", "SR", "JSON", "PNG", "JPEG", "PA", "AP", "CT", "CTR", "DX", "CR", "mm", "cm", "px", "ms",
                 "API", "Shift", "Kerley"}

VISIBLE_TEXT = """(exclude) => {
  const skip = (el) => exclude.some((sel) => el.closest(sel));
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || ["SCRIPT", "STYLE"].includes(el.tagName) || skip(el)) continue;
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    if (!el.getClientRects().length) continue;
    out.push(text);
  }
  document.querySelectorAll("textarea, input").forEach((el) => {
    if (el.placeholder && !el.value && el.checkVisibility() && !skip(el)) out.push(el.placeholder);
  });
  return out;
}"""


def other_language(page: object, lang: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """Texts on screen that belong to the other language (empty when the page is all ``lang``)."""
    texts: list[str] = page.evaluate(VISIBLE_TEXT, [".lang-switch", *exclude])  # type: ignore[attr-defined]
    if lang == "en":
        return [s for s in texts if CJK.search(s)]
    return [s for s in texts if any(w not in ALLOWED_LATIN for w in LATIN_WORD.findall(s))]


def open_page(browser: object, service: Service, lang: str) -> tuple[object, list[str]]:
    page = browser.new_page(viewport={"width": 1600, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(f"localStorage.setItem('hilum.lang', '{lang}')")
    page.goto(service.url + "/")
    page.wait_for_selector("#health.ok", timeout=TIMEOUT)
    page.wait_for_selector(f"button.example[data-seed='{SCENARIO['seed']}']", timeout=TIMEOUT)
    return page, errors


def load_scenario_example(page: object) -> None:
    page.click(f"button.example[data-seed='{SCENARIO['seed']}']")  # type: ignore[attr-defined]
    page.wait_for_selector(".turn-card[data-turn='1']", timeout=TIMEOUT)  # type: ignore[attr-defined]


def ask_suggestion(page: object, number: int, turn: int) -> None:
    page.click(f".suggestion[data-q='{number}']")  # type: ignore[attr-defined]
    page.wait_for_selector(f".turn-card[data-turn='{turn}']", timeout=TIMEOUT)  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_whole_journey_in_one_language(browser: object, service: Service, catalogue: dict, lang: str) -> None:
    words = catalogue[lang]
    page, errors = open_page(browser, service, lang)
    assert page.locator("#health-text").inner_text() == words["ui"]["ready"]
    assert not other_language(page, lang)

    load_scenario_example(page)
    state = page.evaluate("({src: window.hilum.state.spacingSource, sp: window.hilum.state.spacing})")
    assert state["src"] == "dicom" and state["sp"][1] == pytest.approx(SCENARIO["pixel_spacing_mm"][1], rel=1e-3)
    assert words["ui"]["estimated"] not in page.locator("#corner-br").inner_text()
    first = page.locator(".turn-card[data-turn='1']")
    assert words["intent"]["screen"] in first.locator(".badge.intent").inner_text()
    assert words["lobe"]["RML"] in first.locator(".findings-table").inner_text()  # the table speaks the page's language
    # ... and says no more than the text: a smooth margin nothing backs is "no irregularity seen at this resolution"
    findings = page.evaluate("window.hilum.state.turns[0].findings")
    unbacked = [f for f in findings if f["margin"] == "smooth" and not f["stated"]["margin"]]
    assert unbacked, "the scenario film's round nodule is read smooth by the lesion map, which cannot back it"
    margins = [row.locator("td").nth(4).inner_text() for row in first.locator(".findings-table tr:has(td)").all()]
    assert words["margin"]["unresolved"] in margins and words["margin"]["smooth"] not in margins

    ask_suggestion(page, 1, 2)
    ask_suggestion(page, 2, 3)
    ask_suggestion(page, 3, 4)
    intents = [page.locator(f".turn-card[data-turn='{n}']").get_attribute("data-intent") for n in range(1, 5)]
    assert intents == ["screen", "describe_margin", "measure_relation", "sign_checklist"]
    for n, intent in zip(range(2, 5), intents[1:], strict=True):
        assert page.locator(f".turn-card[data-turn='{n}'] .badge.intent").inner_text() == words["intent"][intent]

    # the distance to the hilum, in true mm from the DICOM spacing (SCENARIO: within 5 mm of the truth)
    rml = next(lesion for lesion in SCENARIO["truth"]["lesions"] if lesion["lobe"] == "RML")
    distances = [m for m in page.evaluate("window.hilum.state.turns[2].measurements") if m["kind"] == "distance"]
    assert distances and distances[0]["spacing_source"] == "dicom"
    assert distances[0]["mm"] == pytest.approx(rml["distance_to_hilum_mm"], abs=5.0)
    table = page.locator(".turn-card[data-turn='3'] .measurements-table").inner_text()
    assert f"{distances[0]['mm']:.1f} mm" in table and words["measure"]["distance"] in table

    # the checklist: chips and card in the page's language
    chips = page.locator(".turn-card[data-turn='4'] .status").all_inner_texts()
    assert chips and set(chips) <= {words["status"][s] for s in ("yes", "no", "uncertain")}
    page.click(".turn-card[data-turn='4'] .turn-head")
    page.wait_for_selector("#checklist-card:not(.hidden)", timeout=TIMEOUT)
    assert words["checklist"]["early_lung_cancer"] in page.locator("#checklist-card").inner_text()
    shot(page, f"journey-{lang}-checklist.png")
    assert not other_language(page, lang), other_language(page, lang)

    # a comparison: its text and the findings table, nothing of the API's codes drawn raw ("RML", "lobulated")
    page.fill("#question", "比较这两个病灶" if lang == "zh" else "compare the two lesions")
    page.keyboard.press("Enter")
    page.wait_for_selector(".turn-card[data-turn='5']", timeout=TIMEOUT)
    compare = page.locator(".turn-card[data-turn='5']")
    assert compare.get_attribute("data-intent") == "compare"
    assert compare.locator("table").count() == compare.locator(".findings-table table, .measurements-table table").count()
    # one size per finding: the measurements table states the strand's axes as the findings table and the text do
    sizes = {f["anchor_id"]: " × ".join(f"{v:.1f}" for v in f["size_mm"]) + " mm"
             for f in page.evaluate("window.hilum.state.turns[4].findings")}
    measured = compare.locator(".measurements-table").inner_text()
    assert all(size in measured for size in sizes.values()), (sizes, measured)
    assert not other_language(page, lang), other_language(page, lang)

    page.click("#btn-report")
    page.wait_for_selector("#report-dialog[open] .report-turn", timeout=TIMEOUT)
    shot(page, f"journey-{lang}-report.png")
    assert not other_language(page, lang), other_language(page, lang)
    page.click("#btn-report-close")
    assert not errors, errors
    page.close()


def test_language_switch_mid_session(browser: object, service: Service, catalogue: dict) -> None:
    page, errors = open_page(browser, service, "zh")
    load_scenario_example(page)
    ask_suggestion(page, 1, 2)  # asked in Chinese: answered in Chinese
    assert page.locator("#health-text").inner_text() == catalogue["zh"]["ui"]["ready"]

    zh_answer = page.locator(".turn-card[data-turn='2'] .prose").first.inner_text()
    page.click("[data-lang-btn='en']")
    assert page.locator("#health-text").inner_text() == catalogue["en"]["ui"]["ready"]  # not 就绪
    # the earlier answers themselves, composed again in English by the server (the same anchors)
    page.wait_for_selector(".turn-card[data-turn='2'][data-lang='en']", timeout=TIMEOUT)
    page.wait_for_selector(".turn-card[data-turn='1'][data-lang='en']", timeout=TIMEOUT)
    en_answer = page.locator(".turn-card[data-turn='2'] .prose").first.inner_text()
    assert en_answer and not CJK.search(en_answer) and "A1" in en_answer and "A1" in zh_answer
    assert page.locator(".turn-card[data-turn='2'] .badge.intent").inner_text() == \
        catalogue["en"]["intent"]["describe_margin"]
    assert catalogue["en"]["lobe"]["RML"] in page.locator(".turn-card[data-turn='1'] .findings-table").inner_text()
    # the reader's own Chinese question stays; everything else on screen is English
    leaks = other_language(page, "en", exclude=(".msg-user", ".user-words"))
    assert not leaks, leaks
    ask_suggestion(page, 2, 3)  # now asked in English
    assert page.locator(".turn-card[data-turn='3']").get_attribute("data-lang") == "en"
    shot(page, "switch-en.png")
    leaks = other_language(page, "en", exclude=(".msg-user", ".user-words"))
    assert not leaks, leaks
    page.click("#btn-report")
    page.wait_for_selector("#report-dialog[open] .report-turn", timeout=TIMEOUT)
    leaks = other_language(page, "en", exclude=(".msg-user", ".user-words"))
    assert not leaks, leaks
    # one report in the page's language: the turn asked in Chinese composed again in English, not folded away
    assert page.locator("#report-body details.other-lang").count() == 0
    with page.expect_download(timeout=TIMEOUT) as saved:
        page.click("#btn-report-json")
    report = json.loads(Path(saved.value.path()).read_text(encoding="utf-8"))
    assert saved.value.suggested_filename.endswith(".json") and report["lang"] == "en"
    assert {t["lang"] for t in report["turns"]} == {"en"} and len(report["turns"]) == 3
    with page.expect_download(timeout=TIMEOUT) as saved_sr:
        page.click("#btn-report-sr")
    assert Path(saved_sr.value.path()).read_bytes()[128:132] == b"DICM"
    page.click("#btn-report-close")

    page.click("[data-lang-btn='zh']")
    assert page.locator("#health-text").inner_text() == catalogue["zh"]["ui"]["ready"]
    page.wait_for_selector(".turn-card[data-turn='3'][data-lang='zh']", timeout=TIMEOUT)  # asked in English
    assert page.locator(".turn-card[data-turn='2'] .prose").first.inner_text() == zh_answer  # the original again
    leaks = other_language(page, "zh", exclude=(".msg-user", ".user-words"))
    assert not leaks, leaks
    shot(page, "switch-back-zh.png")
    assert not errors, errors
    page.close()


def test_question_typed_while_the_film_loads_is_answered(browser: object, service: Service, catalogue: dict) -> None:
    page, errors = open_page(browser, service, "en")
    held: list[object] = []
    page.route("**/v1/sessions", lambda route: held.append(route))  # the upload waits until released
    page.click(f"button.example[data-seed='{SCENARIO['seed']}']")
    page.wait_for_selector("#busy:not(.hidden)", timeout=TIMEOUT)
    page.wait_for_function("() => !document.querySelector('#question').disabled", timeout=TIMEOUT)
    question = catalogue["en"]["question"]["q1"]
    page.fill("#question", question)
    page.press("#question", "Enter")
    queued = page.locator(".msg-user.queued")
    queued.wait_for(state="visible", timeout=TIMEOUT)
    assert question in queued.inner_text() and catalogue["en"]["ui"]["queued"] in queued.inner_text()
    assert page.input_value("#question") == ""  # the box is empty because the question is in the transcript
    for _ in range(300):  # the route handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the upload never reached the route"
    assert page.locator(".turn-card").count() == 0  # the film is still loading: nothing was answered yet
    held[0].continue_()  # type: ignore[attr-defined]
    page.unroute("**/v1/sessions")
    page.wait_for_selector(".turn-card[data-turn='2']", timeout=TIMEOUT)
    assert page.locator(".turn-card[data-turn='2']").get_attribute("data-intent") == "describe_margin"
    assert page.locator(".msg-user.queued").count() == 0
    assert question in page.locator(".msg-user").first.inner_text()
    shot(page, "queued-question.png")
    assert not errors, errors
    page.close()


def test_stale_error_does_not_persist(browser: object, service: Service, catalogue: dict, tmp_path: Path) -> None:
    import numpy as np

    from loadtests.film_corpus import colour_photo, png_bytes

    photo = tmp_path / "house.png"
    photo.write_bytes(png_bytes(colour_photo(np.random.default_rng(8), 384)))
    page, errors = open_page(browser, service, "en")
    page.set_input_files("#file-input", str(photo))
    toast = page.locator("#toast")
    toast.wait_for(state="visible", timeout=TIMEOUT)
    assert toast.get_attribute("data-kind") == "not_a_chest_film"
    assert catalogue["en"]["error"]["not_a_chest_film"] in toast.inner_text()
    send, box = page.locator("#btn-send").bounding_box(), toast.bounding_box()
    assert send and box and (box["y"] + box["height"] <= send["y"] or box["x"] + box["width"] <= send["x"])  # clear of it

    load_scenario_example(page)  # the next action succeeds: the old error goes
    assert not toast.is_visible()

    # an error of a kind the catalogue knows: the page's words, never the server's
    page.route("**/report?*", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"error": {"kind": "server_busy", "message": "the server's own words"}})))
    page.click("#btn-report")
    toast.wait_for(state="visible", timeout=TIMEOUT)
    assert toast.locator(".toast-text").inner_text() == catalogue["en"]["error"]["server_busy"]
    page.click("[data-lang-btn='zh']")  # and it follows the page's language
    assert toast.locator(".toast-text").inner_text() == catalogue["zh"]["error"]["server_busy"]
    page.click("[data-lang-btn='en']")
    page.click("#toast .toast-close")  # dismissed: gone
    assert not toast.is_visible()
    # a kind the catalogue does not know: the server's message
    page.unroute("**/report?*")
    page.route("**/report?*", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body=json.dumps({"error": {"kind": "brand_new_kind", "message": "the server explains"}})))
    page.click("#btn-report")
    toast.wait_for(state="visible", timeout=TIMEOUT)
    assert toast.locator(".toast-text").inner_text() == "the server explains"
    page.unroute("**/report?*")
    ask_suggestion(page, 1, 2)  # the next action succeeds: the error goes
    assert not toast.is_visible()
    assert not errors, errors
    page.close()


def test_the_example_questions_fit_the_film_on_screen(browser: object, service: Service, catalogue: dict) -> None:
    """The four example questions were the SCENARIO film's on every film ("the round opacity in the right middle
    lobe" on a film with nothing there, or on one Hilum cannot read). On a film whose anatomy is withheld (the
    SCENARIO film mirrored) they are what Hilum can still answer there, and each is answered, none refused."""
    import io

    import numpy as np
    from PIL import Image

    from encoder.phantom import generate_case

    page, errors = open_page(browser, service, "en")
    film = np.fliplr(np.clip(generate_case(SCENARIO["seed"]).image * 255, 0, 255).astype(np.uint8))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "mirrored.png"
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(film)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    page.set_input_files("#file-input", str(path))  # type: ignore[attr-defined]
    page.wait_for_selector(".turn-card[data-turn='1']", timeout=TIMEOUT)  # type: ignore[attr-defined]
    assert page.evaluate("window.hilum.state.turns[0].film_check.anatomy_plausible") is False  # type: ignore[attr-defined]
    words = catalogue["en"]["question"]
    titles = [page.get_attribute(f".suggestion[data-q='{n}']", "title") for n in (1, 2, 3, 4)]  # type: ignore[attr-defined]
    assert titles == [words[k] for k in ("w1", "w2", "w3", "w4")], titles
    for n in (1, 2, 3, 4):
        ask_suggestion(page, n, n + 1)
    intents = [page.locator(f".turn-card[data-turn='{n}']").get_attribute("data-intent") for n in range(2, 6)]  # type: ignore[attr-defined]
    assert intents == ["film_info", "explain_term", "sign_checklist", "film_info"], intents
    assert not errors, errors
    page.close()  # type: ignore[attr-defined]


def test_choosing_in_the_which_one_box_answers_the_question_asked(browser: object, service: Service) -> None:
    """The clarification's buttons send the anchor id chosen; "A2" was read as a new question (where A2 lies), so
    "how big is it?" → [A2] never gave the size."""
    page, errors = open_page(browser, service, "en")
    load_scenario_example(page)
    page.fill("#question", "how big is it?")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.wait_for_selector(".turn-card[data-turn='2'] .clarify button", timeout=TIMEOUT)  # type: ignore[attr-defined]
    choice = page.locator(".turn-card[data-turn='2'] .clarify button").last  # type: ignore[attr-defined]
    chosen = choice.get_attribute("data-candidate")
    choice.click()
    page.wait_for_selector(".turn-card[data-turn='3']", timeout=TIMEOUT)  # type: ignore[attr-defined]
    third = page.locator(".turn-card[data-turn='3']")  # type: ignore[attr-defined]
    assert third.get_attribute("data-intent") == "size"
    sizes = page.evaluate("window.hilum.state.turns[2].measurements")  # type: ignore[attr-defined]
    assert [m["of"] for m in sizes if m["kind"] == "diameter"] == [chosen]
    assert not errors, errors
    page.close()  # type: ignore[attr-defined]


def test_a_question_in_the_other_language_is_shown_in_the_pages(browser: object, service: Service) -> None:
    """A Chinese question on the English page is answered in Chinese and shown in English too, at once (it showed
    only 'Answered in Chinese: show the original text' until the language was switched twice)."""
    page, errors = open_page(browser, service, "en")
    load_scenario_example(page)
    page.fill("#question", "右肺中叶那个结节有多大?")
    page.press("#question", "Enter")
    card = page.locator(".turn-card[data-turn='2']")
    card.wait_for(timeout=TIMEOUT)
    page.wait_for_function("() => /\\d+(\\.\\d+)? mm/.test(document.querySelector(\".turn-card[data-turn='2']\")"
                           ".innerText) && /[a-z]{4}/.test(document.querySelector(\".turn-card[data-turn='2'] .section\")"
                           ".innerText)", timeout=TIMEOUT)
    assert page.evaluate("window.hilum.state.turns[1].lang") == "en"
    assert not errors, errors
    page.close()
