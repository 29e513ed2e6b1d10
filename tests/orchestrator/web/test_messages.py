"""The page's message catalogue (orchestrator/web/messages.json): the same keys in both languages,
each language free of the other, and a word for every value the API sends that the page shows
(sides, lobes, kinds, margins, intents, checklist signs, error kinds, ...)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff01-\uff60]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
ALLOWED_LATIN = {"Hilum", "DICOM", "SR", "JSON", "PNG", "JPEG", "PA", "AP", "CT", "CTR", "DX", "CR", "mm", "cm", "px", "ms", "API", "Shift",
                 "Kerley"}  # an eponym: Chinese reports write "Kerley B线"


def test_same_keys_and_one_language_each(catalogue: dict) -> None:
    en, zh = catalogue["en"], catalogue["zh"]
    assert en.keys() == zh.keys()
    for group in en:
        assert en[group].keys() == zh[group].keys(), group
        for key in en[group]:
            assert en[group][key] and zh[group][key], (group, key)
            assert not CJK.search(en[group][key]), (group, key)
            latin = set(LATIN_WORD.findall(re.sub(r"\{\w+\}", "", zh[group][key]))) - ALLOWED_LATIN
            assert not latin, (group, key, latin)
            assert sorted(re.findall(r"\{(\w+)\}", en[group][key])) == sorted(re.findall(r"\{(\w+)\}", zh[group][key])), \
                (group, key)


def test_every_value_the_api_sends_has_a_word(catalogue: dict) -> None:
    from orchestrator.dialogue.parser import INTENTS

    phrases = json.loads((ROOT / "orchestrator/dialogue/data/phrases.json").read_text(encoding="utf-8"))
    for group in ("side", "lobe", "zone", "band", "overlies", "shape", "kind", "margin", "anatomy", "descriptor"):
        assert set(phrases[group]) <= set(catalogue["en"][group]), group
    from orchestrator.findings.relations import OVERLYING

    assert set(OVERLYING) == set(phrases["overlies"])  # what a finding is projected over (Finding.overlies)
    assert {"yes", "no", "uncertain"} <= set(catalogue["en"]["status"])
    assert set(INTENTS) <= set(catalogue["en"]["intent"])
    checklists = json.loads((ROOT / "orchestrator/ontology/checklists.json").read_text(encoding="utf-8"))["checklists"]
    assert {c["name"] for c in checklists} <= set(catalogue["en"]["checklist"])
    assert {i["sign"] for c in checklists for i in c["items"]} <= set(catalogue["en"]["checklist_sign"])
    # the errors a page request can meet (the PACS poller's own kinds never reach it)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "orchestrator").rglob("*.py") if p.name != "pacs.py")
    kinds = set(re.findall(r'^\s+kind = "([a-z_]+)"$', source, flags=re.M)) | {"internal", "invalid_request", "http"}
    assert kinds <= set(catalogue["en"]["error"]), kinds - set(catalogue["en"]["error"])
    stages = set(re.findall(r'stage="([a-z_]+)"', source))
    assert stages and stages <= set(catalogue["en"]["stage"])


def test_page_strings_come_from_the_catalogue() -> None:
    """app.js keeps no strings table of its own; index.html's fallback text is the catalogue's English."""
    app = (ROOT / "orchestrator/web/app.js").read_text(encoding="utf-8")
    assert not CJK.search(app)  # every Chinese string lives in the catalogue
    html = (ROOT / "orchestrator/web/index.html").read_text(encoding="utf-8")
    en = json.loads((ROOT / "orchestrator/web/messages.json").read_text(encoding="utf-8"))["en"]["ui"]
    for key, text in re.findall(r'data-i18n="(\w+)"[^>]*>([^<]*)<', html):
        assert key in en and text == en[key], key


@pytest.mark.parametrize(("lang", "said"), [("en", "0 of 1 decidable sign present"), ("zh", "可判定的 1 条中符合 0 条")])
def test_a_checklist_count_of_one_has_its_own_words(catalogue: dict, lang: str, said: str) -> None:
    """"0 of 1 decidable signs present": the checklist's count, like the turns' ("turn_one"), has a form for one."""
    ui = catalogue[lang]["ui"]
    assert ui["matched_one"].format(matched=0) == said
