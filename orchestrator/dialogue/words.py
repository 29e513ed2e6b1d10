"""Output words (zh/en) from ``data/phrases.json`` and number formatting used by composer and anchors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

PHRASES_PATH = Path(__file__).resolve().parent / "data" / "phrases.json"


@lru_cache(maxsize=1)
def phrases() -> dict[str, Any]:
    return json.loads(PHRASES_PATH.read_text(encoding="utf-8"))


def word(group: str, key: str | None, lang: str) -> str:
    if key is None:
        return ""
    entry = phrases().get(group, {}).get(key)
    if entry is None:
        return str(key)
    return str(entry.get(lang) or entry.get("en") or key)


def pleural_space(side: str | None, lang: str) -> str:
    """Where an effusion is named: its side's pleural space, never a lobe ("右侧胸腔" / "right pleural space")."""
    return f"{word('side', side, lang)}侧胸腔" if lang == "zh" else f"{word('side', side, lang)} pleural space"


def mm(value: float) -> str:
    """One decimal, as every mm in turn JSON is rounded."""
    return f"{value:.1f}"


def cm(value_mm: float) -> str:
    return f"{value_mm / 10.0:.1f}"


def r1(value: float) -> float:
    return round(float(value), 1)


def counted(n: int, noun: str) -> str:
    """English: a count and its noun, singular for one ("1 candidate region", "2 candidate regions")."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def and_list(items: list[str]) -> str:
    """English: "A1", "A1 and A2", "A1, A2 and A3"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# what being projected over a dome, the heart or the mediastinum (Finding.overlies; its words: phrases.json "overlies")
# means on a frontal film, and what would tell: (zh, en)
OVERLIE_NOTES: dict[str, tuple[str, str]] = {
    "diaphragm": ("正位片上它投影于膈顶下方:可位于膈顶后方的肺内,也可位于膈下;侧位片可明确。",
                  "On a frontal film it is projected below the dome of the diaphragm: it may lie in the lung behind the "
                  "dome or below the diaphragm; a lateral view would tell."),
    "heart": ("正位片上它投影于心影内,该处病灶易被心影遮挡;侧位片可显示该处肺组织。",
              "On a frontal film it is projected over the heart, which hides a lesion there; a lateral view shows that "
              "part of the lung."),
    "mediastinum": ("正位片上它投影于纵隔内:可位于纵隔而非肺内;侧位片或CT可明确。",
                    "On a frontal film it is projected over the mediastinum: it may lie in the mediastinum rather than "
                    "the lung; a lateral view or CT would tell."),
}


def overlie_note(overlies: str | None, lang: str) -> str:
    """What being projected there means on a frontal film, and what would tell (empty on the open lung field)."""
    if overlies not in OVERLIE_NOTES:
        return ""
    zh, en = OVERLIE_NOTES[overlies]
    return zh if lang == "zh" else en


OBJECT_LOOKS: dict[str, tuple[str, str, str, str, str]] = {
    # look: zh (counted), en (one), en (several), what it may be (en / zh)
    "dense": ("处小而极致密、边缘锐利的物体", "small, very dense, sharp-edged object", "small, very dense, sharp-edged objects",
              "an ECG electrode, a clip, a wire", "心电电极、夹子、导线"),
    "large": ("处大而极致密、边缘锐利的物体", "large, very dense, sharp-edged object", "large, very dense, sharp-edged objects",
              "a pacemaker's or defibrillator's generator, a port", "起搏器或除颤器的脉冲发生器、输液港"),
    "line": ("条细长、粗细均匀的带状影", "long, thin band of even width", "long, thin bands of even width",
             "a catheter, a tube, a lead", "导管、插管、导联线"),
}


def objects_phrase(objects: Sequence[Any], lang: str) -> str:
    """The objects set aside from the findings (``ImageFacts.objects``), counted by look, each with where it lies:
    "2 small, very dense, sharp-edged objects (right upper zone; left lower zone) and 1 long, thin band of even
    width (right upper zone)" / "2处小而极致密、边缘锐利的物体(右上肺野;左下肺野)及1条细长、粗细均匀的带状影(右上肺野)".
    What they look like, never what they are."""
    parts = []
    for look, (zh, one, several, _, _) in OBJECT_LOOKS.items():
        group = [o for o in objects if o.look == look]
        if not group:
            continue
        where = object_places(group, lang)
        n = len(group)
        parts.append(f"{n}{zh}({where})" if lang == "zh" else f"{n} {one if n == 1 else several} ({where})")
    return "及".join(parts) if lang == "zh" else and_list(parts)


def objects_examples(objects: Sequence[Any], lang: str) -> str:
    """What objects of these looks may be, as examples only: "an ECG electrode, a clip, a wire" / "心电电极、夹子、导线"."""
    looks = [look for look in OBJECT_LOOKS if any(o.look == look for o in objects)]
    return ("、" if lang == "zh" else ", ").join(OBJECT_LOOKS[look][4 if lang == "zh" else 3] for look in looks)


def objects_in_place(objects: Sequence[Any], lang: str) -> str:
    """What among these objects may be in place in the body, not taken off for a repeat film (a lateral view settles
    a lesion beneath it): "a line or tube" / "an implanted generator" / both, or "" where none may be."""
    line, large = (any(o.look == look for o in objects) for look in ("line", "large"))
    if lang == "zh":
        return {(True, False): "体内置管", (False, True): "体内植入装置", (True, True): "体内置管或植入装置"}.get((line, large), "")
    return {(True, False): "a line or tube", (False, True): "an implanted generator",
            (True, True): "a line, a tube or an implanted generator"}.get((line, large), "")


def object_places(objects: Sequence[Any], lang: str) -> str:
    """Where the dense objects set aside from the findings lie (``ImageFacts.objects``), each side and zone once:
    "right upper zone; left lower zone" / "右上肺野;左下肺野"."""
    places = dict.fromkeys((word("side", o.side, lang), word("zone", o.zone, lang)) for o in objects)
    return ";".join(f"{s}{z}" for s, z in places) if lang == "zh" else "; ".join(f"{s} {z}" for s, z in places)
