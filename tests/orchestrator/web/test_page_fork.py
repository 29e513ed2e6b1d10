"""Edit and re-run in the page (headless Chromium against a real server): the edit control on a past
question, a re-run from turn 2 that forks the session (no encoder call; turn 1 kept as it was; the
forked conversation replaces the view, in the page's language only), and the way back to the
original, which the server kept unchanged. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.server import Service

from .test_page_language import (
    TIMEOUT,
    ask_suggestion,
    load_scenario_example,
    open_page,
    other_language,
    shot,
)

pytestmark = pytest.mark.browser


def _session(service: Service, sid: str) -> httpx.Response:
    return httpx.get(f"{service.url}/v1/sessions/{sid}", timeout=60)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_edit_and_rerun_from_turn_2_and_back(browser: object, service: Service, catalogue: dict, lang: str) -> None:
    words = catalogue[lang]
    page, errors = open_page(browser, service, lang)
    load_scenario_example(page)
    q1 = page.get_attribute(".suggestion[data-q='1']", "title")  # the story's first question, about this film's A1
    ask_suggestion(page, 1, 2)  # describe_margin
    ask_suggestion(page, 4, 3)
    original_sid = page.evaluate("window.hilum.state.session.session_id")
    original = _session(service, original_sid).json()
    assert len(original["turns"]) == 3 and original["questions"][1] == q1
    first_card = page.locator(".turn-card[data-turn='1']").inner_text()

    # an edit control on every past question, none on the screening turn (it has no question)
    assert page.locator(".msg-user .edit-q").count() == 2
    assert page.locator(".msg-user[data-turn='1']").count() == 0
    assert page.locator(".msg-user[data-turn='2'] .edit-q").inner_text() == words["ui"]["edit"]

    calls = service.services.encoder.calls  # type: ignore[attr-defined]
    page.click(".msg-user[data-turn='2'] .edit-q")
    editor = page.locator(".msg-user.editing textarea")
    editor.wait_for(state="visible", timeout=TIMEOUT)
    assert editor.input_value() == q1
    editor.fill(words["question"]["q2"])  # the margin question becomes the distance question
    shot(page, f"fork-{lang}-editing.png")
    page.click(".msg-user.editing .edit-rerun")

    page.wait_for_selector("#fork-bar:not(.hidden)", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelectorAll('.turn-card').length === 2", timeout=TIMEOUT)
    assert service.services.encoder.calls == calls, "the re-run ran the encoder"  # type: ignore[attr-defined]
    bar = page.locator("#fork-bar").inner_text()
    assert words["ui"]["forked_view"].replace("{n}", "2") in bar and words["ui"]["back_to_original"] in bar
    assert page.locator(".turn-card[data-turn='1']").inner_text() == first_card
    assert page.locator(".turn-card[data-turn='2']").get_attribute("data-intent") == "measure_relation"
    assert words["question"]["q2"] in page.locator(".msg-user[data-turn='2']").inner_text()
    forked_sid = page.evaluate("window.hilum.state.session.session_id")
    assert forked_sid != original_sid
    forked = _session(service, forked_sid).json()
    assert forked["forked_from"] == {"session_id": original_sid, "turn": 2}
    assert forked["turns"][0] == original["turns"][0]
    assert _session(service, original_sid).json() == original, "the original changed"
    shot(page, f"fork-{lang}-forked.png")
    assert not other_language(page, lang), other_language(page, lang)

    # the forked conversation goes on by itself
    ask_suggestion(page, 4, 3)
    assert len(_session(service, forked_sid).json()["turns"]) == 3
    assert _session(service, original_sid).json() == original

    # back to the original: its three turns as they were; the fork is closed on the server
    page.click("#fork-bar .fork-back")
    page.wait_for_selector("#fork-bar.hidden", state="attached", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelectorAll('.turn-card').length === 3", timeout=TIMEOUT)
    assert page.evaluate("window.hilum.state.session.session_id") == original_sid
    assert page.locator(".turn-card[data-turn='2']").get_attribute("data-intent") == "describe_margin"
    assert q1 in page.locator(".msg-user[data-turn='2']").inner_text()
    for _ in range(100):
        if _session(service, forked_sid).status_code == 404:
            break
        page.wait_for_timeout(100)
    assert _session(service, forked_sid).status_code == 404
    ask_suggestion(page, 2, 4)  # the original goes on where it was
    assert len(_session(service, original_sid).json()["turns"]) == 4
    assert not other_language(page, lang), other_language(page, lang)
    shot(page, f"fork-{lang}-back.png")
    assert not errors, errors
    page.close()
