from __future__ import annotations

import json

import pytest

from orchestrator.ontology import build
from orchestrator.ontology.loader import SIGNS_PATH, load_ontology

CHECKLISTS = {"early_lung_cancer", "benign_nodule", "pneumonia", "pleural_effusion", "pneumothorax",
              "cardiomegaly_heart_failure", "tuberculosis"}
FLEISCHNER = {"spiculation", "lobulation", "pleural_indentation", "pleural_tag", "air_bronchogram", "bubble_lucency",
              "calcification_popcorn", "calcification_laminated", "cavity", "halo_sign"}


def test_at_least_200_signs_with_every_field() -> None:
    onto = load_ontology()
    assert len(onto.signs) >= 200
    assert len({s.id for s in onto.signs}) == len(onto.signs)
    for s in onto.signs:
        assert s.id and s.en and s.zh and s.category and s.meaning_en and s.meaning_zh, s.id
        assert 0.0 <= s.specificity <= 1.0
    padchest = [s for s in onto.signs if "padchest" in s.source]
    assert len(padchest) >= 170
    assert sum(1 for s in padchest if s.umls) >= 0.75 * len(padchest)
    assert {s.id for s in onto.signs} >= FLEISCHNER
    assert len(onto.locations) >= 100


def test_known_codes_and_locations() -> None:
    onto = load_ontology()
    pneumothorax = onto.sign("pneumothorax")
    assert pneumothorax is not None and pneumothorax.umls and pneumothorax.umls.startswith("C")
    assert "apical" in pneumothorax.locations
    assert onto.sign("spiculation").evidence == "finding.spicules"  # type: ignore[union-attr]


def test_checklists_name_existing_signs() -> None:
    onto = load_ontology()
    assert {c.name for c in onto.checklists} >= CHECKLISTS
    ids = {s.id for s in onto.signs}
    for c in onto.checklists:
        assert c.items and c.title_zh and c.title_en
        for item in c.items:
            assert item.sign in ids, (c.name, item.sign)
            assert item.settle_en and item.settle_zh and item.label_en and item.label_zh
    elc = onto.checklist("early_lung_cancer")
    assert elc is not None and [i.sign for i in elc.items] == [
        "round_oval_shape", "spiculation", "peripheral_location", "bubble_lucency", "pleural_indentation", "air_bronchogram",
        "interval_growth"]


@pytest.mark.slow
def test_builder_reproduces_the_committed_signs_json() -> None:
    doc = build.build(build.padchest_path())
    committed = json.loads(SIGNS_PATH.read_text(encoding="utf-8"))
    assert doc == committed
