"""How a turn says which finding it took a question to point at, where the words alone could mislead
(``pointing`` reads the words; ``anchors`` resolves them):

- ``patient_sides``: "the one on the left side of the image" is the patient's right on a frontal film shown the standard
  way (PatientOrientation L\\F, or the film gate's reading of the pixels: ``FilmCheck.orientation == "upright"``); the
  question's sides become the patient's there. On a film whose sides are withheld (shown mirrored, or left and right not
  established) nothing is turned: the answer says sides are not stated, and none is guessed.
- ``with_notes``: the answer says so once ("The left of the image is the patient's right …: that is A1."); compares a
  size the reader states with Hilum's measurement ("You put A1 at 15.0 mm …"), never echoing the question's words; says
  which finding is the lower (higher) one where the findings' heights are compared; and says why "the solid one" names
  no finding on a radiograph; and that "the other one" among three or more names none, so the one asked about is set
  against each.
"""

from __future__ import annotations

import dataclasses

from orchestrator.dialogue import anchors as anc
from orchestrator.dialogue import composer as comp
from orchestrator.dialogue.parser import Query
from orchestrator.dialogue.words import and_list, mm, r1
from orchestrator.facts import ImageFacts

_OTHER_SIDE = {"left": "right", "right": "left"}
_ZH_SIDE = {"left": "左", "right": "右"}


def shown_standard_way(facts: ImageFacts) -> bool:
    """Whether the film is shown as a frontal chest film is read (the patient's right on the image's left) and its sides
    are stated at all: only then does the image's side say the patient's."""
    check = facts.film_check
    return check.localisable and check.orientation == "upright"


def patient_sides(query: Query, facts: ImageFacts) -> Query:
    """The question with the image's side it names turned into the patient's (``Query.image_side`` kept, for the note),
    where the film is shown the standard way; as it is elsewhere (its sides are withheld)."""
    if query.image_side not in _OTHER_SIDE or not shown_standard_way(facts):
        return query
    patient = _OTHER_SIDE[query.image_side]
    side = _OTHER_SIDE.get(query.side or "", patient)
    lesion_side = (_OTHER_SIDE.get(query.lesion_side, patient) if query.lesion_side
                   else None if query.anatomy else patient)
    mentions = tuple(f"side:{_OTHER_SIDE[m[5:]]}" if m.startswith("side:") and m[5:] in _OTHER_SIDE else m
                     for m in query.mentions)
    anatomy = query.anatomy
    if query.lesion_side is None:  # "图像左侧肺门": the image's side bound to a structure names the patient's right one
        shown = f"_{query.image_side}"
        anatomy = tuple(f"{a.removesuffix(shown)}_{patient}" if a.endswith(shown) else a for a in anatomy)
    return dataclasses.replace(query, side=side, lesion_side=lesion_side, mentions=mentions, anatomy=anatomy)


def _finding_ids(ctx: comp.Context, composition: comp.Composition, side: str | None = None) -> list[str]:
    found = (ctx.registry.get(i) for i in composition.referenced)
    return [a.id for a in found if a is not None and a.kind == "finding" and (side is None or a.side == side)]


def _image_side_section(ctx: comp.Context, composition: comp.Composition) -> dict[str, object] | None:
    """"The left of the image is the patient's right (…): that is A1." once, where the question named the image's side
    and the film is shown the standard way."""
    shown = ctx.query.image_side
    if shown not in _OTHER_SIDE or not shown_standard_way(ctx.facts):
        return None
    patient = _OTHER_SIDE[shown]
    ids = _finding_ids(ctx, composition, patient)
    if ctx.zh:
        text = f"片子按标准方向显示,图像{_ZH_SIDE[shown]}侧是患者的{_ZH_SIDE[patient]}侧" + (
            f":即{'、'.join(ids)}。" if ids else "。")
    else:
        text = (f"The {shown} of the image is the patient's {patient} (the film is shown the standard way)"
                + (f": that is {and_list(ids)}." if ids else "."))
    return comp.section("image_side", ctx.t("图像的左右", "The image's sides"), text)


# how far a stated size may lie beyond Hilum's shortest and longest diameters and still be within measurement error
STATED_MARGIN = comp.SIZE_MARGIN


def _stated_size_section(ctx: comp.Context, composition: comp.Composition) -> dict[str, object] | None:
    """A size the reader states (their own, or a radiologist's) against Hilum's measurement of the one finding the
    answer gives: within, above or below its shortest to longest diameters, by how much; that a radiograph's measurement
    can be off, and that a radiologist's takes precedence."""
    q = ctx.query
    ids = _finding_ids(ctx, composition)
    if q.stated_mm is None or q.intent != "size" or composition.clarification or len(ids) != 1:
        return None
    a = ctx.registry.get(ids[0])
    f = ctx.finding(a) if a is not None else None
    if a is None or f is None:
        return None
    value, longest, shortest = r1(q.stated_mm), r1(f.longest_mm), r1(f.shortest_mm)
    by_radiologist = q.stated_by == "radiologist"
    theirs_zh, theirs_en = ("医师的数值", "the radiologist's figure") if by_radiologist else ("您的数值", "your figure")
    if shortest * (1 - STATED_MARGIN) <= value <= longest * (1 + STATED_MARGIN):
        zh = f"在Hilum测得的范围内(最短径{mm(shortest)} mm,最长径{mm(longest)} mm),差别在测量误差之内。"
        en = (f"that is within what Hilum measures (shortest {mm(shortest)} mm, longest {mm(longest)} mm), allowing for "
              "measurement error.")
    elif value > longest:
        zh = f"比Hilum测得的大:{a.id}最长径{mm(longest)} mm,比{theirs_zh}小{mm(value - longest)} mm。"
        en = (f"that is larger than Hilum's measurement: {a.id}'s longest diameter is {mm(longest)} mm, "
              f"{mm(value - longest)} mm less than {theirs_en}.")
    else:
        zh = f"比Hilum测得的小:{a.id}最短径{mm(shortest)} mm,比{theirs_zh}大{mm(shortest - value)} mm。"
        en = (f"that is smaller than Hilum's measurement: {a.id}'s shortest diameter is {mm(shortest)} mm, "
              f"{mm(shortest - value)} mm more than {theirs_en}.")
    off_zh = "胸片上的测量可能有几毫米的误差(投影上病灶边缘模糊,且Hilum在缩小的工作图像上测量)"
    off_en = ("A measurement on a radiograph can be off by a few millimetres (a lesion's edge is blurred on a projection, "
              "and Hilum measures on a reduced working image)")
    if by_radiologist:
        text = ctx.t(f"放射科医师测得{a.id}为{mm(value)} mm,应以医师的测量为准;{zh}{off_zh}。",
                     f"The radiologist's measurement of {a.id}, {mm(value)} mm, takes precedence over Hilum's; {en} "
                     f"{off_en}.")
    else:
        text = ctx.t(f"您给出的{a.id}大小是{mm(value)} mm;{zh}{off_zh};放射科医师的测量优先于Hilum的测量。",
                     f"You put {a.id} at {mm(value)} mm; {en} {off_en}; a radiologist's measurement takes precedence "
                     "over Hilum's.")
    return comp.section("stated_size", ctx.t("与您给出的大小比较", "Against the size you gave"), text)


def _by_height(ctx: comp.Context, composition: comp.Composition) -> tuple[dict[str, object] | None, str | None]:
    """"Which is the lower one?" / "which is lower?": which finding it is, said first (and "it" next means it), unless
    the first two lie at about one height (the comparison says so)."""
    q = ctx.query
    if not (q.intent == "compare" and q.relative_ranked and q.relative in ("above", "below")):
        return None, None
    found = [a for a in (ctx.registry.get(i) for i in composition.referenced) if a is not None and a.kind == "finding"]
    if len(found) < 2 or anc.at_one_height(found[0], found[1]):
        return None, None
    lower = q.relative == "below"
    most = len(found) > 2
    zh = f"{found[0].id}位置{'最' if most else '较'}{'低' if lower else '高'}。"
    en = (f"{found[0].id} is the {('lowest' if lower else 'highest') if most else ('lower' if lower else 'higher')} "
          f"of {'them' if most else 'the two'}.")
    return comp.section("height", ctx.t("高低", "Height"), ctx.t(zh, en)), found[0].id


def _unread_section(ctx: comp.Context, res: anc.Resolution) -> dict[str, object] | None:
    """"The solid one": a radiograph cannot tell a solid nodule from a subsolid one, so the word says which finding
    nowhere (the turn asks which one)."""
    if res.note != "unread_descriptor":
        return None
    return comp.section("unread_descriptor", ctx.t("无法据此区分", "Cannot tell them apart by that"), ctx.t(
        "胸片无法区分实性与亚实性(磨玻璃)结节(薄层CT可明确),因此“实性”不能说明指的是哪一处。",
        "A radiograph cannot tell a solid nodule from a subsolid (ground-glass) one (thin-section CT settles it), so "
        "\"solid\" does not say which finding is meant."))


def _each_other_section(ctx: comp.Context, res: anc.Resolution) -> dict[str, object] | None:
    """"Is it bigger than the other one?" with two others or more: "the other one" names none of them, so the one asked
    about is set against each, and the answer says so (the more recently mentioned had been taken without a word)."""
    if res.note != "each_other" or len(res.anchors) < 3:
        return None
    first, others = res.anchors[0].id, [a.id for a in res.anchors[1:]]
    if ctx.zh:
        text = f"“另一个”可以是{'或'.join(others)},因此把{first}与{'二者' if len(others) == 2 else '它们'}分别比较。"
    else:
        text = f"\"The other one\" could be {' or '.join(others)}, so {first} is set against each."
    return comp.section("each_other", ctx.t("“另一个”", "\"The other one\""), text)


def with_notes(ctx: comp.Context, composition: comp.Composition, res: anc.Resolution) -> comp.Composition:
    """The composition with what it says about how its finding was picked, first (not again on "by how much?", which
    gives the difference alone)."""
    if ctx.query.how_much and any(s.get("kind") == "amount" for s in composition.sections):
        return composition
    height, focus = _by_height(ctx, composition)
    lead = [s for s in (_image_side_section(ctx, composition), _unread_section(ctx, res), _each_other_section(ctx, res),
                        height, _stated_size_section(ctx, composition)) if s is not None]
    if not lead:
        return composition
    return dataclasses.replace(composition, sections=(*lead, *composition.sections),
                               focus=composition.focus or focus)
