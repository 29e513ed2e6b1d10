"""A film whose DICOM file gives the patient's age group (``FilmCheck.age_group``): the cardiothoracic ratio's 0.50 limit
is an adult's, so on a child's film a ratio above it settles nothing; an estimated spacing says flatly that a child's
film measures too large, and drops the caveat on an adult's; "how old is the patient?" says what the file gave."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.facts import ImageFacts, PixelSpacing

ESTIMATED = PixelSpacing(0.69, 0.69, "estimated", "from the thorax width, assuming a typical 26.5 cm")


def _film(make_facts: Callable[..., ImageFacts], age: str | None, ctr: float, view: str = "PA",
          spacing: PixelSpacing | None = None) -> ImageFacts:
    base = make_facts()
    return replace(base, film_check=replace(base.film_check, view=view, age_group=age),
                   anatomy=replace(base.anatomy, cardiothoracic_ratio=ctr), spacing=spacing or base.spacing)


def _sign(turn: Any) -> dict[str, Any]:
    return next(s for s in turn.answer.sections if s["kind"] == "sign")


@pytest.mark.parametrize(("age", "ctr", "status"), [
    ("child", 0.58, "uncertain"), ("infant", 0.58, "uncertain"), ("infant", 0.66, "uncertain"),
    ("adult", 0.58, "yes"), (None, 0.58, "yes"), ("child", 0.45, "no"), ("infant", 0.45, "no"),
])
def test_a_ratio_above_the_adult_limit_on_a_childs_pa_film_settles_nothing(
        age: str | None, ctr: float, status: str, make_facts: Callable[..., ImageFacts], ask: Callable[..., Any]) -> None:
    """A child's PA DICOM at 0.58 was told "Cardiomegaly (enlarged heart): yes": the 0.50 limit is an adult's, and a
    young child's heart is normally larger for its chest. Below the limit a child's heart is not enlarged either."""
    facts = _film(make_facts, age, ctr)
    turn = ask("Is the heart enlarged?", facts=facts)
    sec = _sign(turn)
    assert sec["status"] == status
    card = ask("What signs of heart failure does it show?", facts=facts).checklist
    assert next(i for i in card["items"] if i["sign"] == "cardiomegaly")["status"] == status
    ratio = ask("What is the cardiothoracic ratio?", facts=facts).answer.text
    if status == "uncertain":
        assert "The 0.50 limit is an adult's" in sec["text"]
        assert "A paediatric radiologist's reading would settle" in turn.answer.text
        assert "the 0.50 limit is an adult's" in ratio
        assert ("up to about 0.60 is common" in sec["text"]) == (age == "infant")
        zh = _sign(ask("心脏增大吗", lang="zh", facts=facts))
        assert zh["status"] == "uncertain" and "0.50是成人的界值" in zh["text"]
    else:
        assert "adult" not in sec["text"] and "adult" not in ratio


def test_a_childs_ap_film_gives_both_reasons(make_facts: Callable[..., ImageFacts], ask: Callable[..., Any]) -> None:
    text = ask("What is the cardiothoracic ratio?", facts=_film(make_facts, "child", 0.61, view="AP")).answer.text
    assert ("above 0.50; the 0.50 limit is an adult's, and a child's heart is normally larger for its chest; an AP film "
            "magnifies the heart") in text


@pytest.mark.parametrize(("age", "said", "unsaid"), [
    ("child", "the file gives a child's age, so they are too large", "on a child's film they are too large"),
    ("infant", "the file gives a child's age, so they are too large", "on a child's film they are too large"),
    ("adult", "an adult's width) and are approximate.", "too large"),
    (None, "on a child's film they are too large", "the file gives"),
])
def test_an_estimated_spacing_says_what_the_files_age_means_for_it(
        age: str | None, said: str, unsaid: str, make_facts: Callable[..., ImageFacts], ask: Callable[..., Any]) -> None:
    facts = _film(make_facts, age, 0.45, spacing=ESTIMATED)
    screened = ask("anything abnormal?", facts=facts).answer.text
    assert said in screened and unsaid not in screened
    zh = ask("有异常吗", lang="zh", facts=facts).answer.text
    assert ("文件所载年龄为儿童" in zh) == (age in ("child", "infant"))
    assert ("儿童的片子上数值偏大" in zh) == (age is None)


@pytest.mark.parametrize(("age", "said"), [
    ("infant", "This film's DICOM file gives the patient's age as an infant's (under 2 years)."),
    ("child", "This film's DICOM file gives the patient's age as a child's (2 to 15 years)."),
    ("adult", "This film's DICOM file gives the patient's age as an adult's (16 years or over)."),
    (None, "This film's file gives no age: whether this is a child's film is for the reader who knows the patient."),
])
def test_the_patient_asked_about_says_the_files_age_group(age: str | None, said: str,
                                                          make_facts: Callable[..., ImageFacts],
                                                          ask: Callable[..., Any]) -> None:
    facts = _film(make_facts, age, 0.45, spacing=ESTIMATED)
    text = ask("how old is the patient?", facts=facts).answer.text
    assert text.startswith("Hilum reads the film, not the patient: it does not estimate age or sex") and said in text
    child = age in ("infant", "child")
    assert ("on a child's film a ratio above it is not taken as an enlarged heart" in text) == child
    assert ("on this child's film they are too large" in text) == child
    assert ("a young child's heart is relatively larger" in text) == (age is None)
    zh = ask("患者多大年龄", lang="zh", facts=facts).answer.text
    assert zh.startswith("Hilum 只读片子,不判断患者") and (("DICOM文件所载年龄为" in zh) == (age is not None))
