"""The page under its Content-Security-Policy (``orchestrator/api/middleware.py``), in headless Chromium: a study
with its heatmap, a question and the report raise no CSP violation (the policy allows no inline script or style
attribute, no eval, nothing from another origin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.api.middleware import PAGE_CSP
from orchestrator.server import Service

pytestmark = pytest.mark.browser

# every violation the page meets, as the console sees it (the listener is in place before the page's own script)
WATCH = ("document.addEventListener('securitypolicyviolation', (e) => "
         "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")


def test_a_study_raises_no_csp_violation(browser: object, service: Service, phantom_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text
            or m.text.startswith("CSP violation") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.add_init_script(WATCH)
    answer = page.goto(service.url + "/")
    assert answer is not None and answer.headers["content-security-policy"] == PAGE_CSP
    page.wait_for_selector("#health.ok", timeout=20_000)
    page.wait_for_selector("button.example", timeout=20_000)  # example thumbnails (same-origin images)
    page.set_input_files("#file-input", str(phantom_dir / "image.png"))
    page.wait_for_selector(".turn-card[data-turn='1']", timeout=60_000)
    page.wait_for_selector("#overlays image", state="attached", timeout=20_000)  # the heatmap, a blob: URL
    assert page.get_attribute("#film", "href").startswith("blob:")
    page.fill("#question", "Is there anything abnormal in the lungs?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn-card[data-turn='2']", timeout=60_000)
    page.click("#btn-report")
    page.wait_for_selector("#report-dialog[open] .section", timeout=10_000)
    page.click("#btn-report-close")
    page.wait_for_timeout(300)
    assert problems == [], problems
    page.close()
