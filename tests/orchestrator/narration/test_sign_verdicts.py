"""The narrator cannot contradict a sign verdict (issue 26): turns that answer "is there a
pneumothorax?" carry their verdicts (``Turn.sign_verdicts``, ``Turn.facts()["signs"]``) and the fact
guard rejects a narration that calls present, absent or undecided what the turn's verdict does not.

The turns here are real: a ``DialogueEngine`` composes them from hand-built image facts. The
language model is ``RecordingOpenAIServerDouble`` (conftest.py), a double for vLLM, which cannot run
here; it says what each test scripts, including the wrong thing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dialogue.turn import SignVerdict, Turn
from orchestrator.facts import (
    AnatomyFacts,
    AnatomyRegion,
    CostophrenicAngle,
    Density,
    FilmCheck,
    Finding,
    ImageFacts,
    PixelSpacing,
)
from orchestrator.narration.guard import check_narration
from orchestrator.narration.vllm import VLLMConfig, VLLMNarrator
from orchestrator.settings import Settings


class NoEncoder:
    name = "none"

    def encode(self, image: Any) -> Any:
        raise AssertionError("these sessions start from hand-built facts")


def film_facts(*, angles: tuple[str, str] = ("sharp", "sharp"), ctr: float | None = 0.46,
               effusion_left: bool = False) -> ImageFacts:
    """A 512 px PA film (a DICOM file that says so): both hila, the heart, two costophrenic angles; optionally a left
    effusion."""
    hila = {"right": (205.0, 230.0), "left": (305.0, 232.0)}
    findings: tuple[Finding, ...] = ()
    if effusion_left:
        c = (400.0, 410.0)
        findings = (Finding(
            id="F1", kind="effusion", shape="patchy", center_px=c, bbox_px=(370.0, 390.0, 430.0, 430.0),
            polygon_px=((370.0, 390.0), (430.0, 390.0), (430.0, 430.0), (370.0, 430.0)), area_mm2=900.0,
            diameter_mm=34.0, longest_mm=42.0, shortest_mm=28.0, orientation_deg=0.0, side="left", lobe="LLL",
            zone="lower", band="outer", margin="smooth", notches=(), spicules=(),
            density=Density(True, 0.2, False, False, False, "no"), pleural_contact=True, distance_to_pleura_mm=0.0,
            distance_to_diaphragm_mm=2.0, hilum=None, confidence=0.9),)
    anatomy = AnatomyFacts(
        regions=(AnatomyRegion("hilum_right", hila["right"], (190.0, 210.0, 220.0, 250.0)),
                 AnatomyRegion("hilum_left", hila["left"], (290.0, 212.0, 320.0, 252.0)),
                 AnatomyRegion("heart", (260.0, 330.0), (200.0, 270.0, 340.0, 400.0))),
        hilum_px=hila,
        costophrenic=(CostophrenicAngle("right", (80.0, 420.0), 35.0 if angles[0] == "sharp" else 70.0, angles[0]),  # type: ignore[arg-type]
                      CostophrenicAngle("left", (430.0, 425.0), 38.0 if angles[1] == "sharp" else 72.0, angles[1])),  # type: ignore[arg-type]
        cardiothoracic_ratio=ctr, heart_width_mm=140.0, thorax_width_mm=300.0,
    )
    return ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.7, 0.7, "dicom"), anatomy=anatomy,
                      findings=findings, checked=("consolidation", "effusion", "heart"), film_check=FilmCheck(view="PA"))


def sign_turn(question: str, lang: str, facts: ImageFacts | None = None,
              narrator: Any = None) -> tuple[Turn, DialogueEngine]:
    engine = DialogueEngine(NoEncoder(), Settings(), narrator=narrator)  # type: ignore[arg-type]
    session = engine.start_session(facts or film_facts(), lang=lang).session_id
    return engine.ask(session, question), engine


def narrator_for(url: str) -> VLLMNarrator:
    return VLLMNarrator(VLLMConfig(urls=(url,), model="google/medgemma-4b-it", salt_key="k", deadline_s=30.0,
                                   backoff_s=0.01))


def guard(turn: Turn, text: str, question: str = "") -> list[str]:
    return list(check_narration(text, turn.facts(), _composer_text(turn), question).violations)


def _composer_text(turn: Turn) -> str:
    return "\n".join(s["text"] for s in turn.answer.sections if s.get("text"))


# --- the verdicts travel with the turn -------------------------------------------------------------


def test_a_sign_turn_carries_its_verdicts_typed_and_in_its_facts() -> None:
    turn, _ = sign_turn("Any pleural effusion or pneumothorax?", "en")
    assert turn.sign_verdicts == (SignVerdict("pleural_effusion", "no"), SignVerdict("pneumothorax", "not_read"))
    assert turn.facts()["signs"] == [{"sign": "pleural_effusion", "status": "no", "side": None},
                                     {"sign": "pneumothorax", "status": "not_read", "side": None}]
    again = Turn.from_dict(turn.to_dict())  # the verdicts survive a store round trip (they are the sections)
    assert again.sign_verdicts == turn.sign_verdicts


def test_a_turn_without_a_sign_question_has_no_verdicts() -> None:
    turn, _ = sign_turn("What does spiculation mean?", "en")
    assert turn.sign_verdicts == () and "signs" not in turn.facts()


def test_the_side_asked_about_is_part_of_the_verdict() -> None:
    turn, _ = sign_turn("Is there a left pleural effusion?", "en", film_facts(effusion_left=True))
    assert turn.sign_verdicts == (SignVerdict("pleural_effusion", "yes", "left"),)


# --- the composer's own words pass, for every verdict, in both languages --------------------------

CASES: list[tuple[str, str, Callable[[], ImageFacts], dict[str, str]]] = [
    ("Is there a pneumothorax?", "en", film_facts, {"pneumothorax": "not_read"}),
    ("有没有气胸?", "zh", film_facts, {"pneumothorax": "not_read"}),
    ("Is the trachea midline?", "en", film_facts, {"tracheal_deviation": "not_read"}),
    ("纵隔有没有增宽?", "zh", film_facts, {"mediastinal_widening": "not_read"}),
    ("Is the mediastinum widened?", "en", film_facts, {"mediastinal_widening": "not_read"}),
    ("膈面光滑吗?", "zh", film_facts, {"diaphragm_contour": "not_read"}),
    ("Is there a pleural effusion?", "en", film_facts, {"pleural_effusion": "no"}),
    ("有胸腔积液吗", "zh", film_facts, {"pleural_effusion": "no"}),
    ("Any effusion?", "en", lambda: film_facts(angles=("blunted", "sharp")), {"pleural_effusion": "uncertain"}),
    ("有积液吗?", "zh", lambda: film_facts(angles=("blunted", "sharp")), {"pleural_effusion": "uncertain"}),
    ("Is there a pleural effusion?", "en", lambda: film_facts(effusion_left=True), {"pleural_effusion": "yes"}),
    ("有胸腔积液吗", "zh", lambda: film_facts(effusion_left=True), {"pleural_effusion": "yes"}),
    ("Is there cardiomegaly?", "en", lambda: film_facts(ctr=0.58), {"cardiomegaly": "yes"}),
    ("心脏增大吗?", "zh", film_facts, {"cardiomegaly": "no"}),
    ("Is there cardiomegaly?", "en", lambda: film_facts(ctr=None), {"cardiomegaly": "uncertain"}),
    ("Any pleural effusion or pneumothorax?", "en", film_facts, {"pleural_effusion": "no", "pneumothorax": "not_read"}),
]


@pytest.mark.parametrize(("question", "lang", "facts", "want"), CASES)
def test_the_composer_text_passes_its_own_verdicts(question: str, lang: str, facts: Callable[[], ImageFacts],
                                                   want: dict[str, str]) -> None:
    turn, _ = sign_turn(question, lang, facts())
    assert {v.sign: v.status for v in turn.sign_verdicts} == want  # the case is what it says it is
    assert guard(turn, turn.answer.text, question) == []


# --- narrations that contradict a verdict are rejected -------------------------------------------

WRONG: list[tuple[str, str, Callable[[], ImageFacts], str]] = [
    # Hilum does not read the sign: neither absent nor present may be said
    ("Is there a pneumothorax?", "en", film_facts, "No pneumothorax is seen."),
    ("Is there a pneumothorax?", "en", film_facts, "There is no pneumothorax on this film."),
    ("Is there a pneumothorax?", "en", film_facts, "A small apical pneumothorax is present."),
    ("有没有气胸?", "zh", film_facts, "未见气胸。"),
    ("有没有气胸?", "zh", film_facts, "右侧可见少量气胸。"),
    ("Is the mediastinum widened?", "en", film_facts, "The mediastinum is normal in width."),
    ("纵隔有没有增宽?", "zh", film_facts, "纵隔未见增宽。"),
    ("Is the trachea midline?", "en", film_facts, "The trachea is midline."),
    # the film cannot settle it: a yes or a no is a contradiction
    ("Any effusion?", "en", lambda: film_facts(angles=("blunted", "sharp")), "No pleural effusion."),
    ("Any effusion?", "en", lambda: film_facts(angles=("blunted", "sharp")), "There is a small right pleural effusion."),
    ("有积液吗?", "zh", lambda: film_facts(angles=("blunted", "sharp")), "没有胸腔积液。"),
    ("Is there cardiomegaly?", "en", lambda: film_facts(ctr=None), "The heart is not enlarged."),
    # a flipped yes / no
    ("Is there a pleural effusion?", "en", film_facts, "There is a pleural effusion."),
    ("有胸腔积液吗", "zh", film_facts, "可见胸腔积液。"),
    ("Is there a pleural effusion?", "en", lambda: film_facts(effusion_left=True), "No pleural effusion is seen."),
    ("Is there cardiomegaly?", "en", lambda: film_facts(ctr=0.58), "Heart size is normal, no cardiomegaly."),
    ("心脏增大吗?", "zh", film_facts, "心影增大。"),
    # two signs, one negation: the one Hilum does not read may not be called absent
    ("Any pleural effusion or pneumothorax?", "en", film_facts, "There is no effusion and no pneumothorax."),
]


@pytest.mark.parametrize(("question", "lang", "facts", "text"), WRONG)
def test_a_narration_contradicting_a_verdict_is_rejected(question: str, lang: str,
                                                          facts: Callable[[], ImageFacts], text: str) -> None:
    turn, _ = sign_turn(question, lang, facts())
    problems = guard(turn, text, question)
    assert any(p.startswith("sign:") for p in problems), problems


FAITHFUL: list[tuple[str, str, Callable[[], ImageFacts], str]] = [
    ("Is there a pneumothorax?", "en", film_facts,
     "Hilum does not read pneumothorax: it does not trace the visceral pleural line, so it can say neither yes "
     "nor no. An expiratory film or CT would settle it."),
    ("有没有气胸?", "zh", film_facts, "本系统不判读气胸,既不能说有也不能说没有;呼气相胸片或CT可明确。"),
    ("Any effusion?", "en", lambda: film_facts(angles=("blunted", "sharp")),
     "Whether there is a pleural effusion cannot be judged from this film."),
    ("有积液吗?", "zh", lambda: film_facts(angles=("blunted", "sharp")), "是否有胸腔积液,本片无法判断。"),
    ("Is there a pleural effusion?", "en", film_facts, "No pleural effusion: both costophrenic angles are sharp."),
    ("有胸腔积液吗", "zh", film_facts, "未见胸腔积液,两侧肋膈角锐利。"),
    ("Is there cardiomegaly?", "en", lambda: film_facts(ctr=0.58), "Yes, cardiomegaly: the ratio is about 0.58."),
    ("心脏增大吗?", "zh", film_facts, "心影大小正常,心胸比约0.46。"),
]


@pytest.mark.parametrize(("question", "lang", "facts", "text"), FAITHFUL)
def test_a_narration_agreeing_with_the_verdicts_passes(question: str, lang: str,
                                                       facts: Callable[[], ImageFacts], text: str) -> None:
    turn, _ = sign_turn(question, lang, facts())
    assert guard(turn, text, question) == []


def test_a_clause_about_the_other_side_is_not_read_against_a_one_sided_verdict() -> None:
    turn, _ = sign_turn("Is there a left pleural effusion?", "en", film_facts(effusion_left=True))
    facts = {**turn.facts(), "findings": [*turn.facts()["findings"], {"id": "F9", "side": "right", "lobe": "RLL"}]}
    composer = _composer_text(turn)
    assert check_narration("A1 is an effusion-like opacity on the left; no effusion on the right.", facts,
                           composer).ok
    left_flipped = check_narration("No effusion on the left.", facts, composer)
    assert any(v.startswith("sign:") for v in left_flipped.violations), left_flipped


# --- end to end: the wrong narration never reaches the reader ---------------------------------------


@pytest.mark.parametrize(("question", "lang", "said", "facts"), [
    ("Is there a pneumothorax?", "en", "No pneumothorax is seen.", film_facts),
    ("有没有气胸?", "zh", "未见气胸。", film_facts),
    ("Any effusion?", "en", "No pleural effusion.", lambda: film_facts(angles=("blunted", "sharp"))),
    ("有积液吗?", "zh", "没有胸腔积液。", lambda: film_facts(angles=("blunted", "sharp"))),
])
def test_the_narrator_double_saying_the_wrong_thing_is_replaced_by_the_composer(
        openai_double: Callable[..., Any], question: str, lang: str, said: str,
        facts: Callable[[], ImageFacts]) -> None:
    """The screening turn's narration is the composer's text (a retelling that passes), the sign
    turn's is the wrong one; the reader gets the composer's verdict and the rejection is recorded."""
    double = openai_double()
    narrator = narrator_for(double.url)
    try:
        engine = DialogueEngine(NoEncoder(), Settings(), narrator=narrator)  # type: ignore[arg-type]
        session = engine.start_session(facts(), lang=lang)
        double.texts = [said]
        turn = engine.ask(session.session_id, question)
    finally:
        narrator.close()
    assert len(double.requests) == 2  # the double was asked for both turns
    prompt = json.dumps(double.requests[-1], ensure_ascii=False)
    assert '\\"signs\\":[' in prompt  # the verdicts are in the facts the model was given
    assert turn.narration.source == "composer"
    assert (turn.narration.fallback_reason or "").startswith("guard:")
    assert said not in turn.answer.text and turn.answer.text == _composer_text(turn)


def test_a_faithful_narration_from_the_double_is_shown(openai_double: Callable[..., Any]) -> None:
    said = "Hilum does not read pneumothorax, so it can say neither yes nor no; a CT would settle it."
    double = openai_double()
    narrator = narrator_for(double.url)
    try:
        engine = DialogueEngine(NoEncoder(), Settings(), narrator=narrator)  # type: ignore[arg-type]
        session = engine.start_session(dataclasses.replace(film_facts()), lang="en")
        double.texts = [said]
        turn = engine.ask(session.session_id, "Is there a pneumothorax?")
    finally:
        narrator.close()
    assert turn.narration.source == "llm" and turn.answer.text == said
