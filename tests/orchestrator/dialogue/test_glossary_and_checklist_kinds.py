"""Words a reader asks about that are no signs (ontology/glossary.json), and lesion checklists asked of no finding.

"What is the hilum?" used to reach the term intent with no term and answer "I do not know that term"; the question
sets grade only the intent, so none of them caught it. A lesion checklist asked of no finding ("有没有肺癌的征象") on
a film with a nodule and a strand asked which one, though early lung cancer's checklist is a nodule's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.dialogue.parser import GLOSSARY_PREFIX, correct_typos, load_vocabulary, parse
from orchestrator.ontology.loader import load_ontology


@pytest.mark.parametrize(("question", "term"), [
    ("what is the hilum", "hilum"), ("什么叫肺门", "hilum"), ("What is the costophrenic angle?", "costophrenic_angle"),
    ("心胸比怎么算的", "cardiothoracic_ratio"), ("Explain cardiothoracic ratio", "cardiothoracic_ratio"),
    ("what does silhouette sign mean", "silhouette_sign"), ("What does PA stand for?", "projection"),
    ("肺上的阴影是什么意思", "opacity"),
])
def test_words_of_anatomy_and_of_the_film_are_explained(question: str, term: str, ask: Callable[..., Any]) -> None:
    q = parse(question)
    assert (q.intent, q.term) == ("explain_term", GLOSSARY_PREFIX + term)
    entry = load_ontology().glossary_term(term)
    turn = ask(question, lang="zh" if any("\u4e00" <= c <= "\u9fff" for c in question) else "en")
    assert entry is not None and entry.meaning(turn.lang) in turn.answer.text
    assert "do not know" not in turn.answer.text and "没有找到" not in turn.answer.text


def test_a_sign_keeps_its_own_entry_and_the_film_is_still_asked_about() -> None:
    assert parse("What does spiculation mean?").term == "spiculation"  # the ontology's sign, not the glossary
    assert parse("How far is the nodule from the hilum?").intent == "measure_relation"  # a relation, no term
    assert parse("心胸比多少").intent == "assess_anatomy"  # this film's ratio
    assert parse("Is the heart enlarged?").term is None


def test_glossary_entries_are_complete_and_named_once() -> None:
    glossary = load_ontology().glossary
    assert len(glossary) >= 15 and len({g.id for g in glossary}) == len(glossary)
    names = [n.lower() for g in glossary for n in g.terms()]
    assert len(names) == len(set(names))
    assert all(g.meaning_en and g.meaning_zh and g.zh and g.en for g in glossary)


def test_typos_explain_and_axes() -> None:
    assert (parse("whats the sise of the nodul").intent, parse("whats the sise of the nodul").anchor_ids) == ("size", ())
    lexicon = load_vocabulary().lexicon
    assert correct_typos("sise", lexicon) == "size" and correct_typos("case", lexicon) == "case"  # a real word stays
    assert parse("它的长径和短径分别是多少").both is False  # one finding's two axes
    assert parse("两个病灶分别多大").both is True  # two findings, respectively


def test_a_lesion_checklist_asked_of_no_finding_takes_the_one_of_its_kinds(ask: Callable[..., Any]) -> None:
    turn = ask("有没有肺癌的征象", lang="zh")
    assert turn.intent == "sign_checklist" and not turn.clarification
    assert [a["id"] for a in turn.anchors if a["kind"] == "finding"] == ["A1"]  # the nodule, not the strand
    # a finding pointed at ("that spot") is the reader's own: which one is asked
    assert ask("is that spot cancer?").clarification


def test_a_checklist_asked_of_both_findings_answers_each_or_says_it_is_not_for_that_kind(ask: Callable[..., Any]) -> None:
    turn = ask("两个都是良性的吗", lang="zh")
    assert [a["id"] for a in turn.anchors if a["kind"] == "finding"] == ["A1", "A2"]
    kinds = [s["kind"] for s in turn.answer.sections]
    assert "checklist_not_applicable" in kinds  # the strand is no nodule: not checked against the nodule's signs
    assert "A2" in next(s["text"] for s in turn.answer.sections if s["kind"] == "checklist_not_applicable")


def test_a_bare_it_counts_the_one_nodules_signs_but_a_yes_no_about_it_asks_which(ask: Callable[..., Any]) -> None:
    counted = ask("If this were early lung cancer, how many typical signs does it show?")
    assert [a["id"] for a in counted.anchors if a["kind"] == "finding"] == ["A1"] and not counted.clarification
    assert ask("Is it malignant?").clarification


@pytest.mark.parametrize(("question", "term"), [
    ("CTR 是什么?", "glossary:cardiothoracic_ratio"), ("胸片上说的外带是指哪里?", "glossary:lung_bands"),
    ("what is the RML, like which part of the lung is that", "glossary:lobe"), ("What's an air bronchogram?", "air_bronchogram"),
    ("GGO 是什么", "ground_glass_pattern"), ("What does CTR stand for?", "glossary:cardiothoracic_ratio"),
])
def test_a_term_as_the_whole_subject_of_what_is_it_is_defined(question: str, term: str) -> None:
    q = parse(question)
    assert (q.intent, q.term) == ("explain_term", term)
    assert parse("What's the cardiothoracic ratio?").intent == "assess_anatomy"  # this film's ratio
