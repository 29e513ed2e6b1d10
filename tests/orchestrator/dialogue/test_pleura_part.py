"""Where on the lung field's border a finding's pleural distance is measured to (``Finding.pleura_part``): a finding
"touching the pleura" at the field's inner border abuts the mediastinum (on a real film, a region over the upper
mediastinum was said to "touch the pleura", 0.3 mm, with no word of which), and the answer says which."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest


def with_a1_against(facts: Any, part: str, contact: bool) -> Any:
    f1 = replace(facts.findings[0], pleura_part=part, pleural_contact=contact,
                 distance_to_pleura_mm=0.3 if contact else 12.0)
    return replace(facts, findings=(f1, *facts.findings[1:]))


@pytest.mark.parametrize(("part", "en", "zh"), [
    ("mediastinum", "at the lung field's inner border (the mediastinal pleura)", "肺野内侧缘的纵隔胸膜"),
    ("diaphragm", "at the lung field's floor (the diaphragmatic pleura)", "肺底的膈胸膜"),
    ("chest_wall", "along the chest wall", "胸壁侧"),
])
def test_the_pleural_distance_says_where_on_the_border(make_facts: Callable[..., Any], ask: Callable[..., Any],
                                                       part: str, en: str, zh: str) -> None:
    facts = with_a1_against(make_facts(), part, contact=False)
    assert f"about 12.0 mm from the pleura {en}." in ask("how far is A1 from the pleura?", facts=facts).answer.text
    assert f"A1边缘距胸膜({zh})约12.0 mm" in ask("A1离胸膜多远?", lang="zh", facts=facts).answer.text


def test_where_it_lies_names_a_mediastinal_contact_and_leaves_the_chest_wall_unsaid(
        make_facts: Callable[..., Any], ask: Callable[..., Any]) -> None:
    mediastinal = ask("where is A1?", facts=with_a1_against(make_facts(), "mediastinum", contact=True)).answer.text
    assert "touching the pleura at the lung field's inner border (the mediastinal pleura)" in mediastinal
    wall = ask("where is A1?", facts=with_a1_against(make_facts(), "chest_wall", contact=True)).answer.text
    assert "touching the pleura and" in wall and "chest wall" not in wall
    assert "紧贴胸膜(肺野内侧缘的纵隔胸膜)" in ask("A1在哪里?", lang="zh",
                                           facts=with_a1_against(make_facts(), "mediastinum", contact=True)).answer.text
