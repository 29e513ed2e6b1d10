"""Questions that point at an anatomy anchor rather than a finding: by a pronoun after a turn about it, by its id, or
by the other side after a turn about one side's.

"右肋膈角锐利吗?" then "它的角度是多少度?": "它" is the angle the last turn was about (it had asked "A1 or A2?");
"show me the heart" then "how wide is it?"; "where is the trachea?" then "is it midline?". "A3 is it enlarged?" (A3
the right hilum) and "is A4 higher than A3?" (the hila) ask what "is the right hilum enlarged?" and "is the left hilum
higher than the right hilum?" ask. "左侧呢?" after a question of the right costophrenic angle asks it of the left one.

The question is read again with the anchor's name in place of the pronoun or the id (``refocused``): the parser
reads each anatomy question by its words, so the answer is the one the named question gets. The anchor in focus is
the one most recently mentioned, where it is the only anchor that turn mentioned (``anatomy_in_focus``); a finding
mentioned with it, or two anchors (both hila), leave the question as it was. A structure asked about that has no
place on the film (no anchor: "where is the trachea?" where the maps drew none) is in focus by its name alone.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from orchestrator.dialogue.anchors import Anchor, Registry
from orchestrator.dialogue.parser import Query, parse
from orchestrator.dialogue.words import phrases, word

_PRONOUNS = frozenset({"it", "its", "this", "that", "this one", "that one", "它", "它的", "这个", "那个"})
_EN_PRONOUN = re.compile(r"(?<![a-z'])(its|it|this one|that one|this|that)(?![a-z'])", re.I)
_ZH_PRONOUN = re.compile(r"(?<!其)它|这个|那个")  # ("其它": "the others", no pronoun)
# what the anatomy answers (a question read again as another's is kept only when it asks one of these of the anatomy)
_ANATOMY_INTENTS = frozenset({"assess_anatomy", "locate", "measure_relation"})
_SIDES = ("right", "left")
_SUFFIXES = ("_right", "_left")
_ALIASES = MappingProxyType({"costophrenic_angle_right": "costophrenic_right",
                             "costophrenic_angle_left": "costophrenic_left"})


def anatomy_in_focus(reg: Registry) -> Anchor | None:
    """The anatomy anchor the conversation is on: the one anchor mentioned most recently, after the screening turn."""
    top = max((a.mentioned_turn for a in reg.anchors), default=1)
    if top <= 1:  # the screening turn mentions the hila with every finding
        return None
    latest = [a for a in reg.anchors if a.mentioned_turn == top]
    return latest[0] if len(latest) == 1 and latest[0].kind in ("anatomy", "point") else None


def _name(a: Anchor, lang: str) -> str:
    return a.label_zh if lang == "zh" else f"the {a.label_en}"


def _unplaced(previous: dict[str, Any], reg: Registry, last_turn: int) -> Anchor | None:
    """"Where is the trachea?" on a film where it has no position (no anchor made): the structure the last turn asked
    about, as an anchor with no place (its name only), when that turn named one structure and mentioned no anchor."""
    anatomy = [_ALIASES.get(n, n) for n in previous.get("anatomy") or ()]
    if (last_turn <= 1 or previous.get("intent") not in ("assess_anatomy", "locate") or len(anatomy) != 1
            or anatomy[0] not in phrases()["anatomy"] or previous.get("references") or previous.get("anchor_ids")
            or any(a.mentioned_turn == last_turn for a in reg.anchors)):
        return None
    name = anatomy[0]
    return Anchor(id="", kind="anatomy", label_en=word("anatomy", name, "en"), label_zh=word("anatomy", name, "zh"),
                  center_px=(0.0, 0.0), bbox_px=(0.0, 0.0, 0.0, 0.0), name=name,
                  side=name.rpartition("_")[2] if name.endswith(_SUFFIXES) else None)


def _only_pointed_by_pronoun(q: Query) -> bool:
    return bool(q.references) and set(q.references) <= _PRONOUNS and not (
        q.anchor_ids or q.has_location or q.descriptors or q.kinds or q.anatomy or q.ordinal is not None or q.other
        or q.both or q.relative)


def _said_of(question: str, lang: str, a: Anchor) -> str:
    """The question with the anchor named where its pronoun stood."""
    if lang == "zh":
        return _ZH_PRONOUN.sub(a.label_zh, question)
    return _EN_PRONOUN.sub(lambda m: _name(a, "en") + ("'s" if m.group(1).lower() == "its" else ""), question)


def _ids_named(question: str, lang: str, anchors: tuple[Anchor, ...]) -> str:
    """The question with each anatomy anchor's name in place of its id (and of a pronoun, where one anchor is named:
    "A3 is it enlarged?")."""
    text = question
    for a in anchors:
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(a.id)}(?![0-9])", _name(a, lang), text, flags=re.I)
    return _said_of(text, lang, anchors[0]) if len(anchors) == 1 else text


def _read_again(text: str, q: Query) -> Query | None:
    """The question read again; kept only where it asks the anatomy something it answers."""
    again = replace(parse(text), lang=q.lang)
    if again.intent in _ANATOMY_INTENTS and again.anatomy and not again.anchor_ids:
        return again
    return None


def _both_sides_compared(q: Query) -> bool:
    """"Is the left hilum higher than the right hilum?": a structure of both sides compared, as the anatomy answers."""
    return q.intent == "assess_anatomy" and bool(q.anatomy) and not q.signs and all(
        not name.endswith(("_right", "_left")) for name in q.anatomy)


# structures of both sides, which a side named after a question of them picks ("and the left one?")
_SIDED = ("costophrenic_angle", "costophrenic", "hilum", "diaphragm", "apex")


def _side_alone(q: Query) -> bool:
    """An ellipsis that names a side and nothing else ("左侧呢?", "and the left?", "and the left one?")."""
    return q.elliptical and q.side in _SIDES and not (
        q.anchor_ids or q.descriptors or q.lobe or q.lobe_level or q.zone or q.band or q.ordinal is not None or q.kinds
        or q.relative or q.anatomy or q.other or q.both)


def _other_side(q: Query, previous: dict[str, Any]) -> Query | None:
    """"左侧呢?" / "and the left?" / "and the left one?" after a question of one side's structure (or of both sides'):
    that question of the side named (after "is the right costophrenic angle sharp?", "and the left one?" had answered
    "no lesion was found")."""
    if not _side_alone(q) or previous.get("intent") not in ("assess_anatomy", "locate") or not previous.get("anatomy"):
        return None
    asked = Query.from_state(previous)
    if asked.anchor_ids or asked.references or not all(n.removesuffix("_right").removesuffix("_left") in _SIDED
                                                         for n in asked.anatomy):
        return None
    anatomy = tuple(dict.fromkeys(f"{n.removesuffix('_right').removesuffix('_left')}_{q.side}" for n in asked.anatomy))
    return replace(asked, lang=q.lang, side=q.side, anatomy=anatomy, lesion_side=None, elliptical=False,
                   bare_pointer=False, side_only=False, domes_compared=False, angles_compared=False)


# "how many degrees?" / "多少度?" / "what's the angle?": an angle's degrees asked with nothing named
_DEGREES = re.compile(r"(?<![a-z])(?:degrees?|angle)(?![a-z])|°|多少度|几度|角度")


def _angles_degrees(q: Query, question: str, previous: dict[str, Any]) -> Query | None:
    """"How many degrees?" / "多少度?" after a question of a costophrenic angle (or both): that angle's degrees (it had
    brought up the early-lung-cancer checklist, "how many" read as its signs counted)."""
    if not _DEGREES.search(question.lower()) or previous.get("intent") not in ("assess_anatomy", "locate"):
        return None
    names = tuple(previous.get("anatomy") or ())
    if not names or not all(n.startswith("costophrenic") for n in names) or previous.get("anchor_ids"):
        return None
    if q.anchor_ids or q.descriptors or q.has_location or q.anatomy or q.ordinal is not None or q.kinds or (
            set(q.references) - _PRONOUNS):
        return None
    sides = {n.rpartition("_")[2] for n in names} & set(_SIDES)
    side = next(iter(sides)) if len(sides) == 1 else None
    said = (f"{word('anatomy', f'costophrenic_{side}', 'zh') if side else '两侧肋膈角'}多少度?" if q.lang == "zh" else
            f"how many degrees is the {word('anatomy', f'costophrenic_{side}', 'en') if side else 'costophrenic angle'}?")
    return _read_again(said, q)


def refocused(q: Query, question: str, reg: Registry, previous: dict[str, Any], last_turn: int) -> Query:
    """The question as asked of the anatomy anchor it points at (module docstring); else as parsed. ``previous``: the
    last turn's parse state; ``last_turn``: its number."""
    named = tuple(a for a in (reg.get(i) for i in q.anchor_ids) if a is not None)
    if named and len(named) == len(q.anchor_ids) and all(a.kind in ("anatomy", "point") for a in named):
        again = _read_again(_ids_named(question, q.lang, named), q) if q.intent in ("assess_anatomy", "compare") else None
        if again is not None and q.intent == "compare" and not _both_sides_compared(again):
            # (two anatomy anchors compared otherwise, "is A1 bigger than A2?" of the hila: they are not findings, and the
            # comparison's answer says so)
            return q
        return again or q  # "A3 is it enlarged?"; "is A4 higher than A3?" (the hila's heights)
    other = _other_side(q, previous) or _angles_degrees(q, question, previous)
    if other is not None:
        return other
    focus = anatomy_in_focus(reg) or _unplaced(previous, reg, last_turn)
    if focus is None:
        return q
    if _only_pointed_by_pronoun(q):  # "how wide is it?" after "show me the heart"
        return _read_again(_said_of(question, q.lang, focus), q) or q
    return q
