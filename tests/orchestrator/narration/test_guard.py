"""The fact guard: faithful narrations pass; a wrong side, number, lobe, anchor or sign status does not."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.narration.guard import check_narration, stated_status


def _check(scenario: list[dict[str, Any]], turn: int, text: str) -> list[str]:
    t = scenario[turn]
    return list(check_narration(text, t["facts"], t["composer"], t["question"]).violations)


FAITHFUL = [
    (0, "Two regions stand out. A1 is a round opacity of about 12 mm in the outer band of the right middle "
        "lobe zone; A2 is a strand-like opacity of 25 × 18 mm in the left lower lobe. The rest of the lung "
        "fields are clear."),
    (0, "共发现两处异常:A1位于右肺中叶外带,圆形,约12毫米;A2位于左肺下叶内带,条索状,25×18毫米。其余肺野清晰。"),
    (1, "The opacity A1 in the right middle lobe has a lobulated margin, with notches at about 10 and 3 "
        "o'clock. It is also spiculated: 5 spicules, 3.1 to 4.8 mm long. Its density is homogeneous, "
        "without calcification or cavity. Whether an air bronchogram is present is uncertain."),
    (1, "右肺中叶的A1病灶边缘呈分叶状,于10点和3点方向可见切迹;另见5条毛刺,长3.1–4.8毫米。密度均匀,"
        "未见钙化及空洞,是否有空气支气管征尚不确定。"),
    (2, "Centre to centre, A1 lies 4.7 cm from the right hilum (A3), and its nearest gap to a hilar vessel "
        "is 18.5 mm. No soft-tissue band joins them. The distances come from the DICOM pixel spacing."),
    (2, "A1距右肺门(A3)中心约47毫米,与最近的肺门血管相距18.5毫米,两者之间没有软组织带相连。"),
    (3, "Checked against early lung cancer, A1 matches 3 of 5 signs: it is a round nodule, its margin is "
        "lobulated and spiculated, and it lies 4.7 cm from the right hilum, beyond 3 cm. There is no "
        "bubble-like lucency and no pleural indentation. An air bronchogram is uncertain; CT would settle "
        "it. This is not a diagnosis."),
    (3, "对照早期肺癌的典型表现,A1符合3/5条:圆形结节;边缘分叶并有毛刺;距肺门4.7厘米,超过3厘米。"
        "无空泡征,无胸膜凹陷;空气支气管征不确定,需CT进一步评估。以上不是诊断。"),
]


@pytest.mark.parametrize(("turn", "text"), FAITHFUL)
def test_faithful_narrations_pass(scenario: list[dict[str, Any]], turn: int, text: str) -> None:
    assert _check(scenario, turn, text) == []


def test_the_composer_text_itself_passes(scenario: list[dict[str, Any]]) -> None:
    for turn in range(4):
        assert _check(scenario, turn, scenario[turn]["composer"]) == []


WRONG_SIDE = [
    (1, "The opacity A1 in the left lung has a lobulated margin with 5 spicules."),
    (1, "The opacity A1 in the left middle lobe has a lobulated margin."),
    (1, "左肺的A1病灶边缘呈分叶状。"),
    (0, "A1, in the left lower lobe, is round and about 12 mm."),  # both sides exist; A1 is right
    (2, "A1 lies 4.7 cm from the left hilum."),
]
WRONG_NUMBER = [
    (1, "The opacity A1 in the right middle lobe has 7 spicules."),
    (1, "The opacity A1 is 15 mm across."),
    (2, "A1 lies 5.7 cm from the right hilum."),
    (2, "A1距右肺门约57毫米。"),
    (3, "A1 matches 4 of 5 signs."),
]
FLIPPED_SIGN = [
    (3, "There is a pleural indentation."),
    (3, "Pleural indentation is present, and A1 is round."),
    (3, "The margin shows no spiculation."),
    (3, "An air bronchogram is seen."),
    (3, "可见空泡征。"),
    (3, "边缘无毛刺。"),
    (1, "A1 is calcified."),
]


@pytest.mark.parametrize(("turn", "text"), WRONG_SIDE)
def test_a_wrong_side_is_rejected(scenario: list[dict[str, Any]], turn: int, text: str) -> None:
    problems = _check(scenario, turn, text)
    assert any(p.startswith(("side", "lobe")) for p in problems), problems


@pytest.mark.parametrize(("turn", "text"), WRONG_NUMBER)
def test_a_wrong_number_is_rejected(scenario: list[dict[str, Any]], turn: int, text: str) -> None:
    problems = _check(scenario, turn, text)
    assert any(p.startswith("number") for p in problems), problems


@pytest.mark.parametrize(("turn", "text"), FLIPPED_SIGN)
def test_a_flipped_checklist_item_is_rejected(scenario: list[dict[str, Any]], turn: int, text: str) -> None:
    problems = _check(scenario, turn, text)
    assert any(p.startswith("sign") for p in problems), problems


def test_unknown_anchors_and_lobes_are_rejected(scenario: list[dict[str, Any]]) -> None:
    assert any(p.startswith("anchor") for p in _check(scenario, 1, "A7 has a lobulated margin."))
    assert any(p.startswith("lobe") for p in _check(scenario, 1, "The right lower lobe opacity is lobulated."))
    assert any(p.startswith("lobe") for p in _check(scenario, 1, "The RLL opacity is lobulated."))
    assert any(p.startswith("empty") for p in _check(scenario, 1, "  "))


def test_rounding_and_units(scenario: list[dict[str, Any]]) -> None:
    # 47.2 mm may be 47 mm, 4.7 cm or 5 cm (correct roundings); not 4.9 cm
    for ok in ("A1 lies 47 mm from the right hilum.", "A1 lies 4.7 cm from the right hilum.",
               "A1 lies about 5 cm from the right hilum.", "A1距右肺门4.7厘米。"):
        assert _check(scenario, 2, ok) == [], ok
    assert _check(scenario, 2, "A1 lies 4.9 cm from the right hilum.")
    # "左右" means "about", not a side
    assert _check(scenario, 1, "A1病灶约12毫米左右,边缘呈分叶状。") == []
    # list markers are not numbers
    assert _check(scenario, 3, "1. A1 is round.\n2. Its margin is lobulated.") == []


@pytest.mark.parametrize(
    ("clause", "status"),
    [("there is no cavity", "no"), ("air bronchogram: uncertain", "uncertain"), ("spiculation is present", "yes"),
     ("未见钙化", "no"), ("无法确定", "uncertain"), ("可见毛刺", "yes"), ("the margin is lobulated", None)],
)
def test_stated_status(clause: str, status: str | None) -> None:
    assert stated_status(clause) == status
