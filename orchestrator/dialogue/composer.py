"""Answer sections per intent, in the question's language, every number from the facts.

A section is ``{"kind", "title", "text"}`` (plus ``rows`` for tables). The answer text is the
sections' texts joined. Numbers are rounded once (``words.r1``) when the turn's findings and
measurements are built, and the text quotes those rounded values, so the structured fields
and the prose always agree. Never a diagnosis; always says when pixel spacing is estimated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestrator.contracts.lesion_reader import Frame
from orchestrator.dialogue import checklists as cl
from orchestrator.dialogue import units
from orchestrator.dialogue.anchors import (
    LOBES_AT_LEVEL,
    Anchor,
    Registry,
    add_relation,
    content_wanted,
    descriptor_misfits,
    ensure_anatomy,
    finding_in_focus,
    fits_kinds,
    holds_kind,
    is_scoped,
    landmark_sides,
    ordinal_index,
)
from orchestrator.dialogue.effusion import EXTENT_CAVEAT, effusion_extent_text, effusion_heights
from orchestrator.dialogue.interval_answer import INTENT as INTERVAL_INTENT
from orchestrator.dialogue.interval_answer import (
    NO_EARLIER_HINT,
    NO_EARLIER_HINT_NOTHING_FOUND,
    earlier_place_section,
    interval_section,
)
from orchestrator.dialogue.margins import (
    ill_defined,
    margin_code,
    nodule_margin,
    stated_notches,
    stated_spicules,
)
from orchestrator.dialogue.parser import CLOSEST_CHECKLIST, GLOSSARY_PREFIX, Query
from orchestrator.dialogue.segments import SEGMENT_NAMES
from orchestrator.dialogue.words import (
    and_list,
    cm,
    counted,
    mm,
    objects_examples,
    objects_in_place,
    objects_phrase,
    overlie_note,
    phrases,
    pleural_space,
    r1,
    word,
)
from orchestrator.encoders.second_reader import (
    ALONE_HIDDEN_FOUND,
    ALONE_NODULES_BY_SIZE,
    ALONE_NODULES_FOUND,
    ALONE_PRESENCE_MAX,
    ALONE_REAL_INSERTED,
    ALONE_TUMOUR_FOUND,
    HIDDEN_FOUND,
)
from orchestrator.facts import CostophrenicAngle, Finding, ImageFacts
from orchestrator.findings.calibration import (
    CAVITIES_MISSED,
    CAVITY_UNEXCLUDED_MM,
    THRESHOLD,
    cavity_unexcluded,
    is_confident,
    present_stated,
    stated_kind,
)
from orchestrator.findings.dome_floor import DOME_UNPLACED
from orchestrator.findings.geometry import blunted_by_fluid
from orchestrator.findings.hila_levels import HILA_READ_ALONE, HILA_UNPLACED
from orchestrator.findings.interval import IntervalComparison
from orchestrator.findings.relations import outline_gap_mm
from orchestrator.findings.size import finding_size
from orchestrator.findings.spacing import REJECTIONS, assumed_width_mm, rejection
from orchestrator.ontology.loader import Ontology


@dataclass(frozen=True)
class Context:
    facts: ImageFacts
    lang: str
    query: Query
    subjects: tuple[Anchor, ...]  # resolved finding anchors (may be empty)
    anatomy: tuple[Anchor, ...]  # anatomy anchors the question names (created on demand)
    registry: Registry
    ontology: Ontology
    turn: int
    interval: IntervalComparison | None = None  # this film against an earlier one uploaded with it
    # how the working image was made from the uploaded film (None: a session over facts alone): "in pixels?" counts the
    # uploaded film's pixels where it is known
    frame: Frame | None = None

    @property
    def zh(self) -> bool:
        return self.lang == "zh"

    def t(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def finding(self, a: Anchor) -> Finding | None:
        return self.facts.finding(a.finding_id) if a.finding_id else None


@dataclass(frozen=True)
class Composition:
    sections: tuple[dict[str, Any], ...]
    findings: tuple[dict[str, Any], ...] = ()
    measurements: tuple[dict[str, Any], ...] = ()
    checklist: dict[str, Any] | None = None
    clarification: dict[str, Any] | None = None
    referenced: tuple[str, ...] = ()
    registry: Registry | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    focus: str | None = None  # the one referenced anchor the answer settled on ("the largest is A3"), "it" next

    @property
    def text(self) -> str:
        return join_sections(self.sections)


def join_sections(sections: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str:
    return "\n".join(s["text"] for s in sections if s.get("text"))


def section(kind: str, title: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "title": title, "text": text, **extra}


# --- shared pieces -----------------------------------------------------------------------------


def finding_dict(f: Finding, anchor_id: str) -> dict[str, Any]:
    d = f.density
    size = finding_size(f)
    return {
        "id": f.id,
        "anchor_id": anchor_id,
        "kind": f.kind,
        "named_kind": stated_kind(f),  # as the answers name it: a calcification or a cavity only where it is stated
        "shape": f.shape,
        "side": f.side,
        "side_confirmed": f.side_confirmed,
        "lobe": f.lobe,
        "lobe_overlap": list(f.lobe_overlap),  # lobes it also projects over: the lobe named is an estimate
        "zone": f.zone,
        "band": f.band,
        "diameter_mm": r1(f.diameter_mm),
        "longest_mm": r1(f.longest_mm),
        "shortest_mm": r1(f.shortest_mm),
        "area_mm2": r1(f.area_mm2),
        "size_kind": size.kind,  # one size per finding (orchestrator.findings.size): what the text states
        "size_mm": list(size.mm),
        "margin": margin_code(f),  # as stated: a consolidation's irregular edge is ill_defined, never spiculated
        "margin_source": f.margin_source,  # lesion_map, or reader: read on the film's own pixels
        # which readings the answers state flatly (the rest: "cannot be judged" / "not seen at this resolution"), so
        # that the page's table and the DICOM SR say no more than the text
        "stated": {"margin": margin_backed(f), "density": confident(f, "density"),
                   "calcification": confident(f, "calcification"), "cavity": confident(f, "cavity"),
                   "bubble_lucency": present_stated("bubble_lucency", d.bubble_lucency)},
        "notches_clock": [n.clock for n in stated_notches(f)],  # one per clock position; none of a consolidation
        "spicules": len(stated_spicules(f)),
        "spicule_length_mm": [r1(s.length_mm) for s in stated_spicules(f)],
        "calcified": d.calcified,
        "cavity": d.cavity,
        "bubble_lucency": d.bubble_lucency,
        "air_bronchogram": d.air_bronchogram,
        "homogeneous": d.homogeneous,
        "pleural_contact": f.pleural_contact,
        "overlies": f.overlies,  # projected over a dome, the heart or the mediastinum (None: the open lung field)
        "distance_to_hilum_mm": r1(f.hilum.center_distance_mm) if f.hilum else None,
        "center_px": [r1(f.center_px[0]), r1(f.center_px[1])],
        "bbox_px": [r1(v) for v in f.bbox_px],
        "confidence": round(float(f.confidence), 3),
        "attribute_confidence": {k: round(float(v), 3) for k, v in f.attribute_confidence.items()},
    }


# --- confidence: hedge what the calibration cannot back (orchestrator.findings.calibration) --------


def confident(f: Finding, attribute: str) -> bool:
    """Whether ``attribute`` of ``f`` is stated flatly: its calibrated probability reaches
    ``calibration.THRESHOLD`` (no probability, as in facts from before calibration: flat). A "no cavity" on a lesion
    large enough to hold one is never flat (``calibration.cavity_unexcluded``)."""
    if attribute == "cavity" and cavity_unexcluded(f):
        return False
    p = f.confidence if attribute == "presence" else f.attribute_confidence.get(attribute)
    return is_confident(p)


def stated_flatly(f: Finding, statement: str) -> bool:
    """Whether the answers state ``statement`` of ``f`` (a key of ``phrases()["statement"]``) flatly, as they do: the
    margin where ``margin_backed``, the lobe where the calibration backs it and no other lobe overlaps it in projection
    (where one does, every location answer calls the lobe an estimate), else ``confident``. "How sure are you?" says
    "stated flatly" or "hedged" by this, so that it never calls flat what the answers hedge."""
    if statement == "margin":
        return margin_backed(f)
    if statement == "lobe":
        return confident(f, "lobe") and not (f.lobe_overlap and f.kind != "effusion")
    return confident(f, statement)


def cannot_judge(what_zh: str, what_en: str, lang: str) -> str:
    """"<what> cannot be judged on this film" / "<what>本片无法判断"."""
    return f"{what_zh}本片无法判断" if lang == "zh" else f"{what_en} cannot be judged on this film"


def spacing_note(ctx: Context) -> dict[str, Any] | None:
    sp = ctx.facts.spacing
    if sp.source == "dicom":
        return None
    why = rejection(sp)
    if why is not None:  # the file had a spacing, but not one a chest film can have
        zh, en = REJECTIONS[why]
        return section("spacing", ctx.t("像素间距", "Pixel spacing"), ctx.t(
            f"注意:{zh},未采用;毫米/厘米数值按估计间距({sp.row_mm:.3f} mm/像素)换算,仅供参考。",
            f"Note: {en}, so it was not used; mm and cm are from an estimated spacing "
            f"({sp.row_mm:.3f} mm per pixel) and are approximate.",
        ))
    took_zh, took_en, child_zh, child_en = _assumed(ctx)
    text = ctx.t(
        f"注意:本片无DICOM像素间距,毫米/厘米数值按估计间距({sp.row_mm:.3f} mm/像素{took_zh})换算,仅供参考{child_zh}。",
        f"Note: this film carries no DICOM pixel spacing; mm and cm are from an estimated spacing "
        f"({sp.row_mm:.3f} mm per pixel{took_en}) and are approximate{child_en}.",
    )
    return section("spacing", ctx.t("像素间距", "Pixel spacing"), text)


def _assumed(ctx: Context) -> tuple[str, str, str, str]:
    """What an estimated spacing took the chest to be, (zh, en) inside its parenthesis and (zh, en) after it: an adult's
    width, so a child's film measures too large (said flatly where the file gives a child's age, not at all where it
    gives an adult's: ``FilmCheck.age_group``); empty where the estimate assumed no chest width."""
    width = assumed_width_mm(ctx.facts.spacing)
    if width is None:
        return "", "", "", ""
    age = ctx.facts.film_check.age_group
    after = (("", "") if age == "adult" else
             (";文件所载年龄为儿童,数值因此偏大", "; the file gives a child's age, so they are too large")
             if age in ("infant", "child") else (";儿童的片子上数值偏大", "; on a child's film they are too large"))
    return (f",按成人胸廓宽约{width / 10:.1f} cm估计", f", taking the chest as {width / 10:.1f} cm across, an adult's width",
            *after)


def disclaimer(ctx: Context) -> dict[str, Any]:
    return section(
        "disclaimer",
        ctx.t("说明", "Note"),
        ctx.t("以上为影像征象描述,不构成诊断,请结合临床并由医师判读。",
              "These are image observations, not a diagnosis; a clinician should interpret them in context."),
    )


def where(f: Finding, lang: str) -> str:
    if f.kind == "effusion":  # pleural fluid lies outside the lungs: its side's pleural space, not a lobe
        if lang == "zh":
            side = "" if f.side_confirmed else ",靠近中线,左右侧不确定"
            return f"{pleural_space(f.side, lang)}({word('zone', f.zone, lang)}{side})"
        side = "; side uncertain" if not f.side_confirmed else ""
        return f"{pleural_space(f.side, lang)} ({word('zone', f.zone, lang)}{side})"
    over = word("overlies", f.overlies, lang)
    if lang == "zh":
        side = "" if f.side_confirmed else ",靠近中线,左右侧不确定"
        over = f";{over}" if over else ""
        return f"{word('lobe', f.lobe, lang)}({word('zone', f.zone, lang)}、{word('band', f.band, lang)}{side}{over})"
    side = "" if f.side_confirmed else "; near the midline, side uncertain"
    over = f"; {over}" if over else ""
    return f"{word('lobe', f.lobe, lang)} ({word('zone', f.zone, lang)}, {word('band', f.band, lang)}{side}{over})"


def size_phrase(f: Finding, lang: str) -> str:
    """The finding's one size (``orchestrator.findings.size``), the same as ``size_mm`` in its table row."""
    size = finding_size(f)
    if size.kind == "axes":
        return f"约{size.text()}" if lang == "zh" else f"about {size.text()}"
    (d,) = size.mm
    if lang == "zh":
        return f"直径约{cm(d)} cm({size.text()})"
    return f"about {cm(d)} cm across ({size.text()})"


def finding_line(a: Anchor, f: Finding, lang: str) -> str:
    shape = "" if f.kind in ("strand", "consolidation", "effusion") else word("shape", f.shape, lang)
    kind = word("kind", stated_kind(f), lang)
    sure = confident(f, "presence")
    place = where(f, lang)
    if f.lobe_overlap and f.kind != "effusion":  # the lobe named is an estimate where lobes overlap in projection
        others = ("、" if lang == "zh" else " and the ").join(word("lobe", lb, lang) for lb in f.lobe_overlap)
        verb = "overlap" if len(f.lobe_overlap) > 1 else "overlaps"
        place = place[:-1] + (f";此处与{others}重叠)" if lang == "zh" else f"; the {others} {verb} here)")
    if lang == "zh":
        return f"{a.id}:{place}{'' if sure else '可能'}见{shape}{kind},{size_phrase(f, lang)}。"
    article = "an" if (shape or kind)[:1] in "aeiou" else "a"
    return (f"{a.id}: {'' if sure else 'possibly '}{article} {(shape + ' ' + kind).strip()} in the {place}, "
            f"{size_phrase(f, lang)}.")


def subject_findings(ctx: Context) -> list[tuple[Anchor, Finding]]:
    out = []
    for a in ctx.subjects:
        f = ctx.finding(a)
        if f is not None:
            out.append((a, f))
    return out


# --- screening ---------------------------------------------------------------------------------

_CHECKED_WORDS = MappingProxyType({
    "consolidation": ("实变", "consolidation"),
    "cavity": ("空洞", "cavity"),
    "calcification": ("钙化", "calcification"),
    "effusion": ("胸腔积液", "pleural effusion"),
    "mass": ("肿块", "mass"),
})


def _normal_statement(ctx: Context) -> dict[str, Any] | None:
    found_kinds = {f.kind for f in ctx.facts.findings}
    found_flags = {
        "cavity": any(f.density.cavity for f in ctx.facts.findings),
        "calcification": any(f.density.calcified for f in ctx.facts.findings),
    }
    # a blunted angle can be a small effusion: no effusion is then said to be absent (the angle is named, and why)
    blunted = bool(_blunted_sides(ctx))
    found_flags["effusion"] = blunted
    # findings that may be or may hide a kind none is read as (nodules over a consolidation, fluid in front of one):
    # that kind is not absent, as "is there consolidation?" says of the same findings (``checklists.unsettled_by``)
    unsettled = {c: ids for c in ctx.facts.checked if c in _CHECKED_WORDS
                 and (ids := [a.id for a in cl.unsettled_by(c, ctx.facts, ctx.registry)])}
    absent = [
        _CHECKED_WORDS[c][0 if ctx.zh else 1]
        for c in ctx.facts.checked
        if c in _CHECKED_WORDS and c not in found_kinds and not found_flags.get(c, False) and c not in unsettled
    ]
    parts: list[str] = []
    if absent:
        listed = absent[0] if len(absent) == 1 else f"{', '.join(absent[:-1])} or {absent[-1]}"
        if cl.read_alone(ctx.facts):  # what the second reader alone did not find is not ruled out
            zh_but, en_but = cl.ALONE_NOT_FOUND
            parts.append(ctx.t(f"其余肺野未发现{'、'.join(absent)},{zh_but}。",
                               f"No {listed} was found in the remaining lung fields, {en_but}."))
        else:
            parts.append(ctx.t(f"其余肺野未见{'、'.join(absent)}。", f"The remaining lung fields show no {listed}."))
    for c, ids in unsettled.items():
        (name_zh, name_en), (why_zh, why_en) = _CHECKED_WORDS[c], cl.alike_why(c)
        parts.append(ctx.t(f"未见读为{name_zh}的病灶,但{'、'.join(ids)}可能是或遮挡了{name_zh}:{why_zh}。",
                           f"No finding was read as {name_en}, but {and_list(ids)} may be or may hide {name_en}: "
                           f"{why_en}."))
    for c in ctx.facts.anatomy.costophrenic:
        side = word("side", c.side, ctx.lang)
        state = cl.angle_word(c.state, ctx.facts, ctx.lang)
        parts.append(ctx.t(f"{side}肋膈角{state}。", f"The {side} costophrenic angle is {state}."))
    if blunted and "effusion" not in found_kinds:
        parts.append(ctx.t("肋膈角变钝可为少量积液或胸膜增厚。", "A blunted angle can be a small effusion or pleural thickening."))
    ratio = _ctr_sentence(ctx)
    if ratio:
        parts.append(ratio)
    if not parts:
        return None
    return section("normal", ctx.t("其余所见", "Elsewhere"), " ".join(parts) if not ctx.zh else "".join(parts))


_FOCAL = ("nodule", "mass", "calcified_nodule", "cavity")


def _summary(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any]:
    """A report's summary line: each finding (what, where, how big, the margin of a focal one as the answers state
    it), a blunted angle, the cardiothoracic ratio; observations for the reader, never a diagnosis."""
    items = []
    for a, f in pairs:
        place = pleural_space(f.side, ctx.lang) if f.kind == "effusion" else word("lobe", f.lobe, ctx.lang)
        kind, sure = word("kind", stated_kind(f), ctx.lang), confident(f, "presence")
        margin = (ctx.t(f",边缘{margin_phrase(f, 'zh')}", f", margin: {margin_phrase(f, 'en')}")
                  if f.kind in _FOCAL and f.margin else "")
        items.append(ctx.t(f"{a.id}:{place}{'' if sure else '可能为'}{kind},{size_phrase(f, 'zh')}{margin}",
                           f"{a.id}: {'' if sure else 'possibly '}{place} {kind}, {size_phrase(f, 'en')}{margin}"))
    parts = [(";" if ctx.zh else "; ").join(items) + ctx.t("。", ".") if items
             else ctx.t("未发现明确的肺内病灶。", "No focal lung lesion found.")]
    parts += [ctx.t(f"{word('side', side, 'zh')}肋膈角变钝。", f"{word('side', side, 'en').capitalize()} costophrenic "
                    "angle blunted.") for side in _blunted_sides(ctx)]
    parts += [r for r in (_ctr_sentence(ctx),) if r]
    head = ctx.t("供阅片者参考的小结(影像所见,非诊断):", "Summary for the reader (image observations, not a diagnosis): ")
    return section("summary", ctx.t("小结", "Summary"), head + ("" if ctx.zh else " ").join(parts))


_NOT_READ_FOR_NORMAL = ("Hilum不读骨骼、胸壁、管线与装置、膈下和淋巴结,片子是否正常须由放射科医师判读。",
                        "Hilum does not read the bones, the chest wall, tubes and devices, below the diaphragm or the "
                        "lymph nodes; whether a film is normal is a radiologist's reading.")


def _normal_asked(ctx: Context, lesions: int) -> dict[str, Any]:
    """The answer to "is this film normal?": not normal when it shows something Hilum reads as abnormal (a lesion, a
    blunted angle, a cardiothoracic ratio above the limit), said with what; else nothing abnormal among what it reads,
    which is no statement that the film is normal (what it does not read is named)."""
    blunted = _blunted_sides(ctx)
    heart = cl.read_sign("cardiomegaly", ctx.facts, None, ctx.registry) if (
        {"heart", "cardiac_silhouette"} & set(ctx.facts.checked)) else None
    alone = cl.read_alone(ctx.facts)
    # a finding of a film read alone is never confident (second_reader.ALONE_PRESENCE_MAX); an angle has no probability
    sure = any(confident(f, "presence") for f in ctx.facts.findings)
    seen: list[tuple[str, str, bool]] = []  # (zh, en, sure): a possible one is never the reason for a flat "no"
    if lesions:
        seen.append((f"{lesions}处{'候选病灶' if sure else '可能的病灶'}",
                     counted(lesions, "candidate region") if sure else
                     f"{lesions} regions that may be lesions" if lesions > 1 else "a region that may be a lesion", sure))
    for side in blunted:  # read from the second reader's lung field alone, an angle is possibly blunted
        seen.append((f"{word('side', side, 'zh')}肋膈角{cl.angle_word('blunted', ctx.facts, 'zh')}",
                     f"a {cl.angle_word('blunted', ctx.facts, 'en')} {word('side', side, 'en')} costophrenic angle",
                     not alone))
    if heart is not None and heart.status == "yes":
        seen.append((f"心胸比大于{cl.CTR_LIMIT:.2f}", f"a cardiothoracic ratio above {cl.CTR_LIMIT:.2f}", True))
    if seen:
        listed_zh = "、".join(zh for zh, _, _ in seen)
        ens = [en for _, en, _ in seen]
        listed_en = ens[0] if len(ens) == 1 else f"{', '.join(ens[:-1])} and {ens[-1]}"
        if any(sure for _, _, sure in seen):
            text = ctx.t(f"否:在Hilum所读的征象中,本片见{listed_zh},详见下文。",
                         f"No: among the signs Hilum reads, this film shows {listed_en} (below).")
        else:  # only possible findings (every finding of a film read alone is): "no" would state what none is sure of
            one = lesions + len(blunted) == 1
            text = ctx.t(f"可能不正常:在Hilum所读的征象中,本片见{listed_zh}(详见下文),{'' if one else '均'}不确定,需放射科医师核对。",
                         f"Possibly not: among the signs Hilum reads, this film shows {listed_en} (below), " + (
                             "not certain; it needs a radiologist's check." if one else
                             "none of them certain; each needs a radiologist's check."))
    else:
        unsure_zh, unsure_en = _heart_unsettled(ctx) if heart is not None and heart.status == "uncertain" else ("", "")
        text = ctx.t("在Hilum所读的征象中未见异常(见下)" + unsure_zh
                     + "。这不等于片子正常:小于约8 mm或淡薄的病灶可能漏读;" + _NOT_READ_FOR_NORMAL[0],
                     "Among the signs Hilum reads, nothing abnormal was found (below)" + unsure_en
                     + ". That does not make the film normal: lesions under about 8 mm or faint ones can be missed, and "
                     + _NOT_READ_FOR_NORMAL[1]) + (ctx.t(*ALONE_MISS_NOTE) if alone else "")
    return section("normal_asked", ctx.t("是否正常", "Normal?"), text)


def _heart_unsettled(ctx: Context) -> tuple[str, str]:
    """Why "is this film normal?" cannot settle the heart (zh, en clauses): the ratio as the answers state it against
    its limit (just above it, or above it on a film that is not PA), or that it could not be measured."""
    ctr = ctx.facts.anatomy.cardiothoracic_ratio
    if ctr is None:
        return ";本片未能测得心胸比", "; the cardiothoracic ratio could not be measured"
    zh_ref, en_ref = cl.film_ctr_reference(ctx.facts)
    return (f";心胸比约{ctr:.2f}({zh_ref}),心影是否增大本片不能判定",
            f"; the cardiothoracic ratio is about {ctr:.2f} ({en_ref}), so whether the heart is enlarged this film "
            "cannot settle")


def _ctr_sentence(ctx: Context) -> str:
    """The cardiothoracic ratio with what it is measured against, as the answer to "is the heart enlarged?" says it
    (``cl.read_sign``); "" where the film's heart was not read."""
    ctr = ctx.facts.anatomy.cardiothoracic_ratio
    if ctr is None or not ({"heart", "cardiac_silhouette"} & set(ctx.facts.checked)):
        return ""
    zh_ref, en_ref = cl.film_ctr_reference(ctx.facts)
    return ctx.t(f"心胸比约{ctr:.2f}({zh_ref})。", f"Cardiothoracic ratio about {ctr:.2f} ({en_ref}).")


def _blunted_sides(ctx: Context) -> list[str]:
    return [c.side for c in ctx.facts.anatomy.costophrenic if c.state == "blunted"]


def _report_frame(ctx: Context) -> str:
    kinds = {f.kind for f in ctx.facts.findings}
    if kinds & {"nodule", "mass", "calcified_nodule", "cavity"}:
        return "nodule_analysis"
    if kinds & {"strand"}:
        return "interstitial_change"
    if kinds & {"effusion"} or _blunted_sides(ctx):
        return "pleural_disease"
    if kinds & {"consolidation"}:
        return "airspace_disease"
    return "normal_film"


_FRAME_TITLES = MappingProxyType({
    "nodule_analysis": ("结节分析", "Nodule analysis"),
    "interstitial_change": ("间质改变", "Interstitial change"),
    "pleural_disease": ("胸膜病变", "Pleural disease"),
    "airspace_disease": ("气腔病变", "Airspace disease"),
    "normal_film": ("筛查", "Screening"),
})


def _scope_words(ctx: Context) -> str:
    q = ctx.query
    # "above the left hemidiaphragm": a sided landmark scopes the screening to its lung
    sides = landmark_sides(q)
    side = q.lesion_side or (sides[0] if len(sides) == 1 else None)  # "左肺尖": the left lung's apex, not any apex
    parts = [word("lobe", q.lobe, ctx.lang) if q.lobe
             else word("lung", side, ctx.lang) if side else word("lobe_level", q.lobe_level, ctx.lang)]
    parts += [word("zone", q.zone, ctx.lang), word("band", q.band, ctx.lang)]
    parts += [word("region", r.removesuffix("_right").removesuffix("_left"), ctx.lang) for r in q.anatomy
              if is_scoped(q) or not r.endswith(("_right", "_left"))]
    words = [p for p in parts if p]
    return ("" if ctx.zh else " ").join(words) or ctx.t("所问区域", "the region asked about")


# the kinds a screening question looks for (``Query.kinds``; "calcified+nodule" is one kind named with another)
_KIND_WORDS = MappingProxyType({
    "nodule": ("结节", "nodule"), "mass": ("肿块", "mass"), "strand": ("条索影", "strand-like opacity"),
    "consolidation": ("实变影", "consolidation"), "cavity": ("空洞", "cavity"), "calcified": ("钙化", "calcification"),
    "ground_glass": ("磨玻璃影", "ground-glass opacity"),
})


def kind_words(kinds: tuple[str, ...], lang: str) -> str:
    """"磨玻璃影或空洞" / "ground-glass opacity or cavity"; a kind named with another reads as one ("钙化结节")."""
    i = 0 if lang == "zh" else 1
    names = [("" if i == 0 else " ").join(_KIND_WORDS[k][i] if k in _KIND_WORDS else k for k in token.split("+"))
             for token in kinds]
    return ("或" if i == 0 else " or ").join(names)


def _located(q: Query) -> bool:
    """A screening question about a region of the film, or the lung of a sided landmark it names."""
    return is_scoped(q) or bool(landmark_sides(q))


def screen_scoped(q: Query) -> bool:
    """A screening question about part of the film: a region, a sided landmark, or kinds of lesion."""
    return _located(q) or bool(q.kinds)


# a "none seen" answer says what the reading can miss: it reports lesions from about 8 mm, and finds fewer than all of
# those (README, the encoder's recall), so "not seen" is never "not there"
MISS_NOTE = ("本系统报告约8 mm及以上的病灶,更小或更淡的病灶可能漏检。",
             " Hilum reports lesions from about 8 mm; a smaller or fainter one can be missed.")

# ... and on a film the second reader read alone, larger ones too (cl.ALONE_NOT_FOUND): as measured with plain nodules
# put into real films (``ALONE_REAL_INSERTED``'s larger ones)
_LO, _HI, _FOUND, _PUT = ALONE_REAL_INSERTED[-1]
ALONE_MISS_NOTE = (f"本片由第二读片模型单独读取,更大的病灶也可能漏掉:放入真实胸片的{_LO}–{_HI} mm 清晰结节,它只找到{_PUT}个中的"
                   f"{_FOUND}个。",
                   f" This film was read by the second reader alone, which can miss larger ones too: of plain {_LO}-{_HI} "
                   f"mm nodules put into real films it found {_FOUND} of {_PUT}.")


def _miss_note(ctx: Context) -> str:
    """What a "none seen" can hide (``MISS_NOTE``), and on a film read alone, that its reader misses more; asked behind
    the heart, how few lesions there were found."""
    note = ctx.t(*MISS_NOTE) + (ctx.t(*ALONE_MISS_NOTE) if cl.read_alone(ctx.facts) else "")
    if "retrocardiac" in ctx.query.anatomy:
        found, placed = (ALONE_HIDDEN_FOUND if cl.read_alone(ctx.facts) else HIDDEN_FOUND)["heart"]
        note += ctx.t(f"心影后方的病灶最容易漏掉:在模拟胸片上,放在心影后方的{placed}个病灶中只找到{found}个。",
                      f" Behind the heart lesions are missed most: on simulated films it found {found} of {placed} "
                      "placed there.")
    return note


def hidden_rates(found: Mapping[str, tuple[int, int]]) -> tuple[str, str]:
    """"放在心影后方的N个中F个、..." / "behind the heart F of N, behind the mediastinum F of N and behind a dome F of N",
    from ``HIDDEN_FOUND`` or ``ALONE_HIDDEN_FOUND`` (found, placed)."""
    names = {"heart": ("心影", "the heart"), "mediastinum": ("纵隔", "the mediastinum"), "diaphragm": ("膈顶", "a dome")}
    zh = "、".join(f"{names[k][0]}后方{n}个中{f}个" for k, (f, n) in found.items())
    parts = [f"behind {names[k][1]} {f} of {n}" for k, (f, n) in found.items()]
    return zh, ", ".join(parts[:-1]) + " and " + parts[-1]


# kinds the findings layer does not read: asked for, the answer says so instead of "none seen"
UNREAD_KINDS = frozenset({"ground_glass"})


def _regions_found(ctx: Context) -> str:
    """" The regions found on this film are: A1 (…), A2 (…)." (nothing when there are none)."""
    others = ctx.registry.findings()
    if not others:
        return ""
    listed = ("、" if ctx.zh else ", ").join(f"{a.id}({a.label_zh})" if ctx.zh else f"{a.id} ({a.label_en})" for a in others)
    return ctx.t(f"本片的病灶为:{listed}。", f" The regions found on this film are: {listed}.")


def _kind_body(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> str:
    """"any GGO?": the findings of the kinds looked for, or that none is seen, with what the film does show.
    A kind Hilum does not read (ground glass against solid) is never "not seen": the answer says it is not read."""
    what = kind_words(ctx.query.kinds, ctx.lang)
    scope = _scope_words(ctx) if _located(ctx.query) else ""
    if all(set(token.split("+")) & UNREAD_KINDS for token in ctx.query.kinds):
        return ctx.t(f"胸片上无法区分{what}与实性密度,本系统不作此判断(薄层CT可明确)。",
                     f"Hilum does not tell {what} from solid opacity on a radiograph (thin-section CT would settle it)."
                     ) + _regions_found(ctx)
    if pairs:
        lines = [finding_line(a, f, ctx.lang) for a, f in pairs]
        return ctx.t(f"{scope}见{len(pairs)}处{what}:", f"{what.capitalize()}{' in the ' + scope if scope else ''}: "
                     f"{counted(len(pairs), 'candidate region')}: ") + ("".join(lines) if ctx.zh else " ".join(lines))
    return ctx.t(f"{scope or '本片'}未见{what}。", f"No {what} is seen {'in the ' + scope if scope else 'on this film'}."
                 ) + _miss_note(ctx) + _regions_found(ctx)


def _scoped_body(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> str:
    if ctx.query.kinds:
        return _kind_body(ctx, pairs)
    scope = _scope_words(ctx)
    if pairs:
        lines = [finding_line(a, f, ctx.lang) for a, f in pairs]
        return ctx.t(f"{scope}见{len(pairs)}处候选病灶:", f"In the {scope}: {counted(len(pairs), 'candidate region')}: ") + (
            "".join(lines) if ctx.zh else " ".join(lines))
    return ctx.t(f"{scope}未见候选病灶。", f"No candidate region in the {scope}.") + _miss_note(ctx) + _regions_found(ctx)


def compose_screen(ctx: Context) -> Composition:
    pairs = subject_findings(ctx)
    frame = _report_frame(ctx)
    title = _FRAME_TITLES[frame][0 if ctx.zh else 1]
    scoped = screen_scoped(ctx.query) and ctx.turn > 1
    if scoped:
        body = _scoped_body(ctx, pairs)
    elif pairs:
        head = ctx.t(f"共发现{len(pairs)}处候选病灶:", f"{counted(len(pairs), 'candidate region')} found:")
        lines = [finding_line(a, f, ctx.lang) for a, f in pairs]
        body = head + ("" if ctx.zh else " ") + (" ".join(lines) if not ctx.zh else "".join(lines))
    else:
        body = ctx.t("未发现明确的肺内病灶。", "No focal lung lesion was found.")
    # "右中叶除了这个还有别的病灶吗": what is said is of the others; the one set aside is the one in focus, as
    # anchors.screen_subjects left it out (the registry here is the one the turn was resolved on)
    besides = finding_in_focus(ctx.registry.findings()) if ctx.query.besides_focus else None
    if besides is not None:
        body = ctx.t(f"除{besides.id}外:", f"Besides {besides.id}: ") + body
    if ctx.query.listed:  # "list them" / "列出来": the findings (id, kind, place, size), and what their mm rest on
        body = body if pairs or scoped else body + _miss_note(ctx)
        return Composition(tuple(s for s in (section("findings", title, body, frame=frame), spacing_note(ctx)) if s),
                           findings=tuple(finding_dict(f, a.id) for a, f in pairs),
                           referenced=tuple(a.id for a in ctx.subjects))
    sections = [section("findings", title, body, frame=frame)]
    objects = None if scoped else dense_objects_section(ctx)
    if objects is not None:
        sections.append(objects)
    if ctx.query.asks_normal and not scoped:  # "is this film normal?": answered first, then what it rests on
        sections.insert(0, _normal_asked(ctx, len(pairs)))
    if ctx.query.summary_asked and not scoped:  # "write a report": the summary line a report takes, then the rest
        sections.insert(0, _summary(ctx, pairs))
    if ctx.query.diagnosis:
        sections.insert(0, section("no_diagnosis", ctx.t("不做诊断", "No diagnosis"), ctx.t(
            "Hilum辅助阅片者,不做诊断:以下是本片的筛查所见,诊断须由医师结合临床作出。",
            "Hilum supports a reader and does not make a diagnosis: here is what the screening of this film "
            "shows; the diagnosis is a clinician's, made with the clinical picture.")))
    if ctx.anatomy:
        names = "、".join(f"{a.id}={a.label_zh}" for a in ctx.anatomy) if ctx.zh else ", ".join(
            f"{a.id} = {a.label_en}" for a in ctx.anatomy)
        sections.append(section("anatomy", ctx.t("解剖标志", "Landmarks"), ctx.t(f"解剖锚点:{names}。", f"Anatomy anchors: {names}.")))
    warnings = film_warnings(ctx)
    film_note = section("film_check", ctx.t("片子", "Film"), "".join(warnings) if ctx.zh else " ".join(warnings)) \
        if warnings else None
    # an earlier film uploaded with this one: the comparison, before the closing "not a diagnosis" line
    interval, rows = (interval_section(ctx.interval, ctx.registry, ctx.lang)
                      if ctx.interval is not None and not screen_scoped(ctx.query) else (None, ()))
    for extra in (_normal_statement(ctx), film_note, spacing_note(ctx), interval, disclaimer(ctx)):
        if extra:
            sections.append(extra)
    return Composition(tuple(sections), findings=tuple(finding_dict(f, a.id) for a, f in pairs), measurements=rows,
                       referenced=tuple(a.id for a in ctx.subjects + ctx.anatomy))


def dense_objects_section(ctx: Context) -> dict[str, Any] | None:
    """The regions the lesion map marked that were set aside as objects (``ImageFacts.objects``): how they look,
    where they lie and why they are not findings. Hilum does not identify devices, so it never says what they are."""
    objects = ctx.facts.objects
    if not objects:
        return None
    what, like = objects_phrase(objects, ctx.lang), objects_examples(objects, ctx.lang)
    placed = objects_in_place(objects, ctx.lang)  # not taken off for a repeat film: a lateral view settles it
    if ctx.zh:
        return section("dense_objects", "致密物体", (
            f"另见{what},其周围肺野无相应密度增高,形似体表、体外或置入的物品"
            f"(如{like}),未计为病灶。本系统不识别器械,请在片上核对;若其下确有病灶,去除体外物品后复拍"
            f"{f'({placed}可加拍侧位片)' if placed else ''}可明确。"))
    return section("dense_objects", "Dense objects", (
        f"Set aside, not counted as findings: {what} over lung of no "
        f"added density, the look of something on, outside or placed in the body ({like}). Hilum does "
        "not identify devices: check on the film; a film taken with external objects removed"
        f"{f', or a lateral view for {placed} in place,' if placed else ''} settles whether a lesion lies beneath."))


# --- one lesion ----------------------------------------------------------------------------------


def margin_backed(f: Finding) -> bool:
    """Whether the margin is stated flatly: an irregular reading the calibration backs, or a smooth one read by the
    lesion reader on the film's own pixels and backed (the lesion map cannot resolve 1-2 mm spicules). An ill-defined
    edge (a consolidation's, ``margins.ill_defined``) is a description of its outline, not a graded nodule sign: flat."""
    if ill_defined(f):
        return True
    if f.margin == "smooth":
        return f.margin_source == "reader" and confident(f, "margin")
    return confident(f, "margin")


def margin_phrase(f: Finding, lang: str) -> str:
    """The margin in a word or two, as ``margin_text`` states it ("smooth" only when backed; a consolidation's
    irregular edge "ill-defined", never spiculated or lobulated)."""
    m = word("margin", margin_code(f), lang)
    if margin_backed(f):
        return m
    if f.margin == "smooth":
        return "此分辨率下未见不规则" if lang == "zh" else "no irregularity seen at this resolution"
    return f"可能{m}" if lang == "zh" else f"possibly {m}"


def margin_text(a: Anchor, f: Finding, lang: str) -> str:
    zh = lang == "zh"
    if f.kind == "effusion":  # fluid has a meniscus, not a lesion's margin: no notches or spicules are read on it
        return (f"{a.id}为积液样密度影,其上缘是液体的弧形边界而非病灶边缘,不评估边缘、切迹和毛刺。" if zh else
                f"{a.id} is an effusion-like opacity: its upper border is the fluid's meniscus, not a lesion's margin, so "
                "no margin, notch or spicule is read on it.")
    if ill_defined(f):  # spiculation and lobulation are a nodule's or a mass's signs: none is stated or counted here
        kind = word("kind", f.kind, lang)
        return (f"{a.id}边缘模糊,轮廓不规则(符合{kind}的表现);分叶和毛刺是结节或肿块的征象,不用于描述{kind}。" if zh else
                f"{a.id}: the margin is ill-defined, an irregular outline as a {kind}'s is; lobulation and spicules are "
                f"signs of a nodule or mass and are not read on a {kind}.")
    m = word("margin", f.margin, lang)
    if f.margin == "smooth" and margin_backed(f):
        # read on the film's own pixels at 0.25 mm, where 1-2 mm spicules show (issue 22)
        return f"{a.id}在原片分辨率下边缘光滑。" if zh else f"{a.id}: the margin is smooth at the film's full resolution."
    if f.margin == "smooth":
        # a smooth read is never stated flatly otherwise: the lesion map is drawn at half the
        # working resolution and does not resolve 1 mm spicules (issue 20)
        return f"{a.id}在此分辨率下未见边缘不规则;薄层CT可明确。" if zh else (
            f"{a.id}: no irregularity seen at this resolution; thin-section CT would settle it.")
    if confident(f, "margin"):
        parts = [f"{a.id}边缘不规则,呈{m}" if zh else f"{a.id}: the margin is irregular ({m})"]
    else:
        parts = [f"{a.id}边缘是否不规则本片无法判断(图上读为{m})" if zh else
                 f"{a.id}: whether the margin is irregular cannot be judged on this film (the map reads it {m})"]
    notches, spicules = stated_notches(f), stated_spicules(f)  # one notch per clock position
    if notches:
        clocks = "、".join(f"{n.clock}点" for n in notches) if zh else ", ".join(f"{n.clock} o'clock" for n in notches)
        parts.append(f"见{len(notches)}处切迹,位于{clocks}方向" if zh else f"{len(notches)} notch{'es' if len(notches) > 1 else ''} at {clocks}")
    if spicules:
        lengths = [r1(s.length_mm) for s in spicules]
        lo, hi = mm(min(lengths)), mm(max(lengths))
        span = lo if lo == hi else f"{lo}–{hi}"  # one spicule, or all of one length: one number, not "5.9–5.9"
        parts.append(f"见{len(spicules)}条毛刺,长约{span} mm" if zh else
                     f"{len(spicules)} spicule{'s' if len(spicules) > 1 else ''}, {span} mm long")
    if not confident(f, "margin"):
        parts.append("薄层CT可明确" if zh else "thin-section CT would settle it")
    return ("," if zh else "; ").join(parts) + ("。" if zh else ".")


# what the density answer says of a lesion of ``calibration.CAVITY_UNEXCLUDED_MM`` or more read without a cavity (zh, en)
CAVITY_NOT_EXCLUDED = ("未见空洞(此分辨率下不能排除)", "no cavity seen (one cannot be excluded at this resolution)")


def density_text(a: Anchor, f: Finding, lang: str) -> str:
    d = f.density
    zh = lang == "zh"
    if f.kind == "effusion":  # a lesion's contents (calcification, cavity, lucency) are not read in fluid
        return (f"{a.id}为积液样均匀密度影;不评估钙化、空洞等病灶内部特征。" if zh else
                f"{a.id}: an effusion-like opacity of fluid density; a lesion's contents (calcification, cavity) are not "
                "read in it.")
    homo = ("密度均匀" if d.homogeneous else "密度不均匀") if zh else ("homogeneous" if d.homogeneous else "heterogeneous")
    calc = ("可见钙化" if d.calcified else "未见钙化") if zh else ("calcification present" if d.calcified else "no calcification")
    cav = ("可见空洞" if d.cavity else "未见空洞") if zh else ("a cavity" if d.cavity else "no cavity")
    bub = ("可见空泡样透亮影" if d.bubble_lucency else "未见空泡样透亮影") if zh else (
        "bubble-like lucency present" if d.bubble_lucency else "no bubble-like lucency")
    if not present_stated("bubble_lucency", d.bubble_lucency):
        (seen_zh, cannot_zh), (seen_en, cannot_en) = cl.LUCENCY_SEEN
        bub = f"{seen_zh}({cannot_zh})" if zh else f"{seen_en} ({cannot_en})"
    if not confident(f, "density"):
        homo = cannot_judge("密度是否均匀", "— its homogeneity", lang)
    if not confident(f, "calcification"):
        calc = cannot_judge("钙化", "calcification", lang)
    if cavity_unexcluded(f):  # a "no" on a lesion large enough to hold a cavity is no exclusion (calibration.py)
        cav = CAVITY_NOT_EXCLUDED[0] if zh else CAVITY_NOT_EXCLUDED[1]
    elif not confident(f, "cavity"):
        cav = cannot_judge("空洞", "a cavity", lang)
    ab = {"yes": ("可见空气支气管征", "air bronchogram present"), "no": ("未见空气支气管征", "no air bronchogram"),
          "uncertain": ("空气支气管征本片无法判断", "air bronchogram cannot be judged on this film")}[d.air_bronchogram]
    if zh:
        return f"{a.id}内部{homo},{calc},{cav},{bub};{ab[0]}。"
    return f"{a.id}: internal density {homo}; {calc}, {cav}, {bub}; {ab[1]}."


def shape_section(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> list[dict[str, Any]]:
    """"Is it round?": the finding's shape with its size (the axes say how round), first; none unless asked."""
    if not ctx.query.shape_asked:
        return []
    lines = []
    for a, f in pairs:
        shape = word("shape", f.shape, ctx.lang)
        lines.append(ctx.t(f"{a.id}呈{shape},{size_phrase(f, 'zh')}。", f"{a.id} is {shape}, {size_phrase(f, 'en')}."))
    return [section("shape", ctx.t("形态", "Shape"), ("" if ctx.zh else " ").join(lines))]


def compose_margin(ctx: Context) -> Composition:
    if ctx.query.what_is_it and not ctx.query.full:  # "what is it?": what it looks like, whole, after the lead
        comp = compose_margin(dataclasses.replace(ctx, query=dataclasses.replace(ctx.query, full=True)))
        ids = [a.id for a, _ in subject_findings(ctx)]
        lead = section("not_named", ctx.t("不做诊断", "Not named"), ctx.t(
            f"Hilum不判断{'、'.join(ids)}是什么病变(不做诊断);下面是它在片上的描述:类型、位置、大小、边缘和密度。",
            f"Hilum does not say what {and_list(ids)} is (it gives no diagnosis); here is how it looks on the film: its "
            "type, place, size, margin and density."))
        return dataclasses.replace(comp, sections=(lead, *comp.sections))
    pairs = subject_findings(ctx)
    sections = shape_section(ctx, pairs)
    sections.append(section("margin", ctx.t("边缘", "Margin"), "".join(margin_text(a, f, ctx.lang) for a, f in pairs)
                            if ctx.zh else " ".join(margin_text(a, f, ctx.lang) for a, f in pairs)))
    sections.append(section("density", ctx.t("内部密度", "Internal density"),
                            ("" if ctx.zh else " ").join(density_text(a, f, ctx.lang) for a, f in pairs)))
    if not ctx.query.full:
        return _one_lesion(ctx, pairs, sections)
    # "describe the nodule" / "描述一下这个结节": where it is and how big, then its margin and density
    where, size = compose_locate(ctx), compose_size(ctx)
    lead = [s for s in (*where.sections, *size.sections) if s["kind"] in ("location", "size")]
    return _one_lesion(ctx, pairs, lead + sections, size.measurements)


def compose_density(ctx: Context) -> Composition:
    pairs = subject_findings(ctx)
    text = ("" if ctx.zh else " ").join(density_text(a, f, ctx.lang) for a, f in pairs)
    if ctx.query.ct_measure == "hu":  # "its density in HU?": a radiograph has none
        text = ctx.t("胸片没有CT值(HU只在CT上测量);片上所见的密度:", "A radiograph has no Hounsfield units (they are "
                     "measured on CT); what the film shows of its density: ") + text
    if any(f.kind in ("nodule", "mass", "calcified_nodule") for _, f in pairs):
        # "is it solid?" / "实性还是磨玻璃?": what a radiologist means by a nodule's density, which a film cannot tell
        text += ctx.t("结节为实性还是磨玻璃(亚实性)在X线片上无法区分,薄层CT可明确。",
                      " Whether a nodule is solid or ground-glass (subsolid) is not told on a radiograph; thin-section "
                      "CT would tell.")
    return _one_lesion(ctx, pairs, [section("density", ctx.t("内部密度", "Internal density"), text)])


def _diameter_measurement(a: Anchor, f: Finding, ctx: Context) -> dict[str, Any]:
    """The finding's diameters, with its one size as the text states it (``size_mm``: the diameter, or the longest and
    shortest axes of a strand, consolidation or effusion), which the page's table shows."""
    size = finding_size(f)
    return {"kind": "diameter", "of": a.id, "mm": r1(f.diameter_mm), "longest_mm": r1(f.longest_mm),
            "shortest_mm": r1(f.shortest_mm), "size_kind": size.kind, "size_mm": list(size.mm),
            "spacing_source": ctx.facts.spacing.source}


def compose_size(ctx: Context) -> Composition:
    pairs = subject_findings(ctx)
    lines, verdicts = [], []
    for a, f in pairs:
        if f.kind == "effusion":  # fluid: its extent on the film and how high it reaches, no lesion's diameter or area
            lines.append(ctx.t(f"{a.id}{size_phrase(f, 'zh')}(在片上的范围)。",
                               f"{a.id}: {size_phrase(f, 'en')} (its extent on the film)."))
            zh, en = effusion_extent_text(f, ctx.facts)
            if zh:  # "how big is the effusion?": how high it reaches, and what a frontal film can grade of it
                lines.append(ctx.t(f"{a.id}{zh};{EXTENT_CAVEAT[0]}。", f"{a.id} reaches {en}; {EXTENT_CAVEAT[1]}."))
        elif finding_size(f).kind == "axes":  # a strand or consolidation: its two axes lead, as everywhere else
            lines.append(ctx.t(
                f"{a.id}{size_phrase(f, 'zh')}(最长径×最短径),等效直径{mm(r1(f.diameter_mm))} mm,面积约{mm(r1(f.area_mm2))} mm²。",
                f"{a.id}: {size_phrase(f, 'en')} (longest × shortest); equivalent diameter {mm(r1(f.diameter_mm))} mm; "
                f"area about {mm(r1(f.area_mm2))} mm²."))
        elif ctx.zh:
            lines.append(f"{a.id}等效直径{mm(r1(f.diameter_mm))} mm(约{cm(r1(f.diameter_mm))} cm),"
                         f"最长径{mm(r1(f.longest_mm))} mm,最短径{mm(r1(f.shortest_mm))} mm,面积约{mm(r1(f.area_mm2))} mm²。")
        else:
            lines.append(f"{a.id}: equivalent diameter {mm(r1(f.diameter_mm))} mm (about {cm(r1(f.diameter_mm))} cm); "
                         f"longest {mm(r1(f.longest_mm))} mm, shortest {mm(r1(f.shortest_mm))} mm; area about {mm(r1(f.area_mm2))} mm².")
        if not confident(f, "size"):
            lines.append(f"{a.id}的准确大小本片无法判断,以上数值仅供参考。" if ctx.zh else
                         f"{a.id}'s exact size cannot be judged on this film; the figures are approximate.")
        if ctx.query.size_op and ctx.query.size_mm:
            verdicts.append(threshold_line(ctx, a, f, ctx.query.size_op, ctx.query.size_mm, ctx.query.size_to_mm))
    if ctx.query.ct_measure == "volume":  # "what's its volume?": a projection has none
        lines.insert(0, ctx.t("胸片是单一投影,无法测量体积(CT可测量结节体积);片上的径线如下:",
                              "A radiograph is a single projection and gives no volume (CT measures a nodule's volume); "
                              "its sizes on the film:"))
    if len(verdicts) > 1:  # "are both bigger than 1 cm?": each yes or no names its finding
        verdicts = [ctx.t(f"{a.id}:", f"{a.id}: ") + v for (a, _), v in zip(pairs, verdicts, strict=True)]
    lines = verdicts + lines  # "is it bigger than 3 cm?": yes or no first, then the sizes it rests on
    sections = [section("size", ctx.t("大小", "Size"), ("" if ctx.zh else " ").join(lines))]
    meas = tuple(_diameter_measurement(a, f, ctx) for a, f in pairs) + effusion_heights(pairs, ctx.facts)
    return _one_lesion(ctx, pairs, sections, meas)


SIZE_MARGIN = 0.1  # within 10% of the threshold the film cannot settle which side of it the lesion is


def threshold_line(ctx: Context, a: Anchor, f: Finding, op: str, limit_mm: float, upper_mm: float | None = None) -> str:
    """"bigger than 1 cm?" / "between 8 and 15 mm?" (``op`` "between", ``upper_mm`` the upper bound): the longest
    diameter against the threshold, or both bounds; near one, or with a size the calibration cannot back, the film
    cannot settle it."""
    longest = r1(f.longest_mm)
    bounds = (limit_mm, upper_mm) if op == "between" and upper_mm is not None else (limit_mm,)
    # a size the calibration cannot back still decides a threshold it is far from (as the checklists' size items do):
    # 9.7 mm against 3 cm had been "within measurement error of 30.0 mm"
    if not confident(f, "size") and any(abs(longest - b) <= cl.SIZE_SLACK * b for b in bounds):
        zh_q, en_q = _threshold_words(op, limit_mm, upper_mm)
        return ctx.t(f"最长径约{mm(longest)} mm,本片测量不够可靠,无法判断是否{zh_q}。",
                     f"Its longest diameter, about {mm(longest)} mm, is not measured reliably enough on this film to "
                     f"settle whether it is {en_q}.")
    return against_line(ctx, op, limit_mm, longest, ("最长径", "its longest diameter"), upper_mm=upper_mm)


def _threshold_words(op: str, limit_mm: float, upper_mm: float | None) -> tuple[str, str]:
    """What a threshold asks, (zh, en): "超过15.0 mm" / "over 15.0 mm"; "在8.0–15.0 mm之间" / "between 8.0 and 15.0 mm"."""
    if op == "between" and upper_mm is not None:
        return f"在{mm(limit_mm)}–{mm(upper_mm)} mm之间", f"between {mm(limit_mm)} and {mm(upper_mm)} mm"
    return f"{'超过' if op == 'gt' else '小于'}{mm(limit_mm)} mm", f"{'over' if op == 'gt' else 'under'} {mm(limit_mm)} mm"


def within_error(value: float, limit_mm: float) -> bool:
    """Whether a value lies within ``SIZE_MARGIN`` of a bound: the film cannot settle which side of it the value is."""
    return abs(value - limit_mm) <= SIZE_MARGIN * limit_mm


def against_line(ctx: Context, op: str, limit_mm: float, value: float, said: tuple[str, ...],
                 upper_mm: float | None = None) -> str:
    """The yes or no of a value against a threshold, with what was measured (``said``: zh, en, the value's words
    before it, "its centre"; and after it, in English, " from the right hilum"): "Yes: its centre is 63.6 mm from the
    left hilum, more than 20.0 mm." Within ``SIZE_MARGIN`` of the threshold the film cannot settle it, and says so.
    ``op``: gt | lt | between (``limit_mm`` the lower bound, ``upper_mm`` the upper: each bound is a threshold, and
    within ``SIZE_MARGIN`` of either the film cannot settle it)."""
    zh, en, *rest = said
    after = "".join(rest)
    bounds = (limit_mm, upper_mm) if op == "between" and upper_mm is not None else (limit_mm,)
    near = next((b for b in bounds if within_error(value, b)), None)
    if near is not None:
        zh_q, en_q = _threshold_words(op, limit_mm, upper_mm)
        if len(bounds) == 1:
            zh_q, en_q = ("超过" if op == "gt" else "小于"), ("over" if op == "gt" else "under")
        return ctx.t(f"{zh}{mm(value)} mm与{mm(near)} mm相差在测量误差内,本片无法判断是否{zh_q}{'该值' if len(bounds) == 1 else ''}。",
                     f"{en[:1].upper()}{en[1:]}, {mm(value)} mm{after}, is within measurement error of {mm(near)} mm, so "
                     f"this film cannot settle whether it is {en_q}{' it' if len(bounds) == 1 else ''}.")
    if len(bounds) == 2:  # "between 8 and 15 mm?": inside the range, or past which bound
        lo, hi = bounds
        if lo < value < hi:
            return ctx.t(f"是:{zh}{mm(value)} mm,在{mm(lo)}–{mm(hi)} mm之间。",
                         f"Yes: {en} is {mm(value)} mm{after}, between {mm(lo)} and {mm(hi)} mm.")
        above = value >= hi
        bound = hi if above else lo
        return ctx.t(f"否:{zh}{mm(value)} mm,{'大于' if above else '小于'}{mm(bound)} mm,不在{mm(lo)}–{mm(hi)} mm之间。",
                     f"No: {en} is {mm(value)} mm{after}, {'more' if above else 'less'} than {mm(bound)} mm, so not "
                     f"between {mm(lo)} and {mm(hi)} mm.")
    limit = f"{mm(limit_mm)} mm"
    above = value > limit_mm
    yes = above if op == "gt" else not above
    return ctx.t(f"{'是' if yes else '否'}:{zh}{mm(value)} mm,{'大于' if above else '小于'}{limit}。",
                 f"{'Yes' if yes else 'No'}: {en} is {mm(value)} mm{after}, {'more' if above else 'less'} than {limit}.")


def _alone_estimate(claim_zh: str, claim_en: str) -> tuple[str, str]:
    """On a film the second reader read alone, a place it gives (a hilum, an anatomy anchor) is its estimate: "read by
    the second reader alone: <claim>, needs a radiologist's check", said with each answer that rests on one."""
    return (f"本片由第二读片模型单独读取,{claim_zh},需放射科医师核对。",
            f"This film was read by the second reader alone: {claim_en} and needs a radiologist's check.")


# an anatomy anchor's position on a film the second reader read alone, said where one is given ("where is the heart?";
# its hila are never given: ``hila_levels.HILA_READ_ALONE``)
_ALONE_POSITION = _alone_estimate("以上位置为其估计", "the position is its estimate")
# ... and the two positions a distance between anatomy anchors is measured from
_ALONE_POSITIONS = _alone_estimate("以上位置为其估计", "each position is its estimate")
# the hila compared or measured apart where this film's maps placed one or none
_HILA_UNPLACED = ("本片未能同时确定两侧肺门。", "Both hila could not be placed on this film.")
# ... because the two it found lay further apart in height than a chest's do (``orchestrator.findings.hila_levels``)
_HILA_SET_ASIDE = ("本片找到的两侧肺门高度相差超出胸片所见的范围,无法判断哪一侧有误,因此不给出肺门位置。",
                   "The two hila found on this film lie further apart in height than a chest's do, and which one is "
                   "wrong cannot be told, so no hilum is placed.")


# ... because the film was read by the second reader alone, whose hilum points are never given
_HILA_READ_ALONE = ("本片由第二读片模型单独读取,它在与训练片差异较大的片子上所定的肺门位置经核查有误,因此不给出肺门位置。",
                    "This film was read by the second reader alone, whose hilum points were found misplaced on films "
                    "unlike its training films, so no hilum is placed.")


def _hila_unplaced(ctx: Context) -> str:
    """Why no hilum is given: the film read alone, the pair set aside, else none placed."""
    warnings = ctx.facts.film_check.warnings
    return ctx.t(*(_HILA_READ_ALONE if HILA_READ_ALONE in warnings else _HILA_SET_ASIDE if HILA_UNPLACED in warnings
                   else _HILA_UNPLACED))


# the trachea: Hilum's maps outline it (``AnatomyFacts.regions`` "trachea"), and it judges nothing of it (zh, en)
TRACHEA_NOT_JUDGED = ("本系统在解剖图上勾画气管轮廓,但不判断气管是否移位或狭窄(片子旋转也会使其偏离中线),需放射科医师阅片。",
                      "Hilum outlines the trachea on its anatomy maps but does not judge whether it is deviated or "
                      "narrowed (a rotated film shifts it too); a radiologist's reading would.")
# a structure's centre within this of the midline is said to lie at it
MIDLINE_MM = 10.0


def _midline_x(ctx: Context) -> tuple[float, tuple[str, str]] | None:
    """The film's midline (x, in working pixels) and what it is taken from, (zh, en): the centroid of the spine on
    Hilum's maps (the line the findings layer tells sides by, ``geometry._midline``), else the middle between the two
    lung fields, else between the two hila; None where the film gives none. Not the middle of the spine's bounding box:
    on the real checking films the alone reader's spine map spreads over 8-16 cm (on the estimated spacing), its box's
    middle up to 4.3 cm from its centroid, and the trachea was "3.5 cm to the patient's right of the spine" on a child's
    film whose trachea lies over the spine (now 3.6 mm: the two centroids lie within 6 mm of each other on all eight)."""
    an = ctx.facts.anatomy
    spine = an.region("spine")
    if spine is not None:
        return spine.center_px[0], ("脊柱中线", "the spine's centre line")
    lungs = [an.region("lung_right"), an.region("lung_left")]
    if all(r is not None for r in lungs):
        return ((lungs[0].bbox_px[0] + lungs[1].bbox_px[2]) / 2.0,  # type: ignore[union-attr]
                ("两肺野之间的中线", "the middle between the two lung fields"))
    hila = an.hilum_px
    if "right" in hila and "left" in hila:
        return (hila["right"][0] + hila["left"][0]) / 2.0, ("两侧肺门之间的中线", "the middle between the two hila")
    return None


def _lung_height(ctx: Context) -> tuple[float, float] | None:
    """The lung fields' top and bottom (y, in working pixels): the apices and the domes, else the lung outlines."""
    an = ctx.facts.anatomy
    lungs = [r for r in (an.region("lung_right"), an.region("lung_left")) if r is not None]
    top = min([p[1] for p in an.apex_px.values()] + [r.bbox_px[1] for r in lungs], default=None)
    bottom = max([p[1] for p in an.diaphragm_dome_px.values()] + [r.bbox_px[3] for r in lungs], default=None)
    return (top, bottom) if top is not None and bottom is not None and bottom > top else None


def placed_in_words(ctx: Context, point: tuple[float, float]) -> tuple[str, str] | None:
    """Where a point lies on the film, in words (zh, en): how far to the patient's right or left of the midline, and in
    which third of the lung fields' height; never its pixel coordinates. None where the film gives neither."""
    parts_zh: list[str] = []
    parts_en: list[str] = []
    mid = _midline_x(ctx)
    if mid is not None:
        x, (mid_zh, mid_en) = mid
        off = (point[0] - x) * ctx.facts.spacing.col_mm  # > 0: the image's right, the patient's left
        if abs(off) < MIDLINE_MM:
            parts_zh.append(f"中线附近(距{mid_zh}约{mm(r1(abs(off)))} mm)")
            parts_en.append(f"at about the midline ({mm(r1(abs(off)))} mm from {mid_en})")
        else:
            side = "left" if off > 0 else "right"
            parts_zh.append(f"{mid_zh}{word('side', side, 'zh')}侧约{cm(abs(off))} cm")
            parts_en.append(f"about {cm(abs(off))} cm to the patient's {side} of {mid_en}")
    height = _lung_height(ctx)
    if height is not None:
        top, bottom = height
        share = (point[1] - top) / (bottom - top)
        third = ("above" if share < 0 else "upper" if share < 1 / 3 else "middle" if share < 2 / 3 else "lower"
                 if share <= 1 else "below")
        zh = {"above": "肺尖以上", "upper": "肺野高度的上1/3", "middle": "肺野高度的中1/3", "lower": "肺野高度的下1/3",
              "below": "膈顶以下"}[third]
        en = {"above": "above the lung apices", "upper": "in the upper third of the lung fields' height",
              "middle": "in the middle third of the lung fields' height",
              "lower": "in the lower third of the lung fields' height", "below": "below the domes of the diaphragm"}[third]
        parts_zh.append(zh)
        parts_en.append(en)
    if not parts_en:
        return None
    return "、".join(parts_zh), ", ".join(parts_en)


def _anatomy_locations(ctx: Context) -> Composition:
    """"Where is the right hilum?" / "where is the trachea?": where each anatomy anchor lies, in words (never bare pixel
    coordinates: they tell a reader nothing), drawn on the film; what Hilum does not judge of the trachea."""
    lines = []
    for a in ctx.anatomy:
        placed = placed_in_words(ctx, a.center_px)
        outlined = len(a.polygon_px) >= 3
        what = ctx.t("轮廓已标在片上" if outlined else "已标在片上", "outlined on the film" if outlined
                     else "marked on the film")
        if placed is None:
            lines.append(ctx.t(f"{a.id}({a.label_zh}){what}。", f"{a.id} ({a.label_en}) is {what}."))
            continue
        lines.append(ctx.t(f"{a.id}({a.label_zh},{what})位于{placed[0]}。",
                           f"{a.id} ({a.label_en}, {what}) lies {placed[1]}."))
        if a.name == "trachea":
            lines.append(ctx.t(*TRACHEA_NOT_JUDGED))
    if cl.read_alone(ctx.facts):  # a bare position reads as measured: say whose estimate it is, as the screening does
        lines.append(ctx.t(*_ALONE_POSITION))
    return Composition((section("location", ctx.t("位置", "Location"), ("" if ctx.zh else " ").join(lines)),),
                       referenced=tuple(a.id for a in ctx.anatomy))


# where on the lung field's border a finding's pleural distance is measured to (``Finding.pleura_part``), (zh, en): a
# finding "touching the pleura" at the field's inner border abuts the mediastinum, which a reader reads otherwise
_PLEURA_PARTS: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "chest_wall": ("胸壁侧", "along the chest wall"),
    "mediastinum": ("肺野内侧缘的纵隔胸膜", "at the lung field's inner border (the mediastinal pleura)"),
    "diaphragm": ("肺底的膈胸膜", "at the lung field's floor (the diaphragmatic pleura)"),
})


def pleura_where(f: Finding, lang: str, default_too: bool = True) -> str:
    """Where the pleura nearest the finding lies, as a phrase to follow "the pleura" ("" where unknown, or along the
    chest wall when ``default_too`` is False: what "the pleura" means unsaid)."""
    part = f.pleura_part
    if part is None or (part == "chest_wall" and not default_too):
        return ""
    zh, en = _PLEURA_PARTS[part]
    return f"({zh})" if lang == "zh" else f" {en}"


def _boundary_relation(ctx: Context, a: Anchor, f: Finding, target: str) -> Composition:
    d = r1(f.distance_to_diaphragm_mm if target == "diaphragm" else f.distance_to_pleura_mm)
    zh_name, en_name = LANDMARK_NAMES[target]
    where = pleura_where(f, ctx.lang) if target == "pleura" else ""
    # (under a millimetre it touches it, as the location answer says: "about 0.0 mm from the diaphragm" read as a gap)
    text = (ctx.t(f"{a.id}边缘紧贴{zh_name}{where}。", f"{a.id}'s edge touches the {en_name}{where}.") if d < 1.0 else
            ctx.t(f"{a.id}边缘距{zh_name}{where}约{mm(d)} mm。", f"{a.id}'s edge is about {mm(d)} mm from the {en_name}{where}."))
    if ctx.query.distance_op and ctx.query.distance_mm:  # "is it within 1 cm of the pleura?": yes or no first
        text = against_line(ctx, ctx.query.distance_op, ctx.query.distance_mm, d,
                            (f"边缘距{zh_name}", "its edge", f" from the {en_name}")) + ("" if ctx.zh else " ") + text
    if target == "pleura":
        text += ctx.t("与胸膜接触。" if f.pleural_contact else "未与胸膜接触。",
                      " It touches the pleura." if f.pleural_contact else " It does not touch the pleura.")
    # the line the distance is measured along, where the facts carry its ends (drawn as the hilum's and heart's are)
    ends = f.diaphragm_px if target == "diaphragm" else f.pleura_px
    line = {"from_px": [r1(ends[0][0]), r1(ends[0][1])], "to_px": [r1(ends[1][0]), r1(ends[1][1])]} if ends else {}
    meas = ({"kind": "distance", "from": a.id, "to": target, "mm": d, "spacing_source": ctx.facts.spacing.source,
             **line},)
    sections = [section("relation", ctx.t(f"与{zh_name}的关系", f"Relation to the {en_name}"), text)]
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), findings=(finding_dict(f, a.id),), measurements=meas, referenced=(a.id,))


# structures a lesion's distance can be measured to from their outlines (the findings layer's maps): name -> (zh, en)
_STRUCTURES_MEASURED: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "heart": ("心影", "heart border"), "trachea": ("气管", "trachea"), "mediastinum": ("纵隔", "mediastinal border"),
    "spine": ("脊柱", "spine")})  # (the spine named outside the vocabulary: ``Query.landmark_asked``)
# landmarks named for a distance that Hilum does not measure to (``Query.landmark_asked``): name -> (zh, en)
_NOT_MEASURED_TO: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "aorta": ("主动脉", "aorta"), "clavicle": ("锁骨", "clavicle"), "rib": ("肋骨", "ribs"), "sternum": ("胸骨", "sternum"),
    "oesophagus": ("食管", "oesophagus")})
# every landmark a lesion's edge is measured to: the boundaries (the finding's own distances) and the structures
LANDMARK_NAMES: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {"pleura": ("胸膜", "pleura"), "diaphragm": ("膈面", "diaphragm"), **_STRUCTURES_MEASURED})


def _landmark_relation(ctx: Context, a: Anchor, f: Finding, name: str) -> Composition:
    """A lesion's edge to one landmark of ``LANDMARK_NAMES``."""
    if name in _STRUCTURES_MEASURED:
        return _structure_relation(ctx, a, f, name)
    return _boundary_relation(ctx, a, f, name)


def _structure_relation(ctx: Context, a: Anchor, f: Finding, name: str) -> Composition:
    """"How far is it from the heart?": the gap between the lesion's outline and the structure's, or that they overlap
    in projection; when the film gives no outline of it, that is said (never another landmark's distance instead)."""
    region = next((r for r in ctx.facts.anatomy.regions if r.name == name and len(r.polygon_px) >= 3), None)
    zh_name, en_name = _STRUCTURES_MEASURED[name]
    if region is None or len(f.polygon_px) < 3:
        text = ctx.t(f"本片未能勾画出{zh_name}的轮廓,{a.id}与它的距离无法测量;可测量其与肺门、胸膜或膈面的距离。",
                     f"No outline of the {en_name} was found on this film, so {a.id}'s distance to it cannot be measured; "
                     "its distance to the hilum, the pleura or the diaphragm can.")
        return Composition((section("relation", ctx.t(f"与{zh_name}的关系", f"Relation to the {en_name}"), text),),
                           findings=(finding_dict(f, a.id),), referenced=(a.id,))
    gap, p, q = outline_gap_mm(f.polygon_px, region.polygon_px, ctx.facts.image_size, ctx.facts.spacing)
    outline = next((s for s in ctx.anatomy if s.name == name), None) or ctx.registry.for_name(name)
    to = outline.id if outline is not None else name
    if gap > 0:
        text = ctx.t(f"{a.id}边缘距{zh_name}边缘约{mm(r1(gap))} mm。", f"{a.id}'s edge is about {mm(r1(gap))} mm from the {en_name}.")
    else:
        text = ctx.t(f"正位片上{a.id}与{zh_name}重叠投影或相接,前后关系本片无法判断(侧位片可明确)。",
                     f"On this frontal film {a.id} touches or overlaps the {en_name} in projection; which lies in front "
                     "cannot be told from it (a lateral view would show it).")
    if ctx.query.distance_op and ctx.query.distance_mm:  # "is it more than 2 cm from the heart?": yes or no first
        text = against_line(ctx, ctx.query.distance_op, ctx.query.distance_mm, r1(max(gap, 0.0)),
                            (f"边缘距{zh_name}边缘", "its edge", f" from the {en_name}")) + ("" if ctx.zh else " ") + text
    meas = ({"kind": "distance", "from": a.id, "to": to, "mm": r1(gap), "spacing_source": ctx.facts.spacing.source,
             "from_px": [r1(p[0]), r1(p[1])], "to_px": [r1(q[0]), r1(q[1])]},)
    sections = [section("relation", ctx.t(f"与{zh_name}的关系", f"Relation to the {en_name}"), text)]
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), findings=(finding_dict(f, a.id),), measurements=meas,
                       referenced=(a.id, to) if outline is not None else (a.id,))


def compose_locate(ctx: Context) -> Composition:
    if ctx.query.normal_structure and not ctx.query.full:  # "is A2 the heart?": what it is and where, after the lead
        comp = compose_locate(dataclasses.replace(ctx, query=dataclasses.replace(ctx.query, full=True)))
        pairs = subject_findings(ctx)
        if not pairs:
            return comp
        return dataclasses.replace(comp, sections=(_structure_or_lesion(ctx, pairs), *comp.sections))
    pairs = subject_findings(ctx)
    if ctx.query.fissure and len(pairs) == 1:  # "is A1 on the fissure?"
        return _fissure_relation(ctx, *pairs[0])
    if not pairs and ctx.anatomy:
        return _anatomy_locations(ctx)
    if not pairs and ctx.query.anatomy:  # "where is the trachea?" where this film's maps place none: it said nothing
        names = ("、" if ctx.zh else ", ").join(dict.fromkeys(word("anatomy", n, ctx.lang) for n in ctx.query.anatomy))
        text = ctx.t(f"本片未能确定{names}的位置。", f"No position for the {names} was established on this film.")
        warnings = ctx.facts.film_check.warnings
        if (HILA_UNPLACED in warnings or HILA_READ_ALONE in warnings) and any(n.startswith("hilum") for n in ctx.query.anatomy):
            text += ("" if ctx.zh else " ") + _hila_unplaced(ctx)
        return Composition((section("location", ctx.t("位置", "Location"), text),))
    lines = []
    for a, f in pairs:
        side = word("lung", f.side, ctx.lang)
        if ctx.query.full:  # "what is A2?": what it is, as the screening listed it, before where it lies
            lines.append(finding_line(a, f, ctx.lang))
        # under a millimetre from a boundary it touches it ("0.0 mm above the diaphragm" read as a measurement)
        pleura, dome = r1(f.distance_to_pleura_mm), r1(f.distance_to_diaphragm_mm)
        if f.kind == "effusion":  # fluid lies in the pleural space, never in a lobe (as its label and the SR say)
            lines.append(ctx.t(f"{a.id}位于{pleural_space(f.side, 'zh')},{word('zone', f.zone, 'zh')}。",
                               f"{a.id} lies in the {pleural_space(f.side, 'en')}, {word('zone', f.zone, 'en')}."))
            continue
        if ctx.zh:
            where = pleura_where(f, "zh", default_too=False)
            to_pleura = f"紧贴胸膜{where}" if pleura < 1.0 else f"距胸膜{where}约{mm(pleura)} mm"
            to_dome = "紧贴膈面" if dome < 1.0 else f"距膈面约{mm(dome)} mm"
            lines.append(f"{a.id}位于{side},{word('lobe', f.lobe, 'zh')}区域,{word('zone', f.zone, 'zh')}、{word('band', f.band, 'zh')};"
                         f"{to_pleura},{to_dome}。")
        else:
            where = pleura_where(f, "en", default_too=False)
            to_pleura = f"touching the pleura{where}" if pleura < 1.0 else f"about {mm(pleura)} mm from the pleura{where}"
            to_dome = "touching the diaphragm" if dome < 1.0 else f"{mm(dome)} mm above the diaphragm"
            lines.append(f"{a.id} lies in the {side}, {word('lobe', f.lobe, 'en')} territory, {word('zone', f.zone, 'en')}, "
                         f"{word('band', f.band, 'en')}; {to_pleura} and {to_dome}.")
        lines.append(lobe_overlap_note(f, ctx.lang) or lobe_confidence_note(f, ctx.lang))
        lines.append(overlie_note(f.overlies, ctx.lang))
    sections = [*shape_section(ctx, pairs),
                section("location", ctx.t("位置", "Location"), ("" if ctx.zh else " ").join(filter(None, lines)))]
    # a segment named ("is A3 in the lingula?"): never a yes from its lobe or zone (``segments``)
    confirmed = segment_section(ctx, pairs) if ctx.query.segment else _place_confirmed(ctx, pairs)
    return _one_lesion(ctx, pairs, [confirmed, *sections] if confirmed else sections)


def segment_side(q: Query) -> str | None:
    """The lung the segment asked about lies in: the lobe named with it ("the superior segment of the left lower
    lobe"), else the segment's own where it names one lung (the lingula's, the left)."""
    if q.lobe:
        return "right" if q.lobe.startswith("R") else "left"
    return "left" if q.segment in ("lingula", "superior_lingular", "inferior_lingular") else None


def segment_section(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any] | None:
    """"Is A3 in the lingula?" / "is A1 in the apical segment?" / "A2在左下叶背段吗?" / "which segment is it in?": Hilum maps
    no segments (on a frontal film they overlap and their borders do not show), so it cannot say, whatever lobe or zone
    the finding lies in (it had answered "Yes: A3 is in the left upper lobe"); where the finding lies, and what would
    settle the segment."""
    if not pairs or ctx.query.segment is None:
        return None
    seg_zh, seg_en = SEGMENT_NAMES.get(ctx.query.segment, SEGMENT_NAMES["any"])
    any_named = ctx.query.segment == "any"
    lines = []
    for a, f in pairs:
        if f.kind == "effusion":  # fluid lies in the pleural space, in no lobe or segment
            lines.append(ctx.t(f"{a.id}为积液样密度影,位于{pleural_space(f.side, 'zh')},不在任何肺叶或肺段内。",
                               f"{a.id} is an effusion-like opacity in the {pleural_space(f.side, 'en')}, in no lobe or "
                               "segment of the lung."))
            continue
        lung = segment_side(ctx.query)
        if lung is not None and f.side_confirmed and f.side != lung:  # "is A1 (right lung) in the lingula?": no
            lines.append(ctx.t(f"否:{a.id}位于{word('lung', f.side, 'zh')},{seg_zh}在{word('lung', lung, 'zh')}。",
                               f"No: {a.id} lies in the {word('lung', f.side, 'en')}, and {seg_en} is in the "
                               f"{word('lung', lung, 'en')}."))
            continue
        asked_zh = f"{a.id}位于哪个肺段" if any_named else f"{a.id}是否位于{seg_zh}"
        asked_en = f"which segment {a.id} lies in" if any_named else f"whether {a.id} is in {seg_en}"
        estimate = not stated_flatly(f, "lobe")
        lines.append(ctx.t(
            f"本系统不划分肺段:正位片上各肺段相互重叠、边界不显示,因此无法判断{asked_zh},也不能凭所在肺叶或肺野推断。"
            f"{a.id}位于{word('lobe', f.lobe, 'zh')}区域、{word('zone', f.zone, 'zh')}" + ("(所属肺叶为推断)" if estimate else "")
            + ";侧位片或CT可明确所属肺段。",
            f"Hilum does not map the lung's segments: on a frontal film they overlap and their borders do not show, so "
            f"{asked_en} cannot be told from it, nor worked out from its lobe or zone. {a.id} lies in the "
            f"{word('lobe', f.lobe, 'en')} territory, {word('zone', f.zone, 'en')}"
            + (" (the lobe itself an estimate)" if estimate else "") + "; a lateral view or CT would settle the segment."))
    return section("segment", ctx.t("肺段", "Segment"), ("" if ctx.zh else " ").join(lines))


def _place_confirmed(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any] | None:
    """"Is it in the left lung?" / "that one is in the left lung right?" of a finding that lies there: yes, and where
    (where it does not, ``mismatch_note`` says where it lies instead)."""
    q = ctx.query
    if q.in_lung and len(pairs) == 1:  # "is A1 inside the lung?"
        return _in_lung(ctx, *pairs[0])
    if q.yes_no and len(pairs) == 1 and {"retrocardiac", "heart"} & set(q.anatomy):  # "is A2 behind the heart?"
        return _by_the_heart(ctx, *pairs[0], behind="retrocardiac" in q.anatomy)
    if not (q.place_checked and q.yes_no and len(pairs) == 1) or mismatch_note(ctx, pairs) is not None:
        return None
    a, f = pairs[0]
    if f.kind == "effusion":
        return None
    asked = [(word("lung", f.side, "zh"), f"the {word('lung', f.side, 'en')}") if q.lesion_side == f.side and not q.lobe
             else None,
             (word("lobe", f.lobe, "zh"), f"the {word('lobe', f.lobe, 'en')}") if q.lobe and q.lobe == f.lobe else None,
             (word("zone", f.zone, "zh"), f"the {word('zone', f.zone, 'en')}") if q.zone and q.zone == f.zone else None,
             (word("band", f.band, "zh"), f"the {word('band', f.band, 'en')}") if q.band and q.band == f.band else None]
    said = [x for x in asked if x is not None]
    if not said:
        return None
    return section("place_check", ctx.t("是否在该处", "Is it there"), ctx.t(
        f"是:{a.id}位于{'、'.join(zh for zh, _ in said)}。", f"Yes: {a.id} is in {and_list([en for _, en in said])}."))


def _in_lung(ctx: Context, a: Anchor, f: Finding) -> dict[str, Any]:
    """"Is A1 inside the lung?" / "A1在肺内吗?": on the film's lung map, in a lung field or not; over the heart, the
    mediastinum or below a dome a frontal film cannot tell (it had answered with A1's density)."""
    lung_en = word("lung", f.side, "en")
    if f.kind == "effusion":
        text = ctx.t(f"否:{a.id}为积液样密度影,位于{pleural_space(f.side, 'zh')},在肺外。",
                     f"No: {a.id} is an effusion-like opacity in the {pleural_space(f.side, 'en')}, outside the lung.")
    elif f.overlies in ("heart", "mediastinum", "diaphragm"):
        over_zh, over_en = word("overlies", f.overlies, "zh"), word("overlies", f.overlies, "en")
        in_zh, in_en = {"heart": ("心脏本身", "the heart itself"), "mediastinum": ("纵隔本身", "the mediastinum itself"),
                        "diaphragm": ("膈肌或膈下", "the diaphragm or below it")}[str(f.overlies)]
        text = ctx.t(f"正位片上{a.id}{over_zh}:它位于其前方或后方的肺内,还是位于{in_zh},正位片无法判断,侧位片可明确。",
                     f"On this frontal film {a.id} is {over_en}: whether it lies in the lung in front of or behind it, or "
                     f"in {in_en}, a frontal film cannot tell; a lateral view would show it.")
    else:
        text = ctx.t(f"是:在本片的肺野图上,{a.id}位于{word('side', f.side, 'zh')}肺野内。正位片是一个投影,胸壁或皮肤上的影像也可投影于肺野,侧位片可区分。",
                     f"Yes: on this film's lung map {a.id} lies within the {lung_en} field. A frontal film is one "
                     "projection, so something in the chest wall or on the skin can project over a lung field too; a "
                     "lateral view would tell them apart.")
    return section("place_check", ctx.t("是否在肺内", "In the lung"), text)


def _by_the_heart(ctx: Context, a: Anchor, f: Finding, behind: bool) -> dict[str, Any]:
    """"Is A2 behind the heart?" / "is A2 over the heart?" / "A2在心影后面吗?": whether it is projected over the heart
    (``Finding.overlies``), and that front and back are not told on a frontal film (it had given where A2 lies, and no
    yes or no)."""
    if f.overlies == "heart":
        text = ctx.t(f"正位片上{a.id}投影于心影内" + (",但它位于心脏后方(下叶)、前方还是心脏本身,正位片无法判断,侧位片可明确。"
                                                if behind else "。前后关系正位片无法判断,侧位片可明确。"),
                     f"On this frontal film {a.id} is projected over the heart" + (
                         ", but whether it lies behind the heart (in the lower lobe), in front of it or in it a frontal "
                         "film cannot tell; a lateral view would show it." if behind else
                         "; which lies in front a frontal film cannot tell (a lateral view would show it)."))
    else:
        text = ctx.t(f"否:正位片上{a.id}不投影于心影内,位于{word('lung', f.side, 'zh')}{word('band', f.band, 'zh')}"
                     + (",不在心影后方。" if behind else "。"),
                     f"No: on this frontal film {a.id} is not projected over the heart; it lies in the "
                     f"{word('band', f.band, 'en')} of the {word('lung', f.side, 'en')} field"
                     + (", not behind the heart." if behind else "."))
    return section("place_check", ctx.t("与心影的关系", "Over the heart"), text)


# a normal structure a finding is asked to be (``Query.normal_structure``): (zh, en)
_NORMAL_STRUCTURE_NAMES = MappingProxyType({
    "heart": ("心脏", "heart"), "thymus": ("胸腺", "thymus"), "aorta": ("主动脉", "aorta"),
    "mediastinum": ("纵隔", "mediastinum"), "pulmonary_artery": ("肺动脉", "pulmonary artery"), "rib": ("肋骨", "rib")})


def _structure_or_lesion(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any]:
    """"Is A2 the heart?" / "is it the thymus?" / "是胸腺吗": Hilum does not identify normal structures, and over the
    mediastinum and the heart it cannot tell one from a lesion on a frontal film; a lateral view helps. (It had answered
    the margin, or where the finding lies, as if the question were a place checked.)"""
    zh, en = _NORMAL_STRUCTURE_NAMES.get(str(ctx.query.normal_structure), ("正常结构", "normal structure"))
    ids = [a.id for a, _ in pairs]
    if ctx.query.normal_structure == "rib":  # "is A1 a rib?": a bone, which Hilum does not read (it gave the angles)
        return section("structure_or_lesion", ctx.t("骨骼还是病灶", "Bone or lesion"), ctx.t(
            f"本系统不判读骨骼,无法判断{'、'.join(ids)}是肋骨(如肋骨交叉、陈旧骨折、骨岛)还是肺内病灶:正位片上肋骨,尤其是两根肋骨"
            "交叉处,可以像结节。下面是它在片上的表现;与旧片对比、加拍斜位或侧位片,或CT可明确。",
            f"Hilum does not read the bones, so it cannot tell whether {and_list(ids)} is a rib (where two ribs cross, "
            "a healed fracture, a bone island) or a lesion in the lung: on a frontal film a rib, above all where two "
            "ribs cross, can look like a nodule. What the film shows of it is below; an earlier film, an oblique or "
            "lateral view, or CT would settle it."))
    text = ctx.t(
        f"本系统不识别正常解剖结构,无法判断{'、'.join(ids)}是{zh}还是病灶:正位片上纵隔和心影处的正常结构与病灶可以重叠、看起来相似,"
        "本系统分不开。下面是它在片上的表现;侧位片有助于区分。",
        f"Hilum does not identify normal structures, and it cannot tell whether {and_list(ids)} is the {en} or a lesion: "
        "over the mediastinum and the heart a normal structure and a lesion overlap on a frontal film and can look "
        "alike, and Hilum cannot tell them apart. What the film shows of it is below; a lateral view would help.")
    away = [(a, f) for a, f in pairs if f.overlies not in ("heart", "mediastinum") and f.band != "inner"]
    for a, f in away:  # where it lies is what the film does show: not over the heart or the mediastinum
        text += ctx.t(f"{a.id}位于肺野{word('band', f.band, 'zh')},不与心影或纵隔重叠。",
                      f" {a.id} lies in the {word('band', f.band, 'en')} of the lung field, not over the heart or the "
                      "mediastinum.")
    child = ctx.facts.film_check.age_group in ("infant", "child")
    if ctx.query.normal_structure == "thymus" or child:
        text += ctx.t("儿童的胸腺可以较大,在正位片上像纵隔旁的肿块。",
                      " A child's thymus can be large and look like a mass beside the mediastinum on a frontal film.")
    return section("structure_or_lesion", ctx.t("正常结构还是病灶", "Structure or lesion"), text)


def lobe_overlap_note(f: Finding, lang: str) -> str:
    """Where projected lobes overlap, the lobe is an estimate: say so, and what would settle it."""
    if not f.lobe_overlap:
        return ""
    others = [word("lobe", lb, lang) for lb in f.lobe_overlap]
    if lang == "zh":
        return (f"正位片上该处为{word('lobe', f.lobe, 'zh')}与{'、'.join(others)}的重叠投影区,"
                "所属肺叶为推断,侧位片可明确。")
    return (f"On a frontal film this spot is where the {word('lobe', f.lobe, 'en')} and the "
            f"{' and the '.join(others)} overlap in projection, so the lobe is an estimate; a lateral view would settle it.")


def lobe_confidence_note(f: Finding, lang: str) -> str:
    """A lobe the calibration cannot back (where no overlap note already says so)."""
    if confident(f, "lobe"):
        return ""
    if lang == "zh":
        return "所属肺叶本片无法判断,侧位片可明确。"
    return "The lobe cannot be judged on this film; a lateral view would settle it."


_LOBE_ZONES = MappingProxyType({"RUL": ("upper",), "RML": ("middle",), "RLL": ("middle", "lower"),
                                "LUL": ("upper", "middle"), "LLL": ("middle", "lower")})


def mismatch_note(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any] | None:
    """When the question names a lobe, zone or band and the finding it binds to lies elsewhere, say so
    ("you asked about the right middle lobe; the nearest finding projects over the right lower lobe")."""
    q = ctx.query
    if len(pairs) != 1:
        return None
    a, f = pairs[0]
    lines: list[str] = []
    if q.lesion_side and q.lesion_side != f.side and not q.lobe:
        lines.append(ctx.t(f"您问的是{word('lung', q.lesion_side, 'zh')};{a.id}位于{word('lung', f.side, 'zh')}。",
                           f"You asked about the {word('lung', q.lesion_side, 'en')}; {a.id} is in the {word('lung', f.side, 'en')}."))
    if q.lobe and q.lobe != f.lobe:
        asked, found = word("lobe", q.lobe, ctx.lang), word("lobe", f.lobe, ctx.lang)
        if q.lobe in f.lobe_overlap:
            lines.append(ctx.t(f"您问的是{asked};{a.id}位于{found}与{asked}的重叠投影区,所属肺叶为推断,侧位片可明确。",
                               f"You asked about the {asked}; {a.id} lies where the {found} and the {asked} overlap "
                               "in projection, so its lobe is an estimate; a lateral view would settle it."))
        else:
            overlap = (f.side == ("right" if q.lobe.startswith("R") else "left")
                       and set(_LOBE_ZONES.get(q.lobe, ())) & set(_LOBE_ZONES.get(f.lobe, ())))
            lines.append(ctx.t(
                f"您问的是{asked};最接近的病灶{a.id}投影于{found}" + ("——正位片上两者重叠,侧位片可明确。" if overlap else "。"),
                f"You asked about the {asked}; the nearest finding, {a.id}, projects over the {found}"
                + (" — on a PA film these overlap; a lateral view would settle it." if overlap else ".")))
    if q.lobe_level in LOBES_AT_LEVEL and not q.lobe and f.lobe not in LOBES_AT_LEVEL[q.lobe_level]:
        # "is it in the upper lobe?" of a middle-lobe nodule (it answered where A1 lies, and no word that it was not)
        asked = ctx.t({"upper": "上叶", "lower": "下叶"}[q.lobe_level], f"{'an' if q.lobe_level == 'upper' else 'a'} "
                      f"{q.lobe_level} lobe")
        found = word("lobe", f.lobe, ctx.lang)
        if any(lb in f.lobe_overlap for lb in LOBES_AT_LEVEL[q.lobe_level]):
            lines.append(ctx.t(f"您问的是{asked};{a.id}位于{found},正位片上与{asked}重叠投影,所属肺叶为推断,侧位片可明确。",
                               f"You asked about {asked}; {a.id} lies in the {found}, where it overlaps "
                               f"{asked} in projection, so its lobe is an estimate; a lateral view would settle it."))
        else:
            lines.append(ctx.t(f"您问的是{asked};{a.id}投影于{found}。",
                               f"You asked about {asked}; {a.id} projects over the {found}."))
    for group, want, have in (("zone", q.zone, f.zone), ("band", q.band, f.band)):
        if want and want != have:
            lines.append(ctx.t(f"您问的是{word(group, want, 'zh')};{a.id}位于{word(group, have, 'zh')}。",
                               f"You asked about the {word(group, want, 'en')}; {a.id} lies in the {word(group, have, 'en')}."))
    misfits = descriptor_misfits(a, q)
    if misfits:
        asked_zh = "、".join(word("descriptor", d, "zh") for d in misfits)
        asked_en = " or ".join(word("descriptor", d, "en") for d in misfits)
        lines.append(ctx.t(f"您描述的是{asked_zh}病灶;{a.id}是{a.label_zh}。", f"You described a {asked_en} lesion; {a.id} is a {a.label_en}."))
    if not lines:
        return None
    return section("mismatch", ctx.t("与问题不一致", "Not where you asked"), ("" if ctx.zh else " ").join(lines))


def _one_lesion(ctx: Context, pairs: list[tuple[Anchor, Finding]], sections: list[dict[str, Any]],
                measurements: tuple[dict[str, Any], ...] = ()) -> Composition:
    mismatch = mismatch_note(ctx, pairs)
    if mismatch:
        sections.insert(0, mismatch)
    note = spacing_note(ctx)
    if note and (measurements or any(s["kind"] in ("size", "location", "margin") for s in sections)):
        sections.append(note)
    return Composition(tuple(sections), findings=tuple(finding_dict(f, a.id) for a, f in pairs),
                       measurements=measurements, referenced=tuple(a.id for a, _ in pairs))


# --- relation ------------------------------------------------------------------------------------


def _mm_between(ctx: Context, p: tuple[float, float], q: tuple[float, float]) -> float:
    sp = ctx.facts.spacing
    return math.hypot((p[0] - q[0]) * sp.col_mm, (p[1] - q[1]) * sp.row_mm)


def _spacing_used(ctx: Context) -> str:
    """The spacing a distance was converted with, as the answer names it."""
    dicom = ctx.facts.spacing.source == "dicom"
    return ctx.t("DICOM像素间距" if dicom else "估计的像素间距", "DICOM pixel spacing" if dicom else "an estimated pixel spacing")


def _hilum_anchor(ctx: Context, f: Finding) -> Anchor | None:
    """The hilum named, by its name ("from the right hilum") or by its id ("how far is A1 from A3?", A3 the right
    hilum: it had measured A1 to its own side's hilum), else the finding's own side's."""
    named = [a for a in (*ctx.anatomy, *ctx.subjects) if a.name and a.name.startswith("hilum")]
    if named:  # (both hila, where "where is it and how far from the hilum?" placed them: the finding's own side's)
        return next((a for a in named if a.name == f"hilum_{f.side}"), named[0])
    return ctx.registry.for_name(f"hilum_{f.side}")


def _relation_lines(ctx: Context, a: Anchor, f: Finding, h: Anchor, dist: float) -> list[str]:
    rel = f.hilum if f.hilum and h.name == f"hilum_{f.hilum.side}" else None
    src = _spacing_used(ctx)
    lines = [ctx.t(f"{a.id}中心至{h.label_zh}({h.id})的距离约{cm(dist)} cm({mm(dist)} mm,按{src}换算)。",
                   f"{a.id}'s centre is about {cm(dist)} cm ({mm(dist)} mm) from the {h.label_en} ({h.id}), using {src}.")]
    if rel is not None:
        gap = r1(rel.gap_mm)
        lines.append(ctx.t(f"病灶边缘至最近肺门结构的间隙约{mm(gap)} mm。",
                           f"The gap from the lesion's edge to the nearest hilar structure is about {mm(gap)} mm."))
        conn = {"yes": ("可见软组织带与肺门相连", "a soft-tissue band connects it to the hilum"),
                "no": ("未见与肺门相连的软组织带", "no soft-tissue band connects it to the hilum"),
                "uncertain": ("是否与肺门相连本片无法判断", "whether it connects to the hilum cannot be judged on this film")}
        cut = {"yes": ("可见支气管截断", "a bronchus appears cut off"),
               "no": ("未见支气管截断", "no bronchial cut-off is seen"),
               "uncertain": ("支气管截断无法判断(需CT)", "bronchial cut-off cannot be judged (CT would show it)")}
        i = 0 if ctx.zh else 1
        lines.append(ctx.t(f"{conn[rel.connected][0]};{cut[rel.bronchus_cut_off][0]}。",
                           f"{conn[rel.connected][1].capitalize()}; {cut[rel.bronchus_cut_off][i]}."))
    return lines


def _pair_relation(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> Composition:
    """The centre-to-centre distance between two findings ("how far apart are the two lesions?")."""
    (a, f), (b, g) = pairs[0], pairs[1]
    dist = r1(_mm_between(ctx, f.center_px, g.center_px))
    registry, link = add_relation(ctx.registry, a, b, ctx.turn)
    src = _spacing_used(ctx)
    text = ctx.t(f"{a.id}与{b.id}中心之间的距离约{cm(dist)} cm({mm(dist)} mm,按{src}换算)。",
                 f"The centres of {a.id} and {b.id} are about {cm(dist)} cm ({mm(dist)} mm) apart, using {src}.")
    if len(f.polygon_px) >= 3 and len(g.polygon_px) >= 3:
        gap = r1(outline_gap_mm(f.polygon_px, g.polygon_px, ctx.facts.image_size, ctx.facts.spacing)[0])
        text += (ctx.t(f"二者边缘相距约{mm(gap)} mm。", f" Their edges are about {mm(gap)} mm apart.") if gap > 0 else
                 ctx.t("二者轮廓在片上相接或重叠。", " Their outlines touch or overlap on the film."))
    if ctx.query.one_lesion_asked:  # "are A1 and A2 the same lesion?" / "A1和A2相连吗"
        text += ctx.t("Hilum 将它们读作两处独立区域;它们是否为同一病灶(如同一片实变)的不同部分、是否相连,正位片无法判断,"
                      "侧位片或CT可明确。",
                      " Hilum reads them as two separate regions; whether they are parts of one lesion (one "
                      "consolidation, say) or connected, a frontal film does not tell: a lateral view or CT would.")
    if ctx.query.distance_op and ctx.query.distance_mm:  # "are A1 and A2 more than 3 cm apart?": yes or no first
        text = against_line(ctx, ctx.query.distance_op, ctx.query.distance_mm, dist,
                            ("中心间距", "the distance between their centres")) + ("" if ctx.zh else " ") + text
    meas = ({"kind": "distance", "from": a.id, "to": b.id, "mm": dist, "spacing_source": ctx.facts.spacing.source,
             "from_px": [r1(f.center_px[0]), r1(f.center_px[1])], "to_px": [r1(g.center_px[0]), r1(g.center_px[1])],
             "relation_anchor_id": link.id},)
    sections = [section("relation", ctx.t("两处病灶的距离", "Distance between the two"), text)]
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), findings=(finding_dict(f, a.id), finding_dict(g, b.id)), measurements=meas,
                       referenced=(a.id, b.id, link.id), registry=registry)


def _each_relation(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> Composition:
    """"How far are the two lesions from the hilum?": each finding to the landmark; against a threshold ("are both more
    than 2 cm from the hilum?") each yes or no names its finding, as the sizes' do."""
    parts: list[Composition] = []
    registry = ctx.registry
    for a, _ in pairs:
        one = compose_relation(dataclasses.replace(ctx, subjects=(a,), registry=registry))
        registry = one.registry or registry
        if ctx.query.distance_op and ctx.query.distance_mm:
            first = next(i for i, sec in enumerate(one.sections) if sec["kind"] == "relation")
            named = {**one.sections[first], "text": ctx.t(f"{a.id}:", f"{a.id}: ") + one.sections[first]["text"]}
            one = dataclasses.replace(one, sections=(*one.sections[:first], named, *one.sections[first + 1:]))
        parts.append(one)
    body = [sec for c in parts for sec in c.sections if sec["kind"] != "spacing"]
    spacing = next((sec for c in parts for sec in c.sections if sec["kind"] == "spacing"), None)
    return Composition(tuple(body + ([spacing] if spacing else [])),
                       findings=tuple(fd for c in parts for fd in c.findings),
                       measurements=tuple(m for c in parts for m in c.measurements),
                       referenced=tuple(dict.fromkeys(i for c in parts for i in c.referenced)), registry=registry)


def _anatomy_ends(ctx: Context) -> tuple[Anchor, ...]:
    """The two structures whose distance is asked, where no finding is: the hila ("how far apart are the hila?",
    ``Query.hila_apart``), or two anatomy anchors named ("distance between A1 and A2" where both are hila); else ()."""
    if ctx.query.hila_apart:
        return ctx.anatomy
    return ctx.subjects if len(ctx.subjects) == 2 and all(a.kind in ("anatomy", "point") for a in ctx.subjects) else ()


def _anatomy_distance(ctx: Context, ends: tuple[Anchor, ...]) -> Composition:
    """"How far apart are the hila?" / "两侧肺门相距多少": the two anchors' centres apart, on the spacing said, with whose
    estimate the positions are on a film read alone."""
    if len(ends) != 2:  # a hilum this film's maps did not place
        return Composition((section("relation", ctx.t("距离", "Distance"), _hila_unplaced(ctx)),))
    a, b = ends
    dist = r1(_mm_between(ctx, a.center_px, b.center_px))
    registry, link = add_relation(ctx.registry, a, b, ctx.turn)
    src = _spacing_used(ctx)
    lines = [ctx.t(f"{a.id}({a.label_zh})与{b.id}({b.label_zh})中心之间的距离约{cm(dist)} cm({mm(dist)} mm,按{src}换算)。",
                   f"{a.id} ({a.label_en}) and {b.id} ({b.label_en}) are about {cm(dist)} cm ({mm(dist)} mm) apart, "
                   f"centre to centre, using {src}.")]
    if ctx.query.distance_op and ctx.query.distance_mm:  # "are the hila more than 6 cm apart?": yes or no first
        lines.insert(0, against_line(ctx, ctx.query.distance_op, ctx.query.distance_mm, dist,
                                     ("中心间距", "the distance between their centres")))
    if cl.read_alone(ctx.facts):
        lines.append(ctx.t(*_ALONE_POSITIONS))
    meas = ({"kind": "distance", "from": a.id, "to": b.id, "mm": dist, "spacing_source": ctx.facts.spacing.source,
             "from_px": [r1(a.center_px[0]), r1(a.center_px[1])], "to_px": [r1(b.center_px[0]), r1(b.center_px[1])],
             "relation_anchor_id": link.id},)
    sections = [section("relation", ctx.t("两处结构的距离", "Distance between the two"), ("" if ctx.zh else " ").join(lines))]
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), measurements=meas, referenced=(a.id, b.id, link.id), registry=registry)


def _fissure_relation(ctx: Context, a: Anchor, f: Finding) -> Composition:
    """"Is the nodule near the fissure?": Hilum does not trace the fissures; what it says of the lobe instead."""
    lobe = word("lobe", f.lobe, ctx.lang)
    text = ctx.t(f"本系统不追踪叶间裂,无法测量{a.id}与叶间裂的距离;{a.id}投影于{lobe}区域。",
                 f"Hilum does not trace the fissures, so {a.id}'s distance to one cannot be measured; {a.id} projects over "
                 f"the {lobe} territory.")
    note = lobe_overlap_note(f, ctx.lang)
    text += ("" if ctx.zh else " ") + (note or ctx.t("正位片上各肺叶重叠投影,所属肺叶为推断,侧位片或CT可明确。",
                                                     "On a frontal film the lobes overlap, so the lobe is an estimate; a "
                                                     "lateral view or CT would settle it."))
    text += ctx.t("可测量其与肺门、胸膜或膈面的距离。", " Its distance to the hilum, the pleura or the diaphragm can be measured.")
    return Composition((section("relation", ctx.t("与叶间裂的关系", "Relation to a fissure"), text),),
                       findings=(finding_dict(f, a.id),), referenced=(a.id,))


def _other_landmark(ctx: Context, pairs: list[tuple[Anchor, Finding]], name: str) -> Composition:
    """"How far from the spine?": each finding's edge to the spine's outline where the maps draw one (else that it
    cannot be measured, and what can); a landmark Hilum does not measure to ("how far from the aorta?"): said so, and
    what it measures instead."""
    if name in _STRUCTURES_MEASURED:
        parts = [_structure_relation(ctx, a, f, name) for a, f in pairs]
        sections = [sec for comp in parts for sec in comp.sections if sec["kind"] != "spacing"]
        sections += [sec for sec in parts[0].sections if sec["kind"] == "spacing"]
        return Composition(tuple(sections), findings=tuple(x for c in parts for x in c.findings),
                           measurements=tuple(m for c in parts for m in c.measurements),
                           referenced=tuple(dict.fromkeys(r for c in parts for r in c.referenced)))
    zh, en = _NOT_MEASURED_TO[name]
    ids = [a.id for a, _ in pairs]
    text = ctx.t(f"本系统不测量病灶到{zh}的距离。它测量病灶到肺门、胸膜、膈面、心影、气管、纵隔和脊柱的距离,例如可以问“{ids[0]}离肺门多远?”。",
                 f"Hilum does not measure distances to the {en}. It measures a finding's distance to the hilum, the "
                 "pleura, the diaphragm, the heart border, the trachea, the mediastinal border and the spine; ask, for "
                 f"example, \"how far is {ids[0]} from the hilum?\"")
    return Composition((section("relation", ctx.t(f"与{zh}的关系", f"Relation to the {en}"), text),),
                       findings=tuple(finding_dict(f, a.id) for a, f in pairs), referenced=tuple(ids))


def compose_relation(ctx: Context) -> Composition:
    pairs = subject_findings(ctx)
    if not pairs:  # "how far apart are the hila?": two structures, no finding
        ends = _anatomy_ends(ctx)
        return _anatomy_distance(ctx, ends) if ends or ctx.query.hila_apart else compose_none(ctx)
    if ctx.query.fissure and len(pairs) == 1:
        return _fissure_relation(ctx, *pairs[0])
    if ctx.query.landmark_asked:  # "how far from the spine?" (it measured to the hilum without a word)
        return _other_landmark(ctx, pairs, ctx.query.landmark_asked)
    if len(pairs) >= 2 and not ctx.query.anatomy:
        return _pair_relation(ctx, pairs)
    if len(pairs) >= 2:  # "how far are the two lesions from the hilum?": each to its hilum
        return _each_relation(ctx, pairs)
    a, f = pairs[0]
    # the landmarks named, boundaries first ("diaphragm_right" is the diaphragm): "pleura", "heart", ...
    landmarks = [*dict.fromkeys(n.split("_")[0] for n in ctx.query.anatomy if n.startswith(("diaphragm", "pleura"))),
                 *(n for n in ctx.query.anatomy if n in _STRUCTURES_MEASURED)]
    if len(landmarks) >= 2:  # "is A1 closer to the heart or to the pleura?"
        return _two_landmarks(ctx, a, f, landmarks[:2])
    if landmarks and not any(n.startswith("hilum") for n in ctx.query.anatomy):
        return _with_height(ctx, a, f, _landmark_relation(ctx, a, f, landmarks[0]), None)
    target, unplaced, registry = _anchor_asked(ctx, f)
    if target is not None:  # "how far is A1 from A5?" (the right costophrenic angle) / "A1距离右侧肋膈角多远?"
        return _to_anchor(dataclasses.replace(ctx, registry=registry), a, f, target)
    if unplaced is not None:  # a landmark this film's maps place nowhere: said so (never the hilum's distance instead)
        return _not_placed(ctx, a, f, unplaced)
    h = _hilum_anchor(ctx, f)
    if h is None:  # no hilum placed on this film: said so, then where the finding lies and what it is measured to
        located = compose_locate(ctx)
        no_hilum = ctx.t(f"{a.id}与肺门的距离无法测量。", f"{a.id}'s distance to a hilum cannot be measured. ") + _hila_unplaced(ctx)
        return dataclasses.replace(located, sections=(section("relation", ctx.t("距离", "Distance"), no_hilum),
                                                      *located.sections))
    asked = _with_side_of(ctx, a, f, _with_height(ctx, a, f, _hilum_relation(ctx, a, f, h), h), h)
    return _other_side_hilum(ctx, a, f, h, asked)  # "and A2?" after the right hilum, A2 in the left lung: said so


# landmarks a distance is measured to from the finding's own distances or outlines, not from an anchor's point
_MEASURED_OTHERWISE = ("hilum", "pleura", "diaphragm", *_STRUCTURES_MEASURED)
_ANCHOR_NAMES = MappingProxyType({"costophrenic_angle": "costophrenic"})


def _anchor_asked(ctx: Context, f: Finding) -> tuple[Anchor | None, str | None, Registry]:
    """The anatomy anchor a distance is asked to that is neither a hilum nor a landmark measured otherwise: by its id
    ("how far is A1 from A5?", A5 the right costophrenic angle; A6 the heart) or by its name ("A1距离右侧肋膈角多远?", "how
    far is A1 from the apex?": the finding's own side's where no side is named); it had answered with the hilum's distance
    without a word. Returns (the anchor, the name of one this film's maps place nowhere, the registry with the anchor
    added); (None, None, …) where a hilum is named or nothing else is."""
    registry = ctx.registry
    if ctx.query.vertical or ctx.query.across:
        return None, None, registry
    named = [a for a in (*ctx.subjects, *ctx.anatomy) if (a.kind in ("anatomy", "point") and a.name) or a.kind == "relation"]
    if any(a.name.startswith("hilum") for a in named if a.name):
        return None, None, registry
    if named:
        return named[0], None, registry
    for raw in ctx.query.anatomy:
        base, side = (raw.rsplit("_", 1) if raw.endswith(("_right", "_left")) else (raw, f.side))
        if base.startswith(_MEASURED_OTHERWISE):
            continue
        name = f"{_ANCHOR_NAMES.get(base, base)}_{side}"
        registry, anchor = ensure_anatomy(registry, ctx.facts, name, ctx.turn)
        return anchor, (None if anchor is not None else name), registry
    return None, None, registry


def _not_placed(ctx: Context, a: Anchor, f: Finding, name: str) -> Composition:
    """"A1距离右侧肋膈角多远?" where this film's maps place no such point: said so, and what can be measured."""
    zh_name, en_name = word("anatomy", name, "zh"), word("anatomy", name, "en")
    text = ctx.t(f"本片未能确定{zh_name}的位置,{a.id}与它的距离无法测量;可测量其与肺门、胸膜或膈面的距离。",
                 f"No position for the {en_name} was established on this film, so {a.id}'s distance to it cannot be "
                 "measured; its distance to the hilum, the pleura or the diaphragm can.")
    return Composition((section("relation", ctx.t("距离", "Distance"), text),), findings=(finding_dict(f, a.id),),
                       referenced=(a.id,))


def _nearest_on_outline(poly: tuple[tuple[float, float], ...], p: tuple[float, float]) -> tuple[float, float]:
    """The point of a closed outline nearest to ``p`` (pixels)."""
    best, best_d = poly[0], math.inf
    for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True):
        dx, dy = x1 - x0, y1 - y0
        t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((p[0] - x0) * dx + (p[1] - y0) * dy) / (dx * dx + dy * dy)))
        q = (x0 + t * dx, y0 + t * dy)
        d = math.hypot(q[0] - p[0], q[1] - p[1])
        if d < best_d:
            best, best_d = q, d
    return best


def _to_anchor(ctx: Context, a: Anchor, f: Finding, t: Anchor) -> Composition:
    """A finding's distance to an anatomy anchor named: a structure with an outline edge to edge (the heart's as "how far
    from the heart?" measures it), a point (a costophrenic angle, an apex, a dome) from the finding's centre and from its
    edge, each said as such; where the film gives the anchor no point or outline, that it cannot be measured (never
    another landmark's distance)."""
    if t.name in _STRUCTURES_MEASURED:
        return _structure_relation(ctx, a, f, str(t.name))
    if t.kind == "relation":  # "how far is A1 from A6?", A6 a measurement drawn earlier: no place to measure to
        text = ctx.t(f"{t.id}是测量{t.label_zh},不是片上的一个位置,无法测量{a.id}到它的距离;可以问{a.id}到某个病灶或解剖锚点的距离。",
                     f"{t.id} is the measurement {t.label_en}, not a place on the film, so {a.id}'s distance to it "
                     f"cannot be measured; {a.id}'s distance to a finding or an anatomy anchor can.")
        return Composition((section("relation", ctx.t("距离", "Distance"), text),), findings=(finding_dict(f, a.id),),
                           referenced=(a.id, t.id))
    src = _spacing_used(ctx)
    registry, link = add_relation(ctx.registry, a, t, ctx.turn)
    source = ctx.facts.spacing.source
    outlined = len(t.polygon_px) >= 3
    if outlined and len(f.polygon_px) >= 3:  # a region: edge to edge
        gap, p, q = outline_gap_mm(f.polygon_px, t.polygon_px, ctx.facts.image_size, ctx.facts.spacing)
        text = (ctx.t(f"{a.id}边缘距{t.label_zh}({t.id})边缘约{mm(r1(gap))} mm(按{src}换算)。",
                      f"{a.id}'s edge is about {mm(r1(gap))} mm from the edge of the {t.label_en} ({t.id}), using {src}.")
                if gap > 0 else
                ctx.t(f"正位片上{a.id}与{t.label_zh}({t.id})重叠投影或相接。",
                      f"On this frontal film {a.id} touches or overlaps the {t.label_en} ({t.id}) in projection."))
        meas: tuple[dict[str, Any], ...] = (
            {"kind": "gap", "from": a.id, "to": t.id, "mm": r1(max(gap, 0.0)), "spacing_source": source,
             "from_px": [r1(p[0]), r1(p[1])], "to_px": [r1(q[0]), r1(q[1])]},)
        value = r1(max(gap, 0.0))
        said = (f"边缘距{t.label_zh}边缘", "its edge", f" from the {t.label_en}")
    else:  # a point: from the finding's centre, and from the nearest point of its outline
        centre = r1(_mm_between(ctx, f.center_px, t.center_px))
        edge_px = _nearest_on_outline(f.polygon_px, t.center_px) if len(f.polygon_px) >= 3 else f.center_px
        edge = r1(_mm_between(ctx, edge_px, t.center_px))
        point_zh, point_en = ("(轮廓中心)", " (the centre of its outline)") if outlined else ("", "")
        text = ctx.t(f"{a.id}中心至{t.label_zh}({t.id}){point_zh}约{cm(centre)} cm({mm(centre)} mm,按{src}换算);"
                     f"{a.id}边缘至该点约{mm(edge)} mm。",
                     f"{a.id}'s centre is about {cm(centre)} cm ({mm(centre)} mm) from the {t.label_en} ({t.id}){point_en}, "
                     f"using {src}; its edge is about {mm(edge)} mm from that point.")
        meas = ({"kind": "distance", "from": a.id, "to": t.id, "mm": centre, "spacing_source": source,
                 "from_px": [r1(f.center_px[0]), r1(f.center_px[1])], "to_px": [r1(t.center_px[0]), r1(t.center_px[1])],
                 "relation_anchor_id": link.id},
                {"kind": "gap", "from": a.id, "to": t.id, "mm": edge, "spacing_source": source,
                 "from_px": [r1(edge_px[0]), r1(edge_px[1])], "to_px": [r1(t.center_px[0]), r1(t.center_px[1])]})
        value, said = centre, (f"中心距{t.label_zh}", "its centre", f" from the {t.label_en}")
    if ctx.query.distance_op and ctx.query.distance_mm:  # "is A1 more than 5 cm from A5?": yes or no first
        text = against_line(ctx, ctx.query.distance_op, ctx.query.distance_mm, value, said) + ("" if ctx.zh else " ") + text
    if cl.read_alone(ctx.facts):
        text += ("" if ctx.zh else " ") + ctx.t(*_ALONE_POSITION)
    sections = [section("relation", ctx.t(f"与{t.label_zh}的关系", f"Relation to the {t.label_en}"), text)]
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), findings=(finding_dict(f, a.id),), measurements=meas,
                       referenced=(a.id, t.id, link.id), registry=registry)


def _other_side_hilum(ctx: Context, a: Anchor, f: Finding, h: Anchor, comp: Composition) -> Composition:
    """A finding measured to the other lung's hilum ("how far is A1 from the right hilum?" then "and A2?", A2 in the left
    lung: it had measured A2 to the right hilum without a word): the hilum asked is kept, and the answer says it is the
    other side's and gives the distance to the finding's own side's hilum too."""
    own = ctx.registry.for_name(f"hilum_{f.side}")
    if h.name == f"hilum_{f.side}" or not f.side_confirmed or own is None:
        return comp
    rel = f.hilum if f.hilum is not None and f.hilum.side == f.side else None
    dist = r1(rel.center_distance_mm) if rel is not None else r1(_mm_between(ctx, f.center_px, own.center_px))
    lung_zh, lung_en = word("lung", f.side, "zh"), word("lung", f.side, "en")
    text = ctx.t(f"注意:{a.id}位于{lung_zh},{h.label_zh}({h.id})是对侧肺门;它同侧的{own.label_zh}({own.id})距其中心约"
                 f"{cm(dist)} cm({mm(dist)} mm)。",
                 f"Note: {a.id} lies in the {lung_en}, so the {h.label_en} ({h.id}) is the other side's hilum; its own, "
                 f"the {own.label_en} ({own.id}), is about {cm(dist)} cm ({mm(dist)} mm) from its centre.")
    meas = {"kind": "distance", "from": a.id, "to": own.id, "mm": dist, "spacing_source": ctx.facts.spacing.source,
            "from_px": [r1(f.center_px[0]), r1(f.center_px[1])], "to_px": [r1(own.center_px[0]), r1(own.center_px[1])]}
    last = max((i for i, s in enumerate(comp.sections) if s["kind"] == "relation"), default=0)  # after the hilum's
    sections = (*comp.sections[: last + 1], section("relation", ctx.t("同侧肺门", "Its own hilum"), text),
                *comp.sections[last + 1:])
    return dataclasses.replace(comp, sections=sections, measurements=(*comp.measurements, meas),
                               referenced=(*comp.referenced, own.id))


# a finding's centre within this of a hilum's or a dome's height is said to lie at its level
LEVEL_MM = 10.0


def _with_height(ctx: Context, a: Anchor, f: Finding, comp: Composition, h: Anchor | None) -> Composition:
    """"Is the nodule above the right hilum?" / "at the level of the right hemidiaphragm?": the finding's centre against
    the hilum's height (``h``) or the dome's, said first (yes / no where one was asked), before the distance."""
    asked = ctx.query.vertical
    if asked is None:
        return comp
    if h is not None:
        point, name = h.center_px, (h.label_zh, h.label_en)
    else:
        sides = [n.removeprefix("diaphragm_") for n in ctx.query.anatomy if n in ("diaphragm_right", "diaphragm_left")]
        side = sides[0] if sides else f.side
        point = ctx.facts.anatomy.diaphragm_dome_px.get(side)
        name = (f"{word('side', side, 'zh')}侧膈顶", f"{side} dome of the diaphragm")
        if point is None and asked == "level":
            return comp
        if point is None:  # "is A1 above the diaphragm?" where no dome is placed: the lung map answers (it said nothing)
            return _height_section(ctx, comp, _no_dome(ctx, a, f, side, asked))
    assert point is not None
    drop = (f.center_px[1] - point[1]) * ctx.facts.spacing.row_mm  # > 0: the finding lies lower
    lies = "level" if abs(drop) < LEVEL_MM else "below" if drop > 0 else "above"
    # "A2在膈肌上方还是下方?": the alternative that holds, no yes or no (it had answered "否:" to the first)
    verdict = ("", "") if asked == "either" else (("是:", "Yes: ") if lies == asked else ("否:", "No: "))
    apart = _vertical_apart(ctx, abs(drop))
    where = {"level": (f"{a.id}中心与{name[0]}大致在同一水平({apart[0]})",
                       f"{a.id}'s centre lies at about the level of the {name[1]} ({apart[1]})"),
             "above": (f"{a.id}中心位于{name[0]}上方约{cm(abs(drop))} cm", f"{a.id}'s centre lies about {cm(abs(drop))} cm "
                                                                      f"above the {name[1]}"),
             "below": (f"{a.id}中心位于{name[0]}下方约{cm(abs(drop))} cm", f"{a.id}'s centre lies about {cm(abs(drop))} cm "
                                                                      f"below the {name[1]}")}[lies]
    line = ctx.t(f"{verdict[0]}{where[0]}。", f"{verdict[1]}{where[1]}.")
    on_map = _lung_map_height(f) if h is None and asked != "level" else None
    if on_map == "on" and asked != "level":  # fluid, or a finding projected below the dome: no yes or no
        line = _on_the_diaphragm(ctx, a, f, where)
    elif on_map == "above" and lies != "above" and f.distance_to_diaphragm_mm <= NEAR_DIAPHRAGM_MM:
        # a basal finding on the diaphragm at or below the dome's height: the diaphragm slopes down from its dome
        line = _on_a_sloping_diaphragm(ctx, a, f, asked, where)
    elif on_map == "above" and lies != "above":  # the dome placed disagrees with the finding's own lung placement
        line = _dome_disagrees(ctx, a, f, asked, where)
    if h is None and cl.read_alone(ctx.facts):  # a hilum's own relation says so already
        line += ("" if ctx.zh else " ") + ctx.t(*_ALONE_DOMES)
    return _height_section(ctx, comp, line)


# a finding in a lung field within this of the diaphragm's outline can lie at or below the dome's height (the diaphragm
# slopes down from its dome to the costophrenic angle); one further from it "at the level of the dome" or below it says
# the dome placed disagrees with the lung map
NEAR_DIAPHRAGM_MM = 20.0


def _on_a_sloping_diaphragm(ctx: Context, a: Anchor, f: Finding, asked: str, where: tuple[str, str]) -> str:
    """"Is A2 above the diaphragm?" of a basal finding on or near the diaphragm whose centre lies at or below the dome's
    height: above the diaphragm under it, by the lung map; the dome is the diaphragm's highest point."""
    verdict = ("", "") if asked == "either" else (("是:", "Yes: ") if asked == "above" else ("否:", "No: "))
    zh, en = _in_the_field(ctx, a, f)
    en = en if verdict[1] else en[:1].upper() + en[1:]
    return ctx.t(f"{verdict[0]}{zh};{where[0]}:膈顶是膈面的最高点,膈面自膈顶向肋膈角下降。",
                 f"{verdict[1]}{en}; {where[1]}: the dome is the "
                 "diaphragm's highest point, and the diaphragm slopes down from it to the costophrenic angle.")


def _height_section(ctx: Context, comp: Composition, line: str) -> Composition:
    return dataclasses.replace(comp, sections=(section("relation", ctx.t("高度", "Height"), line), *comp.sections))


def _in_the_field(ctx: Context, a: Anchor, f: Finding) -> tuple[str, str]:
    """A finding in a lung field, placed above the diaphragm by the film's own lung map (zh, en)."""
    dome = r1(f.distance_to_diaphragm_mm)
    if dome < 1.0:  # (under a millimetre it touches it, as the location answer says)
        return (f"在本片的肺野图上{a.id}位于肺野内,在其下方的膈面之上(紧贴膈面)",
                f"on this film's lung map {a.id} lies in the lung field, above the diaphragm under it (touching it)")
    return (f"在本片的肺野图上{a.id}位于肺野内,在其下方的膈面之上(距膈面约{mm(dome)} mm)",
            f"on this film's lung map {a.id} lies in the lung field, above the diaphragm under it (its edge about "
            f"{mm(dome)} mm from it)")


def _no_dome(ctx: Context, a: Anchor, f: Finding, side: str, asked: str) -> str:
    """"Is A1 above the diaphragm?" where no dome is placed on the finding's side: what the lung map says, and that no
    dome is placed (a dome off its lung field's floor is not given, ``dome_floor``)."""
    none = ctx.t(f"本片未给出{word('side', side, 'zh')}侧膈顶的位置,因此未与膈顶比较高度。",
                 f"No {side} dome of the diaphragm is placed on this film, so its height is not set against the dome's.")
    if DOME_UNPLACED in ctx.facts.film_check.warnings:
        none += ("" if ctx.zh else " ") + ctx.t(*_DOME_OFF_FLOOR)
    if _lung_map_height(f) != "above":
        return _on_the_diaphragm(ctx, a, f, None) + ("" if ctx.zh else " ") + none
    verdict = ("", "") if asked == "either" else (("是:", "Yes: ") if asked == "above" else ("否:", "No: "))
    zh, en = _in_the_field(ctx, a, f)
    return ctx.t(f"{verdict[0]}{zh}。", f"{verdict[1]}{en[:1].upper() if not verdict[1] else en[:1]}{en[1:]}.") + (
        "" if ctx.zh else " ") + none


def _vertical_apart(ctx: Context, drop_mm: float) -> tuple[str, str]:
    """How far apart in height two points said to lie at the same level are, (zh, en): "at the same height" where it
    rounds to nothing ("0.0 mm apart" read as a measurement of a gap)."""
    if r1(drop_mm) == 0.0:
        return "高度相同", "at the same height"
    return f"上下相差约{mm(r1(drop_mm))} mm", f"{mm(r1(drop_mm))} mm apart vertically"


def _lung_map_height(f: Finding) -> str:
    """Where a finding lies against the diaphragm on the film's own lung map: "above" in a lung field (the diaphragm
    under it); "on" for fluid, which lies on the diaphragm in the pleural space, and for a finding projected below the
    dome (``Finding.overlies`` "diaphragm"), which may lie in the lung behind the dome or below the diaphragm."""
    return "on" if f.kind == "effusion" or f.overlies == "diaphragm" else "above"


def _on_the_diaphragm(ctx: Context, a: Anchor, f: Finding, where: tuple[str, str] | None) -> str:
    """"Is A2 above the diaphragm?" of fluid, or of a finding projected below the dome: where it lies, no yes or no (it
    had said "No: A2's centre lies about 3.8 cm below the right dome" of an effusion in the costophrenic recess)."""
    if f.kind == "effusion":
        text = ctx.t(f"{a.id}为积液样密度影,位于{pleural_space(f.side, 'zh')},积于膈面之上的肋膈隐窝,该处低于膈顶",
                     f"{a.id} is an effusion-like opacity in the {pleural_space(f.side, 'en')}: fluid lies on the "
                     "diaphragm, in the costophrenic recess, which lies lower than the dome")
    else:
        text = ctx.t(f"正位片上{a.id}投影于膈顶下方:它位于膈顶后方的肺内还是膈下,正位片无法判断,侧位片可明确",
                     f"On this frontal film {a.id} is projected below the dome of the diaphragm: whether it lies in the "
                     "lung behind the dome or below the diaphragm a frontal film cannot tell; a lateral view would show it")
    return ctx.t(f"{text}。" + (f"{where[0]}。" if where else ""), f"{text}." + (f" {where[1]}." if where else ""))


def _dome_disagrees(ctx: Context, a: Anchor, f: Finding, asked: str, where: tuple[str, str]) -> str:
    """"Is A1 above the diaphragm?" where the dome placed on this film says otherwise than the finding's own lung
    placement (a lung nodule "at about the level of the right dome": a dome placed too high): neither is taken over the
    other, and it is said that the film cannot settle it (it had answered "No")."""
    map_zh, map_en = _in_the_field(ctx, a, f)
    map_en = map_en[:1].upper() + map_en[1:]
    asked_zh = {"above": "是否位于膈肌上方", "below": "是否位于膈肌下方"}.get(asked, "位于膈肌上方还是下方")
    asked_en = {"above": "whether it lies above the diaphragm", "below": "whether it lies below the diaphragm"}.get(
        asked, "whether it lies above or below the diaphragm")
    return ctx.t(f"{map_zh};但本片所定的膈顶与此不一致:{where[0]}。两者不一致,因此本片无法确定{a.id}{asked_zh},需放射科医师阅片。",
                 f"{map_en}; but the dome placed on this film disagrees: {where[1]}. The two "
                 f"disagree, so {asked_en} cannot be settled from this film; a radiologist's reading would.")


def _with_side_of(ctx: Context, a: Anchor, f: Finding, comp: Composition, h: Anchor) -> Composition:
    """"Is the nodule lateral to the right hilum?" / "结节在右肺门内侧吗": the finding's centre against the hilum across the
    film, said first (yes / no), before the distance. Lateral is away from the midline: the image's left for the right
    hilum. A finding in the other lung is neither, and is said to be there; one near the midline whose side is not
    confirmed is placed by its centre alone."""
    asked = ctx.query.across
    if asked is None:
        return comp
    hilum_side = "right" if h.name.endswith("right") else "left"
    if f.side != hilum_side and f.side_confirmed:
        line = ctx.t(f"否:{a.id}在{word('side', f.side, 'zh')}肺,{h.label_zh}在另一侧,不存在内外侧关系。",
                     f"No: {a.id} lies in the {f.side} lung, on the other side from the {h.label_en}, so it is "
                     "neither lateral nor medial to it.")
        line = line.removeprefix("否:").removeprefix("No: ") if asked == "either" else line
    else:
        out = (h.center_px[0] - f.center_px[0]) * ctx.facts.spacing.col_mm  # > 0: towards the image's left
        out = out if hilum_side == "right" else -out  # > 0: the finding lies further from the midline
        lies = "level" if abs(out) < LEVEL_MM else "lateral" if out > 0 else "medial"
        verdict = "" if asked == "either" else ctx.t("是:" if lies == asked else "否:", "Yes: " if lies == asked else "No: ")
        where = {"level": (f"{a.id}中心与{h.label_zh}在横向上大致相当(相差约{mm(r1(abs(out)))} mm)",
                           f"{a.id}'s centre lies about as far out as the {h.label_en} ({mm(r1(abs(out)))} mm apart "
                           "across the film)"),
                 "lateral": (f"{a.id}中心位于{h.label_zh}外侧约{cm(abs(out))} cm",
                             f"{a.id}'s centre lies about {cm(abs(out))} cm lateral to the {h.label_en}"),
                 "medial": (f"{a.id}中心位于{h.label_zh}内侧约{cm(abs(out))} cm",
                            f"{a.id}'s centre lies about {cm(abs(out))} cm medial to the {h.label_en}")}[lies]
        line = ctx.t(f"{verdict}{where[0]}。", f"{verdict}{where[1]}.")
    return dataclasses.replace(comp, sections=(section("relation", ctx.t("内外", "Across"), line), *comp.sections))


def _hilum_relation(ctx: Context, a: Anchor, f: Finding, h: Anchor) -> Composition:
    """"How far is it from the hilum?": centre to hilum, the gap to the nearest hilar structure, and what joins them."""
    rel = f.hilum if f.hilum and h.name == f"hilum_{f.hilum.side}" else None
    dist = r1(rel.center_distance_mm) if rel else r1(_mm_between(ctx, f.center_px, h.center_px))
    registry, link = add_relation(ctx.registry, a, h, ctx.turn)
    source = ctx.facts.spacing.source
    meas: list[dict[str, Any]] = [{"kind": "distance", "from": a.id, "to": h.id, "mm": dist, "spacing_source": source,
                                   "from_px": [r1(f.center_px[0]), r1(f.center_px[1])],
                                   "to_px": [r1(h.center_px[0]), r1(h.center_px[1])], "relation_anchor_id": link.id}]
    if rel is not None:
        meas.append({"kind": "gap", "from": a.id, "to": h.id, "mm": r1(rel.gap_mm), "spacing_source": source,
                     "from_px": [r1(rel.gap_from_px[0]), r1(rel.gap_from_px[1])],
                     "to_px": [r1(rel.gap_to_px[0]), r1(rel.gap_to_px[1])],
                     "connected": rel.connected, "bronchus_cut_off": rel.bronchus_cut_off})
    lines = _relation_lines(ctx, a, f, h, dist)
    if ctx.query.distance_op and ctx.query.distance_mm:  # "is it more than 2 cm from the hilum?": yes or no first
        lines.insert(0, against_line(ctx, ctx.query.distance_op, ctx.query.distance_mm, dist,
                                     (f"中心距{h.label_zh}", "its centre", f" from the {h.label_en}")))
    text = ("" if ctx.zh else " ").join(lines)
    sections = [section("relation", ctx.t("与肺门的关系", "Relation to the hilum"), text)]
    mismatch = mismatch_note(ctx, [(a, f)])
    if mismatch:
        sections.insert(0, mismatch)
    note = spacing_note(ctx)
    sections += [note] if note else [section("spacing", ctx.t("像素间距", "Pixel spacing"),
                                              ctx.t("距离按DICOM像素间距计算。", "Distances use the DICOM pixel spacing."))]
    return Composition(tuple(sections), findings=(finding_dict(f, a.id),), measurements=tuple(meas),
                       referenced=(a.id, h.id, link.id), registry=registry)


def _two_landmarks(ctx: Context, a: Anchor, f: Finding, names: list[str]) -> Composition:
    """"Is A1 closer to the heart or to the pleura?" / "A1离心脏近还是离胸膜近": each edge-to-edge distance, then which
    is the nearer (it measured the first landmark named only)."""
    parts = [_landmark_relation(ctx, a, f, n) for n in names]
    sections = [s for p in parts for s in p.sections if s["kind"] == "relation"]
    gaps = [m["mm"] for p in parts for m in p.measurements[:1]]
    if len(gaps) == 2:
        label = [LANDMARK_NAMES[n] for n in names]
        near = 0 if gaps[0] <= gaps[1] else 1
        if abs(gaps[0] - gaps[1]) < 1.0:
            line = ctx.t(f"{a.id}离{label[0][0]}与离{label[1][0]}的距离相近。",
                         f"{a.id} lies about as close to the {label[0][1]} as to the {label[1][1]}.")
        else:
            line = ctx.t(f"{a.id}离{label[near][0]}较近。", f"{a.id} is closer to the {label[near][1]}.")
        sections.insert(0, section("relation", ctx.t("比较", "Which is nearer"), line))
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), findings=(finding_dict(f, a.id),),
                       measurements=tuple(m for p in parts for m in p.measurements),
                       referenced=tuple(dict.fromkeys(r for p in parts for r in p.referenced)))


# --- compare -------------------------------------------------------------------------------------


def _one_thing_asked(q: Query) -> bool:
    """A comparison that asks the findings' sizes or densities only ("which one is bigger?", "哪个密度高"): answered
    without their distances to the hilum and their heights."""
    sized = bool({"large", "small"} & set(q.descriptors)) or q.size_asked is not None or q.attribute == "density"
    return sized and not q.compared_whole and q.landmark is None and q.vertical is None


def _compare_extra(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> list[str]:
    """Which is closer to its hilum, which lies higher, and how many of a checklist's signs each shows where the
    dialogue asked about that checklist (``_counted_checklists``: a count, never a verdict)."""
    lines: list[str] = []
    if _one_thing_asked(ctx.query):  # "which one is bigger?": that, not where each lies
        return _sign_counts(ctx, pairs)
    near = [(a, f) for a, f in pairs if f.hilum is not None]
    if len(near) >= 2:
        ordered = sorted(near, key=lambda p: p[1].hilum.center_distance_mm if p[1].hilum else 0.0)
        dists = ("、" if ctx.zh else ", ").join(
            f"{a.id} {cm(r1(f.hilum.center_distance_mm))} cm" for a, f in ordered if f.hilum is not None)
        most = len(near) > 2
        lines.append(ctx.t(f"{ordered[0][0].id}离肺门{'最' if most else '较'}近(中心至肺门:{dists})。",
                           f"{ordered[0][0].id} is the {'closest' if most else 'closer'} to its hilum (centre to hilum: "
                           f"{dists})."))
    nearer = _nearer_landmark(ctx, pairs)
    if nearer:  # "which one is closer to the pleura?"
        lines.append(nearer)
    if len(pairs) > 2:  # three or more: the highest and the lowest, not "A2 higher, A1 lower" of two of them
        by_height = sorted(pairs, key=lambda p: p[1].center_px[1])
        (top, ft), (bottom, fb) = by_height[0], by_height[-1]
        span = (fb.center_px[1] - ft.center_px[1]) * ctx.facts.spacing.row_mm
        order = ("、" if ctx.zh else ", ").join(a.id for a, _ in by_height)
        lines.append(ctx.t(f"自上而下依次为{order}({top.id}与{bottom.id}中心上下相差约{cm(abs(span))} cm)。",
                           f"From top to bottom: {order} ({top.id} and {bottom.id} centres {cm(abs(span))} cm apart "
                           "vertically)."))
        return lines + _sign_counts(ctx, pairs)
    (a1, f1), (a2, f2) = pairs[0], pairs[1]
    drop_mm = (f2.center_px[1] - f1.center_px[1]) * ctx.facts.spacing.row_mm  # > 0: the second lies lower
    if abs(drop_mm) < 5.0:  # "is the strand above or below the nodule?"
        lines.append(ctx.t(f"{a1.id}与{a2.id}的中心高度相近(相差约{mm(abs(drop_mm))} mm)。",
                           f"{a1.id} and {a2.id} lie at about the same height ({mm(abs(drop_mm))} mm apart)."))
    else:
        upper, lower = (a1, a2) if drop_mm > 0 else (a2, a1)
        lines.append(ctx.t(f"{upper.id}位置较高,{lower.id}较低(中心上下相差约{cm(abs(drop_mm))} cm)。",
                           f"{upper.id} lies higher and {lower.id} lower (centres {cm(abs(drop_mm))} cm apart vertically)."))
    return lines + _sign_counts(ctx, pairs)


def _nearer_landmark(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> str:
    """"Which one is closer to the pleura?" / "哪个离胸膜更近": which finding lies nearest the landmark asked (the pleura,
    the diaphragm), with each one's distance to it; "" for any other landmark, or none."""
    landmark = {"pleura": ("distance_to_pleura_mm", "胸膜", "the pleura"),
                "diaphragm": ("distance_to_diaphragm_mm", "膈面", "the diaphragm")}.get(ctx.query.landmark or "")
    if landmark is None or len(pairs) < 2:
        return ""
    attr, zh_name, en_name = landmark
    ordered = sorted(pairs, key=lambda p: float(getattr(p[1], attr)))
    dists = ("、" if ctx.zh else ", ").join(f"{a.id} {mm(r1(float(getattr(f, attr))))} mm" for a, f in ordered)
    most = len(pairs) > 2
    return ctx.t(f"{ordered[0][0].id}离{zh_name}{'最' if most else '较'}近(至{zh_name}:{dists})。",
                 f"{ordered[0][0].id} is the {'closest' if most else 'closer'} to {en_name} ({dists}).")


def _counted_checklists(ctx: Context) -> list[cl.Checklist]:
    """The finding checklists a comparison counts each finding's signs against: the ones the dialogue asked (named by
    this question or answered in an earlier turn, ``Query.checklists_asked``) where the findings are compared whole or
    which is of more concern is asked, early lung cancer's for the latter when none was asked; none where one thing is
    asked of them ("which one is bigger?"), and none nobody asked for ("which side is worse?" on a child's pneumonia
    film had counted lung-cancer signs)."""
    asked = [c for c in (ctx.ontology.checklist(n) for n in ctx.query.checklists_asked) if c and c.subject == "finding"]
    if ctx.query.counts_signs:
        fallback = ctx.ontology.checklist("early_lung_cancer")
        return asked or ([fallback] if fallback is not None else [])
    return asked if ctx.query.compared_whole else []


def _sign_counts(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> list[str]:
    """How many of a checklist's signs each finding of the kinds it applies to shows, for each checklist counted
    (``_counted_checklists``): a count, never a verdict."""
    lines: list[str] = []
    for checklist in _counted_checklists(ctx):
        if not any(fits_kinds(a, checklist.kinds) for a, _ in pairs):
            continue
        counts = []
        for a, f in pairs:
            if checklist.kinds and not fits_kinds(a, checklist.kinds):  # a strand or an effusion: not counted
                continue
            results = cl.evaluate(checklist, ctx.facts, f, ctx.lang, ctx.ontology, ctx.interval, ctx.registry)
            card = cl.checklist_dict(checklist, results, ctx.lang, a.id)
            counts.append(ctx.t(f"{a.id}符合{card['matched']}/{card['total']}条", f"{a.id} {card['matched']} of {card['total']}"))
        zh_title, en_title = (("早期肺癌典型X线表现", "Typical signs of early lung cancer") if checklist.name == "early_lung_cancer"
                              else (f"{checklist.title_zh}的征象", f"Signs of a {checklist.title_en}"))
        lines.append(ctx.t(f"{zh_title}(可判定者):{'、'.join(counts)};这是征象计数,不是诊断。",
                           f"{en_title} (of those this film decides): {', '.join(counts)}; a count of signs, not a "
                           "diagnosis."))
    return lines


def _each_side(ctx: Context) -> dict[str, Any]:
    """"Which side is worse?": Hilum does not grade one lung's disease against the other's; what each lung shows, what
    a lung with none can hide, and each side's costophrenic angle. "Compare the two sides": the same, without the
    grading."""
    per_side = []
    for side in ("right", "left"):
        found = [a for a in ctx.registry.findings() if a.side == side]
        lung_zh, lung_en = word("side", side, "zh") + "肺", f"the {word('side', side, 'en')} lung"
        per_side.append(ctx.t(f"{lung_zh}:" + ("、".join(f"{a.id}({a.label_zh})" for a in found) if found else "未见候选病灶"),
                              f"{lung_en}: " + (", ".join(f"{a.id} ({a.label_en})" for a in found) if found
                                                else "no candidate region")))
    if ctx.query.sides_graded:
        lead = ctx.t("Hilum不评判哪一侧病变更重;两侧所见:", "Hilum does not grade which lung is worse; what each shows: ")
    elif ctx.query.attribute == "lucency":  # "is the left lung clearer than the right?": a lung field's darkness is not read
        lead = ctx.t("Hilum不比较两侧肺野的明暗(透亮度);两侧所见:",
                     "Hilum does not compare how dark or clear the two lung fields look; what each shows: ")
    else:
        lead = ctx.t("两侧所见:", "What each lung shows: ")
    missed = _miss_note(ctx) if {a.side for a in ctx.registry.findings()} < {"right", "left"} else ""
    angles = [_angle_line(c, ctx) for c in ctx.facts.anatomy.costophrenic]
    return section("sides", ctx.t("两侧", "The two lungs"), ctx.t(
        lead + ";".join(per_side) + "。" + missed + "".join(angles),
        lead + "; ".join(per_side) + "." + missed + "".join(" " + line for line in angles)))


def _sides_extent(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any] | None:
    """"Which side is worse?" / "which lung has more opacity?": which lung's candidate regions cover more of the film, by
    their projected areas added up (an extent, not a grade: Hilum does not grade disease), fluid aside (it is graded by
    how high it reaches, not ranked by area with lesions); then the sign counts a checklist asked brings."""
    lesions = [(a, f) for a, f in pairs if f.kind != "effusion"]
    area = {side: sum(f.area_mm2 for _, f in lesions if f.side == side) for side in ("right", "left")}
    ids = {side: [a.id for a, f in lesions if f.side == side] for side in ("right", "left")}
    more = max(("right", "left"), key=lambda sd: area[sd])
    less = "left" if more == "right" else "right"
    cm2 = {side: f"{area[side] / 100:.1f}" for side in area}
    zh_side = {sd: word("side", sd, "zh") + "肺" for sd in area}
    en_side = {sd: f"the {word('side', sd, 'en')} lung" for sd in area}
    if not lesions:
        lines: list[str] = []
    elif not ids[less]:
        one = len(ids[more]) == 1
        lines = [ctx.t(f"只有{zh_side[more]}有候选病灶:{'、'.join(ids[more])},投影面积{'' if one else '合计'}约{cm2[more]} cm²。",
                       f"Only {en_side[more]} has {'a candidate region' if one else 'candidate regions'}: "
                       f"{and_list(ids[more])}, about {cm2[more]} cm² by projected area{'' if one else ' together'}.")]
    elif area[more] - area[less] <= SIZE_SAME * area[more]:
        lines = [ctx.t(f"按投影面积,两肺候选病灶的范围相近:右肺约{cm2['right']} cm²({'、'.join(ids['right'])}),"
                       f"左肺约{cm2['left']} cm²({'、'.join(ids['left'])})。",
                       f"By projected area the two lungs' candidate regions are about as extensive: the right lung about "
                       f"{cm2['right']} cm² ({', '.join(ids['right'])}), the left about {cm2['left']} cm² "
                       f"({', '.join(ids['left'])}).")]
    else:
        lines = [ctx.t(f"按投影面积,{zh_side[more]}的候选病灶范围较大:约{cm2[more]} cm²({'、'.join(ids[more])}),"
                       f"{zh_side[less]}约{cm2[less]} cm²({'、'.join(ids[less])})。",
                       f"By projected area {en_side[more]}'s candidate regions are the more extensive: about {cm2[more]} "
                       f"cm² ({', '.join(ids[more])}), against about {cm2[less]} cm² in {en_side[less]} "
                       f"({', '.join(ids[less])}).")]
    fluid = [a.id for a, f in pairs if f.kind == "effusion"]
    if fluid:
        lines.append(ctx.t(f"{'、'.join(fluid)}为积液样密度影,不计入面积:积液按其上缘高度分级。",
                           f"{and_list(fluid)} {'is' if len(fluid) == 1 else 'are'} effusion-like and not added: fluid is "
                           "graded by how high it reaches."))
    lines += _sign_counts(ctx, pairs)
    return section("compare", ctx.t("比较", "Comparison"), ("" if ctx.zh else " ").join(lines)) if lines else None


def compose_compare(ctx: Context) -> Composition:
    if ctx.query.sides_graded or ctx.query.sides_compared:
        # "which side is worse?": what each lung shows, then which lung's findings are the more extensive (it had
        # compared two findings, which may lie in one lung, down to their heights, and counted lung-cancer signs);
        # "compare the two sides": what each lung shows
        pairs = subject_findings(ctx)
        extent = _sides_extent(ctx, pairs) if ctx.query.sides_graded and pairs else None
        note = spacing_note(ctx) if extent is not None else None
        return Composition(tuple(x for x in (_each_side(ctx), extent, note) if x),
                           findings=tuple(finding_dict(f, a.id) for a, f in pairs),
                           measurements=tuple(_diameter_measurement(a, f, ctx) for a, f in pairs) if extent else (),
                           referenced=tuple(a.id for a, _ in pairs))
    pairs = subject_findings(ctx)
    if len(pairs) < 2:
        only = ctx.t("本片只有一处候选病灶,无从比较。", "There is only one candidate region on this film, so there is nothing to compare.")
        named = [a for a in ctx.subjects if a.finding_id is None]  # "compare A1 with A3", A3 being a hilum
        if named:  # on a film with one finding or none too ("is A1 bigger than A2?", both hila: "only one region")
            what = "、".join(f"{a.id}({a.label_zh})" for a in named) if ctx.zh else and_list(
                [f"{a.id} ({a.label_en})" for a in named])
            are = "is an anatomy anchor, not a finding" if len(named) == 1 else "are anatomy anchors, not findings"
            only = ctx.t(f"{what}是解剖锚点,不是病灶;比较需要两处病灶。", f"{what} {are}; a comparison needs two findings.") + (
                _regions_found(ctx) or ctx.t("本片未发现明确的肺内病灶。", " No focal lung lesion was found.") + _miss_note(ctx))
        return Composition((section("compare", ctx.t("比较", "Comparison"), only),),
                           findings=tuple(finding_dict(f, a.id) for a, f in pairs), referenced=tuple(a.id for a, _ in pairs))
    rows = [{"anchor_id": a.id, "lobe": f.lobe, "zone": f.zone, "band": f.band, "shape": f.shape,
             "diameter_mm": r1(f.diameter_mm), "size_mm": list(finding_size(f).mm), "margin": margin_code(f)}
            for a, f in pairs]
    lines = [finding_line(a, f, ctx.lang) for a, f in pairs]
    # an effusion-like opacity is fluid in the pleural space: no lesion's size or margin to rank it by
    lesions = [(a, f) for a, f in pairs if f.kind != "effusion"] or pairs
    big = max(lesions, key=lambda p: p[1].diameter_mm)
    most = len(lesions) > 2
    if ctx.query.attribute == "density":  # "which one is denser?" (it said which was larger, and their margins)
        lines.append(ctx.t("Hilum不比较病灶之间的密度高低;它对各处的判读:",
                           "Hilum does not rank findings by how dense they look; what it reads of each:"))
        lines += [density_text(a, f, ctx.lang) for a, f in pairs]
    elif len(lesions) >= 2:
        lines.append(ctx.t(f"{big[0].id}{'最大;各自' if most else '较大;两者'}边缘分别为"
                           + "、".join(f"{a.id}{margin_phrase(f, 'zh')}" if most else margin_phrase(f, "zh") for a, f in lesions)
                           + "。",
                           f"{big[0].id} is the {'largest' if most else 'larger'}; margins: "
                           + ", ".join(f"{a.id} {margin_phrase(f, 'en')}" for a, f in lesions) + "."))
    if len(lesions) < len(pairs):
        fluid = ("、" if ctx.zh else ", ").join(a.id for a, f in pairs if f.kind == "effusion")
        lines.append(ctx.t(f"{fluid}为积液样密度影,不与病灶比较大小和边缘。",
                           f"{fluid} is effusion-like: its size and margin are not ranked with the lesions'."))
    lines += _compare_extra(ctx, pairs)
    nearer = _nearer_landmark(ctx, pairs)  # "which is nearer the pleura, A1 or A2?": what is asked, first
    lines = [nearer, *(line for line in lines if line != nearer)] if nearer else lines
    sections = [section("compare", ctx.t("比较", "Comparison"), ("" if ctx.zh else " ").join(lines), rows=rows)]
    verdict = _size_verdict(ctx, pairs)
    if verdict is not None:  # "is A1 bigger than A2?": yes or no first, then the comparison it rests on
        sections.insert(0, verdict)
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    # "which is the biggest?" settles on one: "how big is it?" next is about that one
    small = "small" in ctx.query.descriptors and "large" not in ctx.query.descriptors
    winner = min(lesions, key=lambda p: p[1].diameter_mm) if small else big
    focus = winner[0].id if {"large", "small"} & set(ctx.query.descriptors) and len(lesions) >= 2 else None
    if ctx.query.it_and_other and len(pairs) > 2:  # "is it bigger than the other one?", set against each: "it" stays
        focus = pairs[0][0].id
    return Composition(tuple(sections), findings=tuple(finding_dict(f, a.id) for a, f in pairs),
                       measurements=tuple(_diameter_measurement(a, f, ctx) for a, f in pairs),
                       referenced=tuple(a.id for a, _ in pairs), focus=focus)


SIZE_SAME = 0.1  # sizes within this fraction of the larger one are not told apart by the answers


def _size_verdict(ctx: Context, pairs: list[tuple[Anchor, Finding]]) -> dict[str, Any] | None:
    """"Is A1 bigger than A2?" answered yes or no, of the first finding named against the second (sizes within
    ``SIZE_SAME`` of each other: about the same); none where two lesions are not what is compared (fluid is not
    ranked by size with lesions)."""
    asked = ctx.query.size_asked
    if asked is not None and len(pairs) > 2 and ctx.query.it_and_other:
        return _each_verdict(ctx, pairs, asked)
    if asked is None or len(pairs) != 2:
        return None
    fluid = [a.id for a, f in pairs if f.kind == "effusion"]
    if fluid:
        text = ctx.t(f"无法比较:{'、'.join(fluid)}为积液样密度影,不与病灶比较大小。",
                     f"Not compared: {' and '.join(fluid)} is effusion-like, and fluid is not ranked by size with lesions.")
        return section("size_verdict", ctx.t("大小", "Size"), text)
    (a, fa), (b, fb) = pairs
    sides = [m.split(":", 1)[1] for m in ctx.query.mentions if m.startswith("side:")]
    if len(sides) == 2 and sides == [fb.side, fa.side] and fa.side != fb.side:  # asked of them in the other order
        (a, fa), (b, fb) = (b, fb), (a, fa)
    if len(sides) == 2 and sides != [fa.side, fb.side]:  # "is the right one bigger than the left one?", none right
        missing = next((sd for sd in sides if sd not in (fa.side, fb.side)), None)
        if missing is not None:
            text = ctx.t(f"无法按所问比较:{word('side', missing, 'zh')}侧没有病灶({a.id}、{b.id}均在"
                         f"{word('side', fa.side, 'zh')}侧)。",
                         f"Not compared as asked: no finding lies on the {word('side', missing, 'en')} ({a.id} and "
                         f"{b.id} are both on the {word('side', fa.side, 'en')}).")
            return section("size_verdict", ctx.t("大小", "Size"), text)
    text = _verdict_line(ctx, asked, (a, fa), (b, fb))
    if any(finding_size(f).kind == "axes" for _, f in pairs):
        text += ctx.t("条索影或实变的长短径见下。", " A strand's or consolidation's two axes are below.")
    return section("size_verdict", ctx.t("大小", "Size"), text)


def _verdict_line(ctx: Context, asked: str, first: tuple[Anchor, Finding], second: tuple[Anchor, Finding],
                  named: bool = False) -> str:
    """"Is A1 bigger than A2?": yes or no, by the equivalent diameters (within ``SIZE_SAME``: about the same; ``named``:
    saying which two are, as one of several such lines)."""
    (a, fa), (b, fb) = first, second
    da, db = r1(fa.diameter_mm), r1(fb.diameter_mm)
    # the measure named: a strand's equivalent diameter is far below its length, which the answers lead with
    sizes_zh = f"等效直径{a.id}约{mm(da)} mm、{b.id}约{mm(db)} mm"
    sizes_en = f"equivalent diameters: {a.id} about {mm(da)} mm, {b.id} about {mm(db)} mm"
    if abs(da - db) <= SIZE_SAME * max(da, db):
        return ctx.t(f"{f'{a.id}与{b.id}' if named else ''}大小相近({sizes_zh}),差别在测量能分辨的范围之内。",
                     f"{f'{a.id} and {b.id} are about' if named else 'About'} the same size ({sizes_en}): the difference "
                     "is within what the measurement tells apart.")
    yes = (da > db) == (asked == "large")
    bigger = da > db
    return ctx.t(f"{'是' if yes else '否'}:{a.id}比{b.id}{'大' if bigger else '小'}({sizes_zh})。",
                 f"{'Yes' if yes else 'No'}: {a.id} is {'larger' if bigger else 'smaller'} than {b.id} ({sizes_en}).")


def _each_verdict(ctx: Context, pairs: list[tuple[Anchor, Finding]], asked: str) -> dict[str, Any]:
    """"Is it bigger than the other one?" with two others or more (``anchors._it_and_other``, note ``each_other``):
    the first against each of the others, yes or no each (fluid is not ranked by size with lesions)."""
    first, others = pairs[0], pairs[1:]
    lines = []
    for other in others:
        if first[1].kind == "effusion" or other[1].kind == "effusion":
            fluid = first[0].id if first[1].kind == "effusion" else other[0].id
            lines.append(ctx.t(f"{first[0].id}与{other[0].id}:无法比较,{fluid}为积液样密度影,不与病灶比较大小。",
                               f"{first[0].id} and {other[0].id}: not compared, {fluid} is effusion-like and fluid is "
                               "not ranked by size with lesions."))
        else:
            lines.append(_verdict_line(ctx, asked, first, other, named=True))
    if any(finding_size(f).kind == "axes" for _, f in pairs):
        lines.append(ctx.t("条索影或实变的长短径见下。", "A strand's or consolidation's two axes are below."))
    return section("size_verdict", ctx.t("大小", "Size"), ("" if ctx.zh else " ").join(lines))


# --- checklists ----------------------------------------------------------------------------------


def compose_checklist(ctx: Context) -> Composition:
    if ctx.query.differential and not ctx.query.checklist:
        return compose_differential(ctx)
    # "could it be a hamartoma?": the closest checklist Hilum has for a disease it has none for, named as that
    closest = CLOSEST_CHECKLIST.get(ctx.query.unlisted_disease or "")
    name = ctx.query.checklist or closest or "early_lung_cancer"
    checklist = ctx.ontology.checklist(name) or ctx.ontology.checklist("early_lung_cancer")
    assert checklist is not None
    pairs = subject_findings(ctx)
    subject = pairs[0] if pairs and checklist.subject == "finding" else None
    if subject is not None and checklist.kinds and not fits_kinds(subject[0], checklist.kinds):
        return _checklist_not_for(ctx, checklist, subject[0])
    results, card, lines = _checked(ctx, checklist, subject[1] if subject else None, subject[0].id if subject else None)
    who = subject[0].id if subject else ctx.t("本片", "this film")
    head = ctx.t(f"{checklist.title_zh}的典型X线表现(按特异性排序),对照{who}。",
                 f"Typical radiograph signs of {checklist.title_en} (most specific first), checked against {who}.")
    score = ctx.t(f"可判定的{card['total']}条中符合{card['matched']}条。",
                  f"{decidable_present(card)}.") if card["total"] else ctx.t(
        "本片上这些征象都无法判定。", "None of these signs can be decided on this film.")
    weak = _nonspecific_note(ctx, results)  # "round or oval nodule ... non-specific": the count read with that
    score += (("" if ctx.zh else " ") + weak) if weak else ""
    sections = [section("checklist", checklist.title(ctx.lang), head + ("" if ctx.zh else " ") + _sign_list(ctx, lines)),
                section("score", ctx.t("符合情况", "Score"), score)]
    mismatch = mismatch_note(ctx, [subject]) if subject else None
    if mismatch:
        sections.insert(0, mismatch)
    if ctx.query.unlisted_disease and closest == checklist.name:  # "could it be a hamartoma?": the closest, said so
        zh, en = word("disease", ctx.query.unlisted_disease, "zh"), word("disease", ctx.query.unlisted_disease, "en")
        sections.insert(0, section("no_checklist", ctx.t("没有对应的征象清单", "No checklist for that"), ctx.t(
            f"本系统没有{zh}的征象清单;最接近的是{checklist.title_zh}的清单,见下:这些征象并非{zh}所特有,符合几条既不说明是{zh},"
            "也不说明不是。",
            f"Hilum has no sign checklist for {en}; the closest it has is the {checklist.title_en} checklist, below: its "
            f"signs are not particular to {en}, and how many are present says neither that it is {_article(en)} nor "
            "that it is not.")))
    elif ctx.query.unlisted_disease:  # "could it be a metastasis?": say what is shown instead, and why
        zh, en = word("disease", ctx.query.unlisted_disease, "zh"), word("disease", ctx.query.unlisted_disease, "en")
        sections.insert(0, section("no_checklist", ctx.t("没有对应的征象清单", "No checklist for that"), ctx.t(
            f"本系统没有{zh}的征象清单,无法对照;下面是{checklist.title_zh}的典型征象,仅供对照,不代表它与{zh}有关。",
            f"Hilum has no sign checklist for {en}, so it cannot check against it; below are the typical signs of "
            f"{checklist.title_en}, for reference only, not because they bear on {en}.")))
    if ctx.query.verdict_asked:  # "is the nodule cancer?": that Hilum cannot say comes first, the signs after
        sections.insert(0, _no_verdict(ctx, ctx.query.verdict_asked, subject[0] if subject else None))
    unsure = [r for r in results if r.status == "uncertain"]
    if unsure:
        # (with why, where the film's want is not what the settle supplies: "no hilum is placed on this film")
        text = ("；".join(f"{r.label}本片无法确定({r.why + ';' if r.why else ''}可行{r.settle}明确)" for r in unsure)
                + "。") if ctx.zh else (
            "; ".join(f"{r.label[:1].upper()}{r.label[1:]} cannot be decided on this film — {r.settle} would settle it"
                      f"{' (' + r.why + ')' if r.why else ''}" for r in unsure) + ".")
        sections.append(section("uncertain", ctx.t("待明确", "To settle"), text))
    further = pairs[1:] if subject else []
    sections[2:2] = [_checklist_of_another(ctx, checklist, a, f) for a, f in further]
    note = spacing_note(ctx)
    sections += [s for s in (note, disclaimer(ctx)) if s]
    meas: tuple[dict[str, Any], ...] = ()
    if subject and subject[1].hilum:
        hilum = ctx.registry.for_name(f"hilum_{subject[1].hilum.side}")  # its anchor, as the distance answer names it
        meas = ({"kind": "distance", "from": subject[0].id,
                 "to": hilum.id if hilum else f"hilum_{subject[1].hilum.side}",
                 "mm": r1(subject[1].hilum.center_distance_mm), "spacing_source": ctx.facts.spacing.source},)
    shown = pairs[: 1 + len(further)]
    if ctx.interval is not None and ctx.interval.comparable and checklist.subject == "finding":
        # the sizes its growth items rest on, as the comparison's own rows
        meas += interval_section(ctx.interval, ctx.registry, ctx.lang, tuple(f.id for _, f in shown))[1]
    return Composition(tuple(sections), findings=tuple(finding_dict(f, a.id) for a, f in shown),
                       measurements=meas, checklist=card, referenced=tuple(a.id for a, _ in shown))


# a sign whose specificity (signs.json) is at most this is common to many lesions, benign ones too: round or oval shape,
# more than 3 cm from the hilum (most nodules are peripheral), homogeneous density, small size, patchy opacity. They stay
# in their checklists (the checklists are the ontology's, and a comparison counts them too), and the answer says which of
# the signs present are these, and how many of the rest are present
NON_SPECIFIC = 0.3


def _nonspecific_note(ctx: Context, results: list[cl.ItemResult]) -> str:
    """Which present signs are non-specific (``NON_SPECIFIC``), and the count of the specific ones; "" where no present
    sign is non-specific."""
    weak = [r for r in sorted(results, key=lambda r: -r.specificity) if r.status == "yes" and r.specificity <= NON_SPECIFIC]
    if not weak:
        return ""
    specific = [r for r in results if r.status in ("yes", "no") and r.specificity > NON_SPECIFIC]
    present = sum(1 for r in specific if r.status == "yes")
    names_zh, names_en = "、".join(r.label for r in weak), and_list([r.label for r in weak])
    if ctx.zh:
        rest = (f"特异性较高的征象可判定的{len(specific)}条中符合{present}条。" if specific else "特异性较高的征象本片都无法判定。")
        them = "它" if len(weak) == 1 else "它们"
        return f"其中{names_zh}是非特异性表现:良性和恶性病灶都常见,单凭{them}说明不了什么;{rest}"
    verb = "is" if len(weak) == 1 else "are"
    of = "1 decidable more specific sign" if len(specific) == 1 else f"the {len(specific)} decidable more specific signs"
    rest = (f"{present} of {of} {'is' if present == 1 or len(specific) == 1 else 'are'} present." if specific
            else "None of the more specific signs can be decided on this film.")
    return (f"Of the signs present, {names_en} {verb} non-specific: many lesions show {'it' if len(weak) == 1 else 'them'}, "
            f"benign and malignant alike, so on {'its' if len(weak) == 1 else 'their'} own "
            f"{'it says' if len(weak) == 1 else 'they say'} little. {rest}")


# what a verdict asked of a finding is said to be (zh, en): "whether A1 is cancer"
_VERDICT_WORDS = MappingProxyType({
    "cancer": ("是不是癌(恶性)", "is cancer"),
    "tumour": ("是不是肿瘤或癌", "is a tumour (or cancer)"),
    "benign": ("是良性还是恶性", "is benign or malignant"),
    "benign_or_malignant": ("是良性还是恶性", "is benign or malignant"),
})


def _no_verdict(ctx: Context, asked: str, a: Anchor | None) -> dict[str, Any]:
    """"Is the nodule cancer?" / "what's the chance it's cancer?" / "是肿瘤吗": that Hilum cannot say whether it is, nor
    how likely, said plainly before the checklist it shows as supporting observations."""
    what_zh, what_en = _VERDICT_WORDS.get(asked, _VERDICT_WORDS["cancer"])
    who_zh, who_en = (a.id, a.id) if a is not None else ("这处病灶", "this finding")
    return section("no_verdict", ctx.t("不能判断性质", "Not a verdict"), ctx.t(
        f"Hilum无法判断{who_zh}{what_zh},也不能给出其概率:这需要结合病史(如吸烟史、年龄)和CT,往往还需要组织病理(活检),"
        "由医师综合判断。下面的征象只是本片上的影像观察,供参考,不是结论。",
        f"Hilum cannot say whether {who_en} {what_en}, nor give a probability that it is: that needs the patient's history "
        "(smoking, age), a CT and often a tissue sample, weighed by a clinician. The signs below are observations on this "
        "film only, to support a reader, not a verdict."))


def _article(noun: str) -> str:
    """"a hamartoma" / "an inflammatory pseudotumour" / "a lung abscess"."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def compose_differential(ctx: Context) -> Composition:
    """"Differential for A1?" / "A1需要和什么鉴别?": Hilum gives no differential diagnosis, and says so; what it can do
    is count the finding's signs against every checklist it has for that kind of lesion (a nodule: early lung cancer
    and benign nodule), side by side, unweighed. A kind no finding checklist is for names the film's checklists."""
    pairs = subject_findings(ctx)
    subject = pairs[0] if pairs else None
    lists = [c for c in ctx.ontology.checklists if c.subject == "finding" and subject is not None
             and (not c.kinds or fits_kinds(subject[0], c.kinds))]
    film_lists = [c for c in ctx.ontology.checklists if c.subject != "finding"]
    described = ctx.t(f"它可以描述{subject[0].id}在片上的表现:位置、大小、边缘和密度。",
                      f" It can describe what the film shows of {subject[0].id}: where it lies, its size, its margin and "
                      "its density.") if subject else ""
    sections = [section("differential", ctx.t("鉴别诊断", "Differential"), ctx.t(
        "Hilum不给出鉴别诊断:鉴别诊断由医师结合临床资料和其他检查作出。",
        "Hilum does not give a differential diagnosis: weighing one is a clinician's, with the clinical picture and "
        "other imaging.") + described)]
    cards: list[dict[str, Any]] = []
    for checklist in lists:
        assert subject is not None
        _, card, lines = _checked(ctx, checklist, subject[1], subject[0].id)
        cards.append(card)
        score = ctx.t(f"可判定的{card['total']}条中符合{card['matched']}条", decidable_present(card, verb=False)) if (
            card["total"]) else ctx.t("这些征象都无法判定", "none of its signs can be decided")
        sections.append(section("checklist", checklist.title(ctx.lang), ctx.t(
            f"{checklist.title_zh}:{score}。", f"{checklist.title_en[:1].upper()}{checklist.title_en[1:]}: {score}. ")
            + _sign_list(ctx, lines)))
    if cards:
        assert subject is not None
        who_zh, who_en = f"{subject[0].id}({subject[0].label_zh})", f"{subject[0].id} ({subject[0].label_en})"
        titles_zh = "、".join(c.title_zh for c in lists)
        titles_en = " and ".join(c.title_en for c in lists)
        sections.insert(1, section("differential_checked", ctx.t("对照的清单", "Checked against"), ctx.t(
            f"下面把{who_zh}逐一对照本系统中适用于它的征象清单({titles_zh}),并列给出,不作权衡:符合的条数不是可能性大小。",
            f"Below, {who_en} is checked against each sign checklist Hilum has for it ({titles_en}), side by "
            "side and unweighed: a count of signs present is not a likelihood.")))
    else:
        names_zh = "、".join(c.title_zh for c in film_lists)
        names_en = ", ".join(c.title_en for c in film_lists)
        none_zh, none_en = (
            (f"本系统没有适用于{subject[0].id}这类病变的病灶征象清单。", f"Hilum has no finding checklist for a lesion of "
             f"{subject[0].id}'s kind.") if subject else ("本片没有可对照的病灶。", "No finding on this film to check."))
        sections.append(section("differential_checked", ctx.t("可对照的清单", "Checklists to ask for"), ctx.t(
            f"{none_zh}可以对照整张片子的清单:{names_zh},例如问“如果是肺炎,有哪些征象?”。",
            f"{none_en} The film can be checked against these: {names_en}; ask, for example, \"if this were "
            "pneumonia, which signs does it show?\"")))
    if ctx.query.verdict_asked:  # "benign or malignant?": that Hilum cannot say comes first
        sections.insert(0, _no_verdict(ctx, ctx.query.verdict_asked, subject[0] if subject else None))
    sections += [x for x in (spacing_note(ctx), disclaimer(ctx)) if x]
    shown = (subject,) if subject else ()
    return Composition(tuple(sections), findings=tuple(finding_dict(f, a.id) for a, f in shown),
                       checklist=cards[0] if cards else None, referenced=tuple(a.id for a, _ in shown))


def _checklist_not_for(ctx: Context, checklist: cl.Checklist, a: Anchor) -> Composition:
    """"If this were early lung cancer, how many signs?" of an effusion or a strand: the signs are not counted on a kind
    of lesion they are not for (an effusion's meniscus would count as a lobulated margin); what they are for is said."""
    kinds_zh = "、".join(word("kind", k, "zh") for k in checklist.kinds)
    kinds_en = ", ".join(word("kind", k, "en") for k in checklist.kinds)
    text = ctx.t(f"{a.id}({a.label_zh})不属于{checklist.title_zh}这份清单适用的病变类型({kinds_zh}),因此不按其征象计数。",
                 f"{a.id} ({a.label_en}) is not a kind of lesion the {checklist.title_en} signs apply to ({kinds_en}), so "
                 "they are not counted on it.")
    if ctx.query.unlisted_disease:  # "could A2 be atelectasis?": the disease asked has no checklist; the default's is moot
        zh, en = word("disease", ctx.query.unlisted_disease, "zh"), word("disease", ctx.query.unlisted_disease, "en")
        text = ctx.t(f"本系统没有{zh}的征象清单,无法对照{a.id}({a.label_zh});{a.id}的位置、大小和边缘可以继续问。",
                     f"Hilum has no sign checklist for {en}, so it cannot check {a.id} ({a.label_en}) against it; "
                     f"{a.id}'s place, size and margin can be asked.")
    sections = [section("checklist_not_applicable", checklist.title(ctx.lang), text)]
    sections += [s for s in (disclaimer(ctx),) if s]
    return Composition(tuple(sections), referenced=(a.id,))


def decidable_present(card: Mapping[str, Any], verb: bool = True) -> str:
    """A checklist's count in English: "2 of the 4 decidable signs are present", "0 of 1 decidable sign is present"
    (``verb`` False: "... present", as a phrase)."""
    one = card["total"] == 1
    signs = f"{card['matched']} of 1 decidable sign" if one else f"{card['matched']} of the {card['total']} decidable signs"
    # ("1 of the 3 decidable signs is present": the one is the subject)
    return f"{signs} {('is' if one or card['matched'] == 1 else 'are') + ' ' if verb else ''}present"


def _sign_list(ctx: Context, lines: list[str]) -> str:
    """A checklist's sign lines as the sentence after its heading: "；"-joined in Chinese, "; "-joined in English with the
    first sign's label opening the sentence ("Parapneumonic effusion (...) (no); consolidation (...)")."""
    if ctx.zh:
        return "；".join(lines) + "。"
    text = "; ".join(lines)
    return f"{text[:1].upper()}{text[1:]}."


def _sign_lines(ctx: Context, results: list[cl.ItemResult]) -> list[str]:
    """Each sign of a checklist, most specific first, with its evidence and yes / no / uncertain."""
    status = {"yes": ctx.t("符合", "yes"), "no": ctx.t("不符合", "no"), "uncertain": ctx.t("不确定", "uncertain")}
    gap = "" if ctx.zh else " "

    def detail(r: cl.ItemResult) -> str:
        # a sign of the film met by findings: which ones ("upper-zone lesion (A1 → yes); cavity (A2 → yes)" tells a
        # reader the two signs are not one upper-zone cavity)
        # (uncertain: findings worded "possibly" that show it, ``checklists._findings_status``)
        if r.status in ("yes", "uncertain") and isinstance(r.value, list | tuple) and r.fact and r.value:
            anchors = [a.id for a in (ctx.registry.for_finding(str(fid)) for fid in r.value) if a is not None]
            if anchors:
                named = "、".join(anchors) if ctx.zh else ", ".join(anchors)
                return named if r.status == "yes" else ctx.t(f"{named}可能", f"possibly {named}")
        return r.detail

    return [f"{r.label}{gap}({detail(r) + ' → ' if detail(r) else ''}{status[r.status]})"
            for r in sorted(results, key=lambda r: -r.specificity)]


def _checked(ctx: Context, checklist: cl.Checklist, finding: Finding | None,
             anchor_id: str | None) -> tuple[list[cl.ItemResult], dict[str, Any], list[str]]:
    """``checklist`` evaluated against ``finding`` (None: the film): its sign results, its card (under ``anchor_id``)
    and one line per sign, most specific first."""
    results = cl.evaluate(checklist, ctx.facts, finding, ctx.lang, ctx.ontology, ctx.interval, ctx.registry)
    return results, cl.checklist_dict(checklist, results, ctx.lang, anchor_id), _sign_lines(ctx, results)


def _checklist_of_another(ctx: Context, checklist: cl.Checklist, a: Anchor, f: Finding) -> dict[str, Any]:
    """"两个都是良性的吗" / "are both benign?": each further finding asked about gets its own count, or, when it is
    not of the kinds the checklist is for (a strand against the benign-nodule signs), is said not to be checked."""
    title = ctx.t(f"{a.id}对照", f"{a.id} checked")
    if checklist.kinds and not fits_kinds(a, checklist.kinds):
        return section("checklist_not_applicable", title, ctx.t(
            f"{a.id}({a.label_zh})不属于{checklist.title_zh}这份清单适用的病变类型,未对照。",
            f"{a.id} ({a.label_en}) is not a kind of lesion the {checklist.title_en} signs apply to, so it is not "
            f"checked against them."))
    _, card, lines = _checked(ctx, checklist, f, a.id)
    return section("checklist_more", title, ctx.t(
        f"对照{a.id}:" + "；".join(lines) + f"。可判定的{card['total']}条中符合{card['matched']}条。",
        f"Against {a.id}: " + "; ".join(lines) + f". {decidable_present(card)}."))


# --- anatomy, terms, refusals ----------------------------------------------------------------------


def sign_name(ctx: Context, sign: str, lang: str) -> str:
    """A sign's name: the phrase table's wording, else the ontology's name (any of its 224 signs), else its id."""
    if sign in phrases()["sign"]:
        return word("sign", sign, lang)
    entry = ctx.ontology.sign(sign)
    return entry.name(lang) if entry is not None else sign


def compose_sign(ctx: Context) -> Composition:
    """"Is there a pneumothorax?": yes / no / cannot judge from this film, with the evidence, for each
    sign named; a sign Hilum does not read is said to be so (never a score over no decidable signs)."""
    sections: list[dict[str, Any]] = []
    settle: list[str] = []
    anchors: list[Anchor] = []
    for sign in ctx.query.signs:
        entry = ctx.ontology.sign(sign)
        read = cl.read_sign(sign, ctx.facts, ctx.query.side, ctx.registry, entry.category if entry else "")
        if sign == "tracheal_deviation":  # where the maps outline the trachea: what the outline shows
            read = _trachea_sign(ctx, read)
        name = sign_name(ctx, sign, ctx.lang)
        # (only findings worded "possibly" are the sign: possibly, as the screening words them; never a flat yes)
        verdict = (ctx.t("可能有,本片不能确定", "possibly, but this film cannot settle it") if read.possible
                   else word("sign_status", read.status, ctx.lang))
        evidence = read.evidence_zh if ctx.zh else read.evidence_en
        why = read.status == "not_read"
        if ctx.zh:
            text = f"{name}:{verdict}。" + (f"{'原因' if why else '依据'}:{evidence}" if evidence else "")
        else:
            text = f"{name[:1].upper()}{name[1:]}: {verdict}." + (f" {'Why' if why else 'Evidence'}: {evidence}" if evidence else "")
        sections.append(section("sign", name, text, sign=sign, status=read.status))
        if read.settle_en:
            settle.append(ctx.t(f"{name}:{read.settle_zh}可明确。",
                                f"{read.settle_en} would settle the {sign_name(ctx, sign, 'en')}."))
        anchors += [a for a in read.anchors if a not in anchors]
    if settle:
        sections.append(section("uncertain", ctx.t("待明确", "To settle"), ("" if ctx.zh else " ").join(settle)))
    device_or_lesion = _device_or_lesion(ctx)
    if device_or_lesion is not None:
        sections.append(device_or_lesion)
    pairs = [(a, f) for a in anchors if (f := ctx.finding(a)) is not None]
    note = spacing_note(ctx) if any(f.kind == "effusion" for _, f in pairs) else None  # an effusion's height in mm
    if note is not None:
        sections.append(note)
    sections.append(disclaimer(ctx))
    return Composition(tuple(sections), findings=tuple(finding_dict(f, a.id) for a, f in pairs),
                       # (a ratio the heart answer states: the two widths it divides, drawn)
                       measurements=effusion_heights(pairs, ctx.facts)
                       + (tuple(ctr_widths(ctx)) if "cardiomegaly" in ctx.query.signs else ()),
                       referenced=tuple(a.id for a in anchors) + tuple(a.id for a in ctx.anatomy))


LINE_DEVICE_WORDS = ("catheter", "tube", "drain")  # device signs that are lines in place (signs.json ids)


def _device_or_lesion(ctx: Context) -> dict[str, Any] | None:
    """"Could the nodule be an ECG electrode?" / "A1会不会是纽扣": a device asked of a finding. Hilum does not identify
    devices, and one lying over a lung can be read as a finding (``encoder/phantom/devices.py`` draws them to measure
    how often): what tells them apart on the film, and what settles it."""
    devices = [s for s in ctx.query.signs if (e := ctx.ontology.sign(s)) is not None and e.category == "device"]
    named = ctx.subjects or ctx.query.anchor_ids or ctx.query.references or ctx.query.descriptors
    if not devices or not named or not ctx.facts.findings:
        return None
    ids = list(dict.fromkeys([a.id for a in ctx.subjects] + list(ctx.query.anchor_ids)))
    who_zh = "、".join(ids) if ids else "所指的影像"
    who_en = and_list(ids) if ids else "the opacity you mean"
    line = any(w in s for s in devices for w in LINE_DEVICE_WORDS)  # a catheter, tube or drain: in place, not removed
    return section("device_or_lesion", ctx.t("器械还是病灶", "Device or lesion"), ctx.t(
        f"{who_zh}究竟是器械还是病灶,本系统无法区分:它不识别器械,位于肺野上的器械(心电电极、纽扣、导线)可能被读作病灶。"
        "片上金属比骨骼更白、边缘锐利,常连有导线;去除体外物品后复拍可明确。"
        + ("导管或插管则是粗细均匀的带状影,自颈部、上臂或口鼻延续而来,远超病灶范围;体内置管可加拍侧位片或与旧片对比。"
           if line else ""),
        f"Whether {who_en} {'are devices or lesions' if len(ids) > 1 else 'is a device or a lesion'}, Hilum cannot "
        "tell: it does not identify devices, and one lying over a "
        "lung (an ECG electrode, a button, a wire) can be read as a finding. On the film, metal is whiter than bone, "
        "sharp-edged and often joined to a wire; a film taken with external objects removed settles it."
        + (" A catheter or tube is a band of even width that runs on well beyond any lesion, from the neck, the arm or "
           "the mouth; for one in place, a lateral view or an earlier film settles it." if line else "")))


def angle_rays(ctx: Context, angles: list[CostophrenicAngle]) -> list[dict[str, Any]]:
    """The two arms each angle's degrees are measured between, as rows the overlays draw (``kind`` "angle": the
    vertex and the arms' far ends), for each angle ``_angle_line`` gives in degrees and whose arms the facts carry."""
    out: list[dict[str, Any]] = []
    for c in angles:
        if c.state == "not_assessable" or blunted_by_fluid(c) or c.wall_px is None or c.floor_px is None:
            continue
        out.append({"kind": "angle", "of": f"costophrenic_{c.side}", "deg": round(c.angle_deg),
                    "vertex_px": [r1(c.point_px[0]), r1(c.point_px[1])],
                    "rays_px": [[r1(c.wall_px[0]), r1(c.wall_px[1])], [r1(c.floor_px[0]), r1(c.floor_px[1])]]})
    return out


def ctr_widths(ctx: Context) -> list[dict[str, Any]]:
    """The two widths the cardiothoracic ratio divides, as rows the overlays draw (``kind`` "width", ``line_px``: its
    two ends), where the film has a ratio and the facts carry both widths and where they lie."""
    a = ctx.facts.anatomy
    spans = (("heart", a.heart_width_mm, a.heart_span_px), ("chest", a.thorax_width_mm, a.thorax_span_px))
    if a.cardiothoracic_ratio is None or not all(w and span for _, w, span in spans):
        return []
    return [{"kind": "width", "of": name, "mm": r1(w), "spacing_source": ctx.facts.spacing.source,
             "line_px": [[r1(span[0][0]), r1(span[0][1])], [r1(span[1][0]), r1(span[1][1])]]}
            for name, w, span in spans if w and span]


def _angle_line(c: CostophrenicAngle, ctx: Context) -> str:
    """One costophrenic angle in words: its state and degrees, or the fluid that blunts it; an angle not measured has no
    degrees to give."""
    side, state = word("side", c.side, ctx.lang), cl.angle_word(c.state, ctx.facts, ctx.lang)
    if blunted_by_fluid(c):  # fluid in the recess, whatever its outline's angle
        return ctx.t(f"{side}肋膈角{state}(肋膈隐窝内见积液样密度影)。",
                     f"The {side} costophrenic angle is {state} (an effusion-like opacity lies in the recess).")
    if c.state == "not_assessable":
        return ctx.t(f"{side}肋膈角{state}。", f"The {side} costophrenic angle is {state}.")
    return ctx.t(f"{side}肋膈角{state}(角度约{c.angle_deg:.0f}°)。",
                 f"The {side} costophrenic angle is {state} (about {c.angle_deg:.0f}°).")


# two costophrenic angles within this many degrees of each other are said to be about the same
ANGLE_SAME_DEG = 10.0


def _angles_compared(ctx: Context) -> str:
    """"Are the costophrenic angles the same?" / "两侧肋膈角一样吗": the two set side by side: their states where these
    differ; where both read alike, how far apart their degrees are, and that Hilum does not read what a difference between
    two angles of one state means (11° and 47° had both been "sharp", and the answer said no more)."""
    cps = {c.side: c for c in ctx.facts.anatomy.costophrenic}
    right, left = cps.get("right"), cps.get("left")
    if right is None or left is None:
        return ctx.t("本片未能同时评估两侧肋膈角,无法比较。",
                     "Both costophrenic angles could not be assessed on this film, so they are not compared.")
    said = {c.side: cl.angle_word(c.state, ctx.facts, ctx.lang) for c in (right, left)}
    if right.state != left.state:
        return ctx.t(f"两侧肋膈角不同:右侧{said['right']},左侧{said['left']}。",
                     f"The two angles differ: the right is {said['right']}, the left {said['left']}.")
    if right.state == "not_assessable" or right.angle_deg <= 0 or left.angle_deg <= 0:
        return ctx.t(f"两侧肋膈角均{said['right']},无法比较其角度。",
                     f"Both angles are {said['right']}, so their degrees are not compared.")
    r_deg, l_deg = round(right.angle_deg), round(left.angle_deg)
    degrees = (f"右侧约{r_deg}°,左侧约{l_deg}°", f"right about {r_deg}°, left about {l_deg}°")
    if abs(r_deg - l_deg) <= ANGLE_SAME_DEG:
        return ctx.t(f"两侧肋膈角大致相同({degrees[0]}),均{said['right']}。",
                     f"The two angles are about the same ({degrees[1]}), both {said['right']}.")
    return ctx.t(f"两侧肋膈角相差约{abs(r_deg - l_deg)}°({degrees[0]}):两侧均读作{said['right']},但两角相差的意义本系统不判读,"
                 "可由阅片者判断。",
                 f"The two angles differ by about {abs(r_deg - l_deg)}° ({degrees[1]}): both read as {said['right']}, but "
                 "Hilum does not read what a difference between them means; a reader may judge it.")


# two lung fields whose projected areas are within this fraction of the larger are said to be about the same size
LUNG_SIZE_SAME = 0.1


def _polygon_area_px(poly: tuple[tuple[float, float], ...]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True))) / 2.0


def _lungs_sized(ctx: Context) -> Composition:
    """"Is one lung bigger than the other?" / "两侧肺一样大吗": the two lung fields' projected areas and heights, from the
    outlines Hilum's maps draw (it had asked which finding was meant), with what a projection does not say; where the
    facts carry no outline of both, that Hilum does not compare them here, and what it can say of the two lungs."""
    sp = ctx.facts.spacing
    fields: dict[str, tuple[float, float]] = {}
    for side in ("right", "left"):
        r = ctx.facts.anatomy.region(f"lung_{side}")
        if r is not None and len(r.polygon_px) >= 3:
            fields[side] = (_polygon_area_px(r.polygon_px) * sp.row_mm * sp.col_mm, (r.bbox_px[3] - r.bbox_px[1]) * sp.row_mm)
    if len(fields) < 2:
        text = ctx.t("本系统在本片上不比较两肺大小:其解剖图未勾画出两侧肺野的轮廓。它可以说明每侧肺的候选病灶、肋膈角、两侧肺门和膈顶的高低"
                     "以及心胸比,例如可以问“比较两侧”。",
                     "Hilum does not compare the lungs' sizes on this film: its maps gave no outline of both lung fields. "
                     "What it can say of the two lungs: the candidate regions in each, each costophrenic angle, the "
                     "heights of the hila and of the domes of the diaphragm, and the cardiothoracic ratio; ask, for "
                     "example, \"compare the two sides\".")
        return Composition((section("anatomy", ctx.t("两肺大小", "The lungs' sizes"), text),))
    (r_area, r_h), (l_area, l_h) = fields["right"], fields["left"]
    larger = "right" if r_area >= l_area else "left"
    share = abs(r_area - l_area) / max(r_area, l_area)
    each = (f"右肺野约{r_area / 100:.0f} cm²(高约{cm(r_h)} cm),左肺野约{l_area / 100:.0f} cm²(高约{cm(l_h)} cm)",
            f"the right lung field about {r_area / 100:.0f} cm² ({cm(r_h)} cm tall), the left about {l_area / 100:.0f} cm² "
            f"({cm(l_h)} cm tall)")
    if share <= LUNG_SIZE_SAME:
        lead = ctx.t(f"按投影面积,两侧肺野大小相近:{each[0]}。", f"By projected area the two lung fields are about the same size: "
                     f"{each[1]}.")
    else:
        lead = ctx.t(f"按投影面积,{word('side', larger, 'zh')}肺野较大(大约{share * 100:.0f}%):{each[0]}。",
                     f"By projected area the {larger} lung field is the larger, by about {share * 100:.0f}%: {each[1]}.")
    caveat = ctx.t("这是正位片上本系统解剖图勾画的肺野投影,不是肺的容积(心影遮挡部分左肺,左肺野通常较小);两侧差别是否提示肺容积减少或"
                   "过度充气,本系统不判读,需由阅片者判断。",
                   " These are the lung fields Hilum's maps outline on a frontal film: a projection, not the lungs' "
                   "volume (the heart covers part of the left lung, which usually makes the left field the smaller). "
                   "Whether a difference means volume loss or over-inflation Hilum does not judge; a reader would.")
    registry, drawn = ctx.registry, []
    for side in ("right", "left"):
        registry, a = ensure_anatomy(registry, ctx.facts, f"lung_{side}", ctx.turn)
        if a is not None:
            drawn.append(a.id)
    sections = [section("anatomy", ctx.t("两肺大小", "The lungs' sizes"), lead + caveat)]
    note = spacing_note(ctx)
    if note:
        sections.append(note)
    return Composition(tuple(sections), referenced=tuple(drawn), registry=registry)


def _trachea_text(ctx: Context, a: Anchor) -> str:
    """"Show me the trachea" / "how is the trachea?" where the maps outline it: where it lies, and that Hilum judges
    nothing of it (it had said "Hilum does not trace the trachea" of the trachea it drew)."""
    placed = placed_in_words(ctx, a.center_px)
    where_zh, where_en = (f"位于{placed[0]}", f" lies {placed[1]}") if placed else ("", "")
    return ctx.t(f"气管({a.id},轮廓已标在片上){where_zh}。本系统在解剖图上勾画气管轮廓,但不判断其是否移位或狭窄(片子旋转也会使其偏离"
                 "中线),因此既不能说正常,也不能说异常,需放射科医师阅片。",
                 f"The trachea ({a.id}, outlined on the film){where_en}. Hilum outlines it on its anatomy maps but does "
                 "not judge whether it is deviated or narrowed (a rotated film shifts it too), so it can say neither "
                 "that it looks normal nor that it does not; a radiologist's reading would.")


def _trachea_sign(ctx: Context, read: cl.SignRead) -> cl.SignRead:
    """"气管居中吗?" / "is the trachea midline?" where the maps outline the trachea: what the outline shows (where its
    centre lies) and that Hilum does not judge deviation from it; it had said "Hilum does not trace the trachea" of the
    trachea it had just drawn (A7)."""
    a = next((x for x in ctx.anatomy if x.name == "trachea"), None) or ctx.registry.for_name("trachea")
    placed = placed_in_words(ctx, a.center_px) if a is not None else None
    if a is None or placed is None:
        return read
    return dataclasses.replace(
        read,
        evidence_zh=f"本系统勾画了气管轮廓({a.id}),其中心位于{placed[0]};但不判断气管是否移位(片子旋转也会使其偏离中线),"
                    "因此既不能说有,也不能说没有。",
        evidence_en=f"Hilum outlines the trachea ({a.id}), whose centre lies {placed[1]}; it does not judge whether the "
                    "trachea is deviated (a rotated film shifts it too), so it can say neither yes nor no.")


def _outlined_structure(ctx: Context) -> Composition | None:
    """What the maps' outlines answer: "is one lung bigger than the other?" (the lung fields' projections), and "show me
    the trachea" / "how is the trachea?" where the maps outline it (it had said "Hilum does not trace the trachea" of the
    trachea it drew), and the structures asked of with no lesion (``structures.py``: "how wide is the chest?", "how far
    is the right hilum from the diaphragm?", "where is the spine?"); None for any other question."""
    if ctx.query.lungs_sized:
        return _lungs_sized(ctx)
    if ctx.query.structure_asked:  # "how wide is the chest?", "where is the spine?": the structures, no lesion
        from orchestrator.dialogue.structures import compose_structures

        return compose_structures(ctx)
    trachea = next((a for a in ctx.anatomy if a.name == "trachea"), None)
    if ctx.query.unread_structure == "trachea" and trachea is not None:
        return Composition((section("anatomy", ctx.t("解剖评估", "Anatomy"), _trachea_text(ctx, trachea)),
                            disclaimer(ctx)), referenced=(trachea.id,))
    return None


def compose_anatomy(ctx: Context) -> Composition:
    if set(ctx.query.signs) - {"costophrenic_blunting"}:
        return compose_sign(ctx)
    outlined = _outlined_structure(ctx)
    if outlined is not None:
        return outlined
    if ctx.query.unread_structure:  # "how are the bones?": not read, said as such (not the angles or the ratio)
        text = ctx.t(*cl.structure_not_read(ctx.query.unread_structure))
        return Composition((section("anatomy", ctx.t("解剖评估", "Anatomy"), text), disclaimer(ctx)))
    lines: list[str] = []
    drawn: list[dict[str, Any]] = []  # what the overlays draw of what the lines state: the angles' arms, the widths
    wanted_sides = {a.side for a in ctx.anatomy if a.side} or {"right", "left"}
    names = set(ctx.query.anatomy)
    if ctx.query.domes_compared:  # "which hemidiaphragm is higher?": the domes' heights, not the angles
        lines += _domes_lines(ctx)
    elif not names or any(n.startswith(("costophrenic", "diaphragm", "pleura")) for n in names):
        # ("are the costophrenic angles the same?": the two set side by side, first)
        lines += [_angles_compared(ctx)] if ctx.query.angles_compared else []
        lines += [_angle_line(c, ctx) for c in ctx.facts.anatomy.costophrenic if c.side in wanted_sides]
        drawn += angle_rays(ctx, [c for c in ctx.facts.anatomy.costophrenic if c.side in wanted_sides])
    if any(n.startswith("hilum") for n in names):
        lines += _hila_lines(ctx)
    ctr = ctx.facts.anatomy.cardiothoracic_ratio
    if ctr is not None and (not lines or "heart" in names):
        # against the limit as everywhere else ("just above" to 0.55; on a film not PA, why the limit cannot judge it)
        verdict = ctx.t(*cl.film_ctr_reference(ctx.facts))
        heart, chest = ctx.facts.anatomy.heart_width_mm, ctx.facts.anatomy.thorax_width_mm
        widths = ("", "")
        if heart and chest:  # "how wide is the heart?": the two widths the ratio is made of
            widths = (f"(心影横径约{cm(heart)} cm,胸廓内径约{cm(chest)} cm)",
                      f" (the heart about {cm(heart)} cm across, the chest {cm(chest)} cm)")
        lines.append(ctx.t(f"心胸比约{ctr:.2f}{widths[0]},{verdict}。", f"The cardiothoracic ratio is about {ctr:.2f}{widths[1]}, {verdict}."))
        drawn += ctr_widths(ctx) if heart and chest else []
        if ctx.facts.spacing.source != "dicom" and heart and chest:
            lines.append(ctx.t("(宽度按估计的像素间距换算;比值不受影响。)",
                               "(The widths use an estimated pixel spacing; the ratio does not depend on it.)"))
    if not lines:
        lines.append(ctx.t("本片未能评估该解剖结构。", "That structure could not be assessed on this film."))
    elif not names:  # "胸廓对称吗": no structure Hilum knows by name; say what these lines are, and what it does not read
        lines.append(ctx.t("以上是本系统评估的解剖项目(肋膈角、心胸比);胸廓、骨骼和大血管本系统不判读。",
                           "These are the anatomy items Hilum assesses (the costophrenic angles and the heart's size); it "
                           "does not read the thoracic cage, the bones or the great vessels."))
    sections = (section("anatomy", ctx.t("解剖评估", "Anatomy"), ("" if ctx.zh else " ").join(lines)),)
    return Composition(sections, measurements=tuple(drawn), referenced=tuple(a.id for a in ctx.anatomy))


@dataclass(frozen=True)
class _Pair:
    """A pair of structures whose heights are compared, and what is usual of them."""

    name: tuple[str, str]  # zh, en: "肺门", "hilum"
    usual: str  # the side that lies higher in most people
    usual_mm: float  # the most it usually lies higher by; above this (as said, in cm), "as in most people" is not said
    same: tuple[str, str]  # "the two ... lie at about the same height"
    causes: tuple[str, str]  # what can make it lie higher by more


# the left hilum lies higher than the right in most people, by up to about 2 cm (Felson); 2.5 cm with the hila's
# placement and the spacing's slack. The right dome lies higher than the left in most people, by up to about 3 cm (the
# left the higher in a few)
_HILA = _Pair(("肺门", "hilum"), "left", 25.0, ("两侧肺门", "two hila"),
              ("多数人左肺门较高,但一般不超过约2 cm;肺门被牵拉上移或推移下移(如肺容积减少)可致如此,本片肺门定位有误也可致如此",
               "in most people the left is the higher, but by up to about 2 cm; a hilum pulled up or pushed down (as by "
               "volume loss) can do this, and so can a hilum placed wrongly here"))
_DOMES = _Pair(("侧膈顶", "dome of the diaphragm"), "right", 30.0, ("两侧膈顶", "two domes of the diaphragm"),
               ("多数人右侧膈顶较高,但一般不超过约3 cm;膈顶被上方肺容积减少牵拉或被其下方结构推挤可致如此,本片膈顶定位有误也可致如此",
                "in most people the right is the higher, but by up to about 3 cm; a dome pulled up by volume loss above it "
                "or pushed up from below can do this, and so can a dome placed wrongly here"))
_ALONE_DOMES = _alone_estimate("膈顶位置是它的估计", "where it places the domes is its estimate")


def _hila_lines(ctx: Context) -> list[str]:
    """"Is the left hilum higher than the right?": where the two hila lie, one against the other."""
    hila = ctx.facts.anatomy.hilum_px
    if "right" not in hila or "left" not in hila:
        return [_hila_unplaced(ctx)]
    lines = [_heights_compared(ctx, _HILA, (hila["right"][1] - hila["left"][1]) * ctx.facts.spacing.row_mm)]
    lines += _estimated_height(ctx)
    if ctx.query.side:  # "is the left hilum higher than normal?" / "is the right hilum raised?": one hilum asked of
        lines.append(ctx.t("本系统只比较两侧肺门的高度,不按肋骨定位肺门;肺门是否抬高由阅片者判断。",
                           "Hilum compares the two hila's heights only; it does not place them against the ribs, so "
                           "whether a hilum is raised is a reader's call."))
    return lines


def _estimated_height(ctx: Context) -> list[str]:
    """A height difference on an estimated spacing, said to be one (and, where the spacing took an adult's chest width,
    too large on a child's film), as every millimetre on such a film is."""
    if ctx.facts.spacing.source == "dicom":
        return []
    child_zh, child_en = "", ""
    if _assumed(ctx)[3]:  # the spacing took an adult's chest width: a child's chest measures too large
        child_zh, child_en = ((";文件所载年龄为儿童,该差值因此偏大", "; the file gives a child's age, so it is overstated")
                              if ctx.facts.film_check.age_group in ("infant", "child")
                              else (";儿童的片子上该差值偏大", "; on a child's film it is overstated"))
    return [ctx.t(f"(高度差按估计的像素间距换算{child_zh}。)", f"(The difference uses an estimated pixel spacing{child_en}.)")]


_DOME_OFF_FLOOR = ("第二读片模型找到的一侧膈顶位于肺野之内而非肺野底部,故不予给出。",
                   "A dome the second reader found lies inside its lung field rather than at its floor, so it is not "
                   "given.")


def _domes_lines(ctx: Context) -> list[str]:
    """"Which hemidiaphragm is higher?" / "is the right hemidiaphragm elevated?": the two domes' heights, one against the
    other, and what Hilum does not judge of them."""
    domes = ctx.facts.anatomy.diaphragm_dome_px
    if "right" not in domes or "left" not in domes:
        unplaced = [ctx.t("本片未能同时确定两侧膈顶。", "Both domes of the diaphragm could not be placed on this film.")]
        if DOME_UNPLACED in ctx.facts.film_check.warnings:  # one found inside its lung field (``dome_floor``)
            unplaced.append(ctx.t(*_DOME_OFF_FLOOR))
        return unplaced
    lines = [_heights_compared(ctx, _DOMES, (domes["left"][1] - domes["right"][1]) * ctx.facts.spacing.row_mm)]
    lines += _estimated_height(ctx)
    lines.append(ctx.t("本系统只比较两侧膈顶的高度,不按肋骨定位膈顶,也不评估膈面轮廓;膈肌是否抬高由阅片者判断。",
                       "Hilum compares the two domes' heights only; it does not place them against the ribs or read their "
                       "contour, so whether a dome is raised is a reader's call."))
    return lines + ([ctx.t(*_ALONE_DOMES)] if cl.read_alone(ctx.facts) else [])


def _heights_compared(ctx: Context, pair: _Pair, rise_mm: float) -> str:
    """A pair's heights compared; ``rise_mm`` > 0: the side that usually lies higher does."""
    other = "right" if pair.usual == "left" else "left"
    if abs(rise_mm) < 5.0:
        # (one that rounds to nothing is "at the same height": "(0.0 mm apart)" read as a gap measured)
        same = (("高度相同", "lie at the same height") if mm(abs(rise_mm)) == mm(0.0) else
                (f"高度相近(相差约{mm(abs(rise_mm))} mm)", f"lie at about the same height ({mm(abs(rise_mm))} mm apart)"))
        return ctx.t(f"{pair.same[0]}{same[0]};多数人{word('side', pair.usual, 'zh')}"
                     f"{pair.name[0]}略高于{word('side', other, 'zh')}{pair.name[0]}。",
                     f"The {pair.same[1]} {same[1]}; in most people the {pair.usual} is a little higher.")
    higher, lower = (pair.usual, other) if rise_mm > 0 else (other, pair.usual)
    lead = (f"{word('side', higher, 'zh')}{pair.name[0]}比{word('side', lower, 'zh')}{pair.name[0]}高约{cm(abs(rise_mm))} cm",
            f"The {higher} {pair.name[1]} lies about {cm(abs(rise_mm))} cm higher than the {lower}")
    if float(cm(rise_mm)) * 10.0 > pair.usual_mm:  # as said: "3.0 cm" is not above "up to about 3 cm"
        return ctx.t(f"{lead[0]}:{pair.causes[0]},可由阅片者确认原因。", f"{lead[1]}: {pair.causes[1]}: a reader may want "
                     "to see why.")
    usual = ctx.t("多数人如此。" if higher == pair.usual else f"通常是{word('side', pair.usual, 'zh')}{pair.name[0]}较高,"
                  "可由阅片者确认原因。", "as in most people." if higher == pair.usual else f"usually the {pair.usual} is the "
                  "higher; a reader may want to see why.")
    return ctx.t(f"{lead[0]},{usual}", f"{lead[1]}, {usual}")


def compose_term(ctx: Context) -> Composition:
    term = ctx.query.term or ""
    if term.startswith(GLOSSARY_PREFIX):  # a word of anatomy or of the film's conventions: what it is
        entry = ctx.ontology.glossary_term(term.removeprefix(GLOSSARY_PREFIX))
        if entry is not None:
            text = ctx.t(f"{entry.zh}({entry.en}):{entry.meaning_zh}", f"{entry.en} ({entry.zh}): {entry.meaning_en}")
            return Composition((section("term", entry.name(ctx.lang), text, term=entry.id),))
    sign = ctx.ontology.sign(term) if term else None
    if sign is None:
        text = ctx.t("没有找到这个术语;可以问如“毛刺征是什么意思”。", "I do not know that term; try e.g. \"what does spiculation mean\".")
        return Composition((section("term", ctx.t("术语", "Term"), text),))
    level = ctx.t("高" if sign.specificity >= 0.7 else "中" if sign.specificity >= 0.4 else "低",
                  "high" if sign.specificity >= 0.7 else "moderate" if sign.specificity >= 0.4 else "low")
    text = ctx.t(f"{sign.zh}({sign.en}):{sign.meaning_zh} 特异性:{level}。",
                 f"{sign.en} ({sign.zh}): {sign.meaning_en} Specificity: {level}.")
    if sign.umls:
        text += f" UMLS {sign.umls}."
    return Composition((section("term", sign.name(ctx.lang), text, sign=sign.id),))


def compose_film(ctx: Context) -> Composition:
    """"Is this a PA film?" / "is the spacing estimated?": what the film gate and the spacing say about the film
    itself: its projection, how it is shown, where its pixel spacing comes from, and the gate's warnings."""
    fc = ctx.facts.film_check
    view, shown = word("view", fc.view, ctx.lang), word("shown", fc.orientation, ctx.lang)
    lines = [ctx.t(f"这张片子被识别为正位胸片,投照方向:{view},{shown}。",
                   f"This film is read as a frontal chest film; its projection: {view}; {shown}.")]
    if fc.view in ("frontal", "unknown") and ctx.query.attribute is None:  # "AP or PA?" on a file that does not say
        lines.append(ctx.t("投照方向只取自文件头,Hilum 不从图像本身判断(图像上的 AP/PA 字样也不识读)。",
                           "Hilum takes the projection from the file's header only; it does not judge it from the "
                           "image (nor read an AP or PA label written on it)."))
    if ctx.query.attribute == "quality":  # "is the film rotated? is the exposure adequate?"
        lines.append(ctx.t(
            "Hilum 不评价投照质量(患者体位旋转、曝光条件、吸气程度,也不数肋骨),这些需要医师在片子上判断;它只判断片子是否为正位胸片"
            "及其显示方向。",
            "Hilum does not grade the film's technique (patient rotation, exposure, depth of inspiration; it does not count "
            "the ribs): a reader judges those on the film; it only checks that this is a frontal chest film and which way "
            "up it is shown."))
    if ctx.query.attribute == "display":  # "is the image inverted?" / "窗宽窗位多少"
        lines.append(ctx.t(
            "显示为骨骼白、空气黑(MONOCHROME1 的文件读入时已反转;看起来反色的片子会被拒读);灰度按这张片子自身像素的"
            "0.5%–99.5% 百分位开窗,不使用文件里的窗宽窗位。",
            "It is shown bone white and air black (a MONOCHROME1 file is inverted when read; a film that looks inverted "
            "is refused); its grey levels are windowed by the film's own 0.5–99.5 percentiles, not by the file's window "
            "centre and width."))
    if ctx.query.attribute == "lateral":  # "is this a lateral film?" / "can you read lateral films?" / "能看侧位片吗"
        lines.append(ctx.t(
            "Hilum只读正位(后前位或前后位)胸片:文件头注明侧位的片子会被拒读,未注明的侧位片不予读片;是否另拍了侧位片它无从得知。"
            "本片给出的肺叶是估计,侧位片可以明确。",
            "Hilum reads frontal (PA or AP) chest films only: a lateral film whose header says so is refused, and one "
            "without a header is withheld; whether a lateral was also taken it cannot know. The lobes it gives on this "
            "film are estimates that a lateral view would settle."))
    if fc.view == "AP":
        lines.append(ctx.t("前后位片会放大心影和纵隔,心胸比会偏大。",
                           "An AP film magnifies the heart and the mediastinum, so the cardiothoracic ratio reads larger."))
    sp = ctx.facts.spacing
    note = spacing_note(ctx)
    lines.append(note["text"] if note is not None else ctx.t(
        f"像素间距取自DICOM文件(工作图像每像素{sp.row_mm:.3f} mm),毫米/厘米数值据此换算。",
        f"The pixel spacing comes from the DICOM file ({sp.row_mm:.3f} mm per pixel of the working image); "
        f"every mm and cm is measured with it."))
    lines += film_warnings(ctx)
    return Composition((section("film", ctx.t("片子", "Film"), "".join(lines) if ctx.zh else " ".join(lines)),))


def compose_confidence(ctx: Context) -> Composition:
    """"How sure are you?": for each finding meant (every finding when none is), the calibrated probability of the
    statement asked about, or of each statement made, with whether the answers state it flatly or hedge it. "Why?"
    after an answer (``Query.why_asked``): why each statement it made was hedged, first."""
    if ctx.query.attribute == "missed" or not ctx.facts.findings:  # "are you sure there is nothing?": what it may miss
        return Composition((section("missed", ctx.t("可能漏掉什么", "What may be missed"), _may_miss(ctx)),))
    if ctx.query.why_asked:  # what the last answer rested on, and why it was hedged (``last_answer``)
        from orchestrator.dialogue.last_answer import compose_why

        return compose_why(ctx)
    pairs = subject_findings(ctx)
    if not pairs:
        return Composition((section("confidence", ctx.t("把握程度", "How sure"), ctx.t(
            "本片没有发现候选病灶,因此没有对病灶的判断可以给出把握程度。",
            "No candidate lesion was found on this film, so there is no statement about a lesion to give a probability for.")),))
    asked = ctx.query.attribute
    lines = []
    for a, f in pairs:
        # the statements the answers make of it: none of a lesion's margin, contents or lobe of fluid, none of a
        # nodule's margin of a consolidation (``nodule_margin``)
        unsaid = (_NOT_SAID_OF_FLUID if f.kind == "effusion" else
                  frozenset() if nodule_margin(f) else frozenset({"margin"}))
        probs = {k: p for k, p in {"presence": f.confidence, **f.attribute_confidence}.items() if k not in unsaid}
        statements = phrases()["statement"]  # in the order the answer gives them
        keys = [asked] if asked in probs else [k for k in statements if k in probs]
        parts = []
        if asked in statements and asked not in probs:  # a statement this finding carries no probability for
            parts.append(ctx.t(f"{word('statement', asked, 'zh')}没有校准的概率",
                               f"{word('statement', asked, 'en')}: no calibrated probability"))
        for k in keys:
            p = float(probs[k])
            said = word("statement", k, ctx.lang)
            parts.append(ctx.t(f"{said}约{p:.2f}({_how_stated(f, k, 'zh')})",
                               f"{said}, about {p:.2f} ({_how_stated(f, k, 'en')})"))
        lines.append(ctx.t(f"{a.id}({a.label_zh}):" + ";".join(parts) + "。",
                           f"{a.id} ({a.label_en}): " + "; ".join(parts) + "."))
    if cl.read_alone(ctx.facts):  # the presence it gives is not the tables'
        lines.append(ctx.t(
            f"这张片子由第二读片模型单独读取,所以其上任何所见是真实病灶的概率都不超过{ALONE_PRESENCE_MAX:.2f}:在一位所有模型都"
            "未见过的患者的片子上,它所报的所见中真实病灶只占这一比例。",
            f"This film was read by the second reader alone, so no finding on it is given more than {ALONE_PRESENCE_MAX:.2f} "
            f"as the probability that it is a real lesion: the share of its findings that were real lesions on the films "
            f"of a patient no weights had seen."))
    lines.append(ctx.t(
        f"这些概率在验证用的模拟胸片上校准:表示该分数的判断在验证片上正确的比例;低于{THRESHOLD:.1f}时回答会改用“可能”或“本片无法判断”。它们不是诊断的概率。",
        f"These probabilities are calibrated on validation phantom films: how often a statement at that score was right "
        f"there; below {THRESHOLD:.1f} the answers say \"possibly\" or \"cannot be judged on this film\". They are not the "
        f"probability of a diagnosis."))
    return Composition((section("confidence", ctx.t("把握程度", "How sure"), "".join(lines) if ctx.zh else " ".join(lines)),
                        disclaimer(ctx)), findings=tuple(finding_dict(f, a.id) for a, f in pairs),
                       referenced=tuple(a.id for a, _ in pairs))


# statements of a lesion the answers never make of an effusion-like opacity (its density answer reads no contents in
# fluid, its margin answer no margin, and it lies in the pleural space, not a lobe)
_NOT_SAID_OF_FLUID = frozenset({"margin", "density", "calcification", "cavity", "lobe"})


def _how_stated(f: Finding, statement: str, lang: str) -> str:
    """"stated flatly" or "hedged" as the answers make the statement (``stated_flatly``), and where the hedge is not
    the probability's, why: the lobes overlapping in projection, a lesion large enough to hold an unseen cavity, a
    smooth margin read at half resolution."""
    zh = lang == "zh"
    if stated_flatly(f, statement):
        return "直接陈述" if zh else "stated flatly"
    why = ""
    if statement == "lobe" and f.lobe_overlap:
        lobes = [word("lobe", lb, lang) for lb in (f.lobe, *f.lobe_overlap)]
        either = ", the ".join(lobes[:-1]) + f" or the {lobes[-1]}"
        why = (f":这是位于{'或'.join(lobes)}的概率,它们在此处重叠投影,所属肺叶为推断,侧位片可明确" if zh else
               f": that is the chance that it lies in the {either}, which overlap here in projection, so the lobe named "
               "is an estimate; a lateral view would settle it")
    elif statement == "cavity" and cavity_unexcluded(f):
        missed, found = CAVITIES_MISSED
        why = (f":未见空洞,但不能排除;验证用模拟胸片上,{found}个空洞中有{missed}个在{CAVITY_UNEXCLUDED_MM:.0f} mm及以上的"
               "病灶上被读为无空洞" if zh else
               f": no cavity is seen, but one cannot be excluded: on validation phantom films {missed} of {found} "
               f"cavities, on lesions of {CAVITY_UNEXCLUDED_MM:.0f} mm or more, were read as none")
    elif statement == "margin" and f.margin == "smooth" and confident(f, "margin"):
        why = ":此分辨率下未见不规则" if zh else ": no irregularity seen at this resolution"
    return ("措辞保留" if zh else "hedged") + why


def _probability(ctx: Context, f: Finding, key: str, what: tuple[str, str]) -> tuple[str, str] | None:
    """A reading under the threshold, with its calibrated probability (zh, en); None when it is stated flatly."""
    p = ({"presence": f.confidence, **f.attribute_confidence}).get(key)
    if p is None or float(p) >= THRESHOLD:
        return None
    return (f"{what[0]}的校准概率约{float(p):.2f},低于直接陈述所需的{THRESHOLD:.1f}",
            f"the calibrated probability of {what[1]} is about {float(p):.2f}, under the {THRESHOLD:.1f} at which it is "
            "stated flatly")


Reasons = list[tuple[str, str] | None]


def _presence_hedges(ctx: Context, f: Finding) -> Reasons:
    return [_probability(ctx, f, "presence", ("是真实病灶", "its being a real lesion"))]


def _lobe_hedges(ctx: Context, f: Finding) -> Reasons:
    out: Reasons = []
    if f.lobe_overlap:
        others_zh = "、".join(word("lobe", lb, "zh") for lb in f.lobe_overlap)
        others_en = " and the ".join(word("lobe", lb, "en") for lb in f.lobe_overlap)
        out.append((f"正位片是前后重叠的投影,该处{word('lobe', f.lobe, 'zh')}与{others_zh}重叠,片上分不出前后,所属肺叶按肺叶图"
                    "推断(侧位片可分开)",
                    f"a frontal film is one projection of the chest's whole depth, and here the "
                    f"{word('lobe', f.lobe, 'en')} and the {others_en} overlap in it: front cannot be told from back, "
                    "so the lobe is placed from the lobes' maps, an estimate (a lateral view separates them)"))
    return [*out, _probability(ctx, f, "lobe", ("所在肺叶", "its lobe"))]


def _spacing_hedges(ctx: Context, f: Finding) -> Reasons:
    if ctx.facts.spacing.source != "estimated":
        return []
    return [("本片没有DICOM像素间距,毫米数值是按假定的胸廓宽度换算的",
             "this film carries no DICOM pixel spacing, so its millimetres are scaled from an assumed chest width")]


def _size_hedges(ctx: Context, f: Finding) -> Reasons:
    return [*_spacing_hedges(ctx, f), _probability(ctx, f, "size", ("大小(相差20%以内)", "its size (within 20%)"))]


def _margin_hedges(ctx: Context, f: Finding) -> Reasons:
    if not nodule_margin(f):  # a consolidation's edge is described, not graded: nothing of a nodule's margin is hedged
        return []
    out: Reasons = []
    if f.margin_source != "reader" and not margin_backed(f):
        out.append(("边缘读自病灶图,其分辨率只有工作图像的一半,显示不出1–2 mm的毛刺,所以“未见不规则”不等于“光滑”",
                    "the margin is read from the lesion map, drawn at half the working image's resolution, which cannot "
                    "show spicules 1-2 mm wide: \"no irregularity seen\" is not \"smooth\"") if f.margin == "smooth" else
                   ("边缘读自病灶图,其分辨率只有工作图像的一半,分叶和毛刺在这个分辨率下读不准",
                    "the margin is read from the lesion map, drawn at half the working image's resolution, where "
                    "lobulation and spicules are not read reliably"))
    return [*out, _probability(ctx, f, "margin", ("边缘判断", "the margin reading"))]


def _density_hedges(ctx: Context, f: Finding) -> Reasons:
    out: Reasons = [_probability(ctx, f, key, what) for key, what in (
        ("density", ("密度是否均匀", "its homogeneity")), ("calcification", ("有无钙化", "calcification")),
        ("cavity", ("有无空洞", "a cavity")))]
    if cavity_unexcluded(f):  # a "no cavity" of a lesion large enough to hold one (calibration.CAVITY_UNEXCLUDED_MM)
        missed, found = CAVITIES_MISSED
        out.append((f"未见空洞,但不能排除:验证用模拟胸片上,{found}个空洞中有{missed}个在{CAVITY_UNEXCLUDED_MM:.0f} mm及以上的"
                    "病灶上被读为无空洞",
                    f"no cavity is seen, but one cannot be excluded: on validation phantom films {missed} of {found} "
                    f"cavities, on lesions of {CAVITY_UNEXCLUDED_MM:.0f} mm or more, were read as none"))
    if f.density.air_bronchogram == "uncertain":
        out.append(("胸片把整个胸廓的厚度叠在一张图上,小结节内的空气支气管征在胸片上很难显示(薄层CT可显示)",
                    "a radiograph sums the chest's whole depth into one image, and an air bronchogram inside a small "
                    "lesion rarely shows on it (thin-section CT shows it)"))
    if not present_stated("bubble_lucency", f.density.bubble_lucency):
        (seen_zh, cannot_zh), (seen_en, cannot_en) = cl.LUCENCY_SEEN
        out.append((f"{seen_zh},{cannot_zh}", f"{seen_en}: {cannot_en}"))
    return out


def _growth_hedges(ctx: Context, f: Finding) -> Reasons:
    if ctx.interval is None:
        return [("一张片子看不出是否长大,需要同一胸部以前的片子对比",
                 "one film cannot show growth: that needs an earlier film of the same chest to compare with")]
    if ctx.interval.coarse:
        return [("片子的像素太粗,不足以测量大小的变化", "the films' pixels are too coarse to measure a change in size on")]
    return []


# why each statement an answer makes of a finding is hedged (``last_answer.compose_why``); fluid's margin, density and
# growth are not read as a lesion's
_HEDGES = MappingProxyType({"presence": _presence_hedges, "lobe": _lobe_hedges, "size": _size_hedges,
                            "distance": _spacing_hedges, "margin": _margin_hedges, "density": _density_hedges,
                            "growth": _growth_hedges})
_NOT_OF_FLUID = frozenset({"margin", "density", "growth"})


def hedge_reasons(ctx: Context, f: Finding, statement: str) -> list[tuple[str, str]]:
    """Why the answers hedge one statement of a finding (zh, en), each reason once; none where it is stated flatly."""
    if f.kind == "effusion" and statement in _NOT_OF_FLUID:
        return []
    return list(dict.fromkeys(r for r in _HEDGES[statement](ctx, f) if r is not None))


def _may_miss(ctx: Context) -> str:
    """What the reading may miss: what it looks for, how often it found lesions where that was measured (on a film the
    second reader read alone, on the films of a patient no weights had seen; else on validation phantom films)."""
    head = ctx.t("Hilum 只找结节、肿块、条索影和实变。", "Hilum looks for nodules, masses, strands and consolidation. ")
    if cl.read_alone(ctx.facts):
        (found, nodules), (_, tumours) = ALONE_NODULES_FOUND, ALONE_TUMOUR_FOUND
        by_size_zh = ";".join(f"{lo}–{hi} mm:{n}个中{f}个" for lo, hi, f, n in ALONE_NODULES_BY_SIZE)
        by_size_en = "; ".join(f"{lo}-{hi} mm: {f} of {n}" for lo, hi, f, n in ALONE_NODULES_BY_SIZE)
        hidden_zh, hidden_en = hidden_rates(ALONE_HIDDEN_FOUND)
        rate = ctx.t(
            f"这张片子与训练所用的片子差异较大,由第二读片模型单独读取。在一位所有模型都未见过的患者的模拟胸片上,它找到"
            f"{nodules}个9–25 mm 结节中的{found}个({by_size_zh}),而该患者位于心影后方的55 mm 肿块在{tumours}张片子上"
            f"一次也没有找到;在模拟胸片上按真实对比度放在被遮挡处的病灶,它找到{hidden_zh};",
            f"This film is unlike the films it was trained on and was read by the second reader alone. On simulated films "
            f"of a patient no weights had seen, that reader found {found} of {nodules} nodules of 9-25 mm ({by_size_en}), "
            f"and the patient's 55 mm tumour, which lies behind the heart, on none of {tumours} films; of lesions placed "
            f"where something hides them on the phantom's films, at physical contrast, it found {hidden_en}; ")
        real_zh = ";".join(f"{lo}–{hi} mm:{n}个中{f}个" for lo, hi, f, n in ALONE_REAL_INSERTED)
        real_en = "; ".join(f"{lo}-{hi} mm: {f} of {n}" for lo, hi, f, n in ALONE_REAL_INSERTED)
        measured = ctx.t(f"在放入真实儿童胸片的清晰结节中,它找到的也不到一半({real_zh})。",
                         f"Of plain nodules put into real children's films it found fewer than half ({real_en}). ")
    else:
        hidden_zh, hidden_en = hidden_rates(HIDDEN_FOUND)
        rate = ctx.t(f"在模拟胸片上,它找到开阔肺野中约九成 8 mm 及以上的病灶,但放在被遮挡处的病灶只找到{hidden_zh};",
                     "On simulated films it finds about nine in ten lesions of 8 mm or more on the open lung field, but "
                     f"of lesions placed where something hides them only {hidden_en}; ")
        measured = ctx.t("它在真实胸片上的检出率没有测定。", "Its detection rate on real films has not been measured. ")
    return head + rate + ctx.t(
        "更小、更淡的病灶,以及与肋骨重叠的病灶,也更容易漏掉;磨玻璃成分、骨骼和装置它不读。",
        "smaller or fainter lesions, and lesions over the ribs, are missed more often too, and it does not read ground "
        "glass, bones or devices. ") + measured + ctx.t(
        "没有列出的病灶不等于没有病灶:排除要靠放射科医师的阅片。", "A lesion it does not list is not ruled out: a radiologist's read rules out.")


def compose_foreign(ctx: Context) -> Composition:
    """A question in a language Hilum does not speak: that is the reason, said in both languages it speaks."""
    code = str(ctx.query.foreign)
    zh_name, en_name = word("language", code, "zh"), word("language", code, "en")
    zh = f"这个问题似乎是用{zh_name}写的;Hilum只理解中文和英文的问题,请用中文或英文再问一次。"
    en = f"This question seems to be in {en_name}; Hilum understands questions in Chinese and English only. Please ask again in either."
    return Composition((section("language", ctx.t("语言", "Language"), f"{zh}\n{en}" if ctx.zh else f"{en}\n{zh}",
                                language=code),))


def _unsettled(ctx: Context, a: Anchor, f: Finding) -> list[tuple[str, str]]:
    """(zh, en) of what this film leaves unsettled about one finding, each with what the answers say would settle it."""
    out = []
    if f.kind in ("nodule", "mass", "cavity", "calcified_nodule") and not margin_backed(f):
        out.append(("边缘(薄层CT)", "its margin (thin-section CT)"))
    if f.lobe_overlap:
        out.append(("所属肺叶(侧位片)", "its lobe (a lateral view)"))
    if f.kind in ("nodule", "mass", "calcified_nodule"):
        out.append(("实性还是磨玻璃(薄层CT)", "solid or ground-glass (thin-section CT)"))
        if ctx.interval is None or not ctx.interval.comparable:
            out.append(("是否增大(与既往片对比或随访)", "whether it grows (an earlier film, or a follow-up film)"))
    if not confident(f, "presence"):
        out.append(("是否为真实病灶(放射科医师阅片)", "whether it is a real lesion (a radiologist's reading)"))
    return out


def _compose_behind_fluid(ctx: Context) -> Composition:
    """"What's under the effusion?" / "积液后面有没有病灶": on a frontal film fluid hides the lung behind it; Hilum does not
    read through it, and says which finding here is fluid."""
    fluid = [a for a in ctx.registry.findings() if (f := ctx.finding(a)) is not None and f.kind == "effusion"]
    text = ctx.t("正位片上积液会遮挡其后方的肺组织:其后方的病灶可能被掩盖,本系统不能透过积液判读;超声或CT(或引流后复查胸片)可显示被遮挡的肺。",
                 "On a frontal film fluid hides the lung behind it: a lesion there can be masked, and Hilum does not read "
                 "through the fluid; ultrasound or CT (or a film after drainage) shows the lung it hides.")
    if fluid:
        names = [f"{a.id}({a.label_zh})" for a in fluid] if ctx.zh else [f"{a.id} ({a.label_en})" for a in fluid]
        text += ctx.t(f"本片的积液样密度影为:{'、'.join(names)}。", f" The effusion-like opacity here: {', '.join(names)}.")
    else:
        text += ctx.t("本片未见积液样密度影。", " No effusion-like opacity was found on this film.")
    sections = [section("hidden_by_fluid", ctx.t("积液遮挡", "What fluid hides"), text)]
    sections += [s for s in (disclaimer(ctx),) if s]
    return Composition(tuple(sections), referenced=tuple(a.id for a in fluid))


def _compose_worry(ctx: Context) -> Composition:
    """"Should I worry?" / "要紧吗" / "严重吗": how serious a film is, Hilum does not judge; what it can say instead."""
    found = [a.id for a in ctx.registry.findings()]
    if found:
        shown = ctx.t(
            f"本片发现{len(found)}处候选病灶({'、'.join(found)}),可以问我每一处的位置、大小、边缘和密度,或它符合某种"
            "疾病的几条典型征象(例如“如果是早期肺癌,有几个典型征象?”)。",
            f"This film shows {counted(len(found), 'candidate region')} ({', '.join(found)}); ask me "
            "where each lies, its size, margin and density, or how many typical signs of a disease it shows (\"if this "
            "were early lung cancer, how many typical signs does it show?\").")
    else:
        shown = ctx.t("在Hilum所读的征象中本片未发现病灶;这不能排除什么,可以问我“会不会漏掉?”。",
                      "Among the signs Hilum reads, nothing was found on this film; what that does not rule out, ask "
                      "\"could you have missed anything?\".")
    text = ctx.t("Hilum 不判断片子是否严重或紧急:这需要了解患者情况的医师来判断。",
                 "Hilum does not judge how serious or urgent a film is: that is for a clinician who knows the patient. ") + shown
    sections = [section("scope", ctx.t("不判断严重程度", "Not a judgement of severity"), text)]
    sections += [s for s in (disclaimer(ctx),) if s]
    return Composition(tuple(sections), referenced=tuple(found))


def _compose_patient(ctx: Context) -> Composition:
    """"Is this a child?" / "how old is the patient?" / "男的还是女的": Hilum reads the film, not the patient; the one
    patient detail it reads is the age group a DICOM file gives (``FilmCheck.age_group``), and what its answers assume
    without one (the cardiothoracic ratio's limit is an adult's, an estimated spacing an adult's width)."""
    age = ctx.facts.film_check.age_group
    child = age in ("infant", "child")
    text = ctx.t("Hilum 只读片子,不判断患者:它不从X线片估计年龄或性别。文件中的患者信息,它只读DICOM所载年龄属于哪一组"
                 "(婴幼儿、儿童或成人),用于心胸比界值和估计的尺寸;其余只用于把结果归档到原检查、核对既往片是否同一患者"
                 "(JPEG、PNG 不含这些信息)。",
                 "Hilum reads the film, not the patient: it does not estimate age or sex from a radiograph. Of the "
                 "file's patient details it reads only which group a DICOM file's age falls in (an infant's, a child's or "
                 "an adult's), for the cardiothoracic ratio's limit and the estimated sizes; the rest are used only to "
                 "file the results beside the study and to check that an earlier film is the same patient's (a JPEG or "
                 "PNG carries none).")
    group = {"infant": ("婴幼儿(两岁以下)", "an infant's (under 2 years)"), "child": ("儿童(2至15岁)", "a child's (2 to 15 "
             "years)"), "adult": ("成人(16岁及以上)", "an adult's (16 years or over)")}.get(age or "")
    text += ctx.t(f"本片的DICOM文件所载年龄为{group[0]}。", f" This film's DICOM file gives the patient's age as {group[1]}.") if group else \
        ctx.t("本片的文件未给出年龄:是否为儿童的片子、患者情况如何,由了解患者的医师判断。",
              " This film's file gives no age: whether this is a child's film is for the reader who knows the patient.")
    if ctx.facts.anatomy.cardiothoracic_ratio is not None and {"heart", "cardiac_silhouette"} & set(ctx.facts.checked):
        text += (ctx.t("心胸比的0.50是成人的界值,儿童的片子上心胸比高于它不作心影增大判断。",
                       " The cardiothoracic ratio's 0.50 limit is an adult's: on a child's film a ratio above it is not "
                       "taken as an enlarged heart.") if child else
                 ctx.t("心胸比按成人的界值(0.50)判断;幼儿的心影相对较大。",
                       " The cardiothoracic ratio is judged against an adult's limit (0.50); a young child's heart is "
                       "relatively larger.") if age is None else
                 ctx.t("心胸比按成人的界值(0.50)判断。", " The cardiothoracic ratio is judged against an adult's limit (0.50)."))
    width = assumed_width_mm(ctx.facts.spacing)
    if width is not None:  # no DICOM spacing: every mm was scaled from an adult's chest
        zh_after, en_after = (("本片为儿童的片子,数值因此偏大", "on this child's film they are too large") if child else
                              ("", "") if age == "adult" else ("儿童的片子上数值偏大", "on a child's film they are too large"))
        text += ctx.t(f"本片无DICOM像素间距,毫米数值按成人胸廓宽约{width / 10:.1f} cm估计" + (f";{zh_after}。" if zh_after else "。"),
                      f" This film carries no DICOM pixel spacing, so its sizes in mm take the chest as {width / 10:.1f} "
                      "cm across, an adult's width" + (f"; {en_after}." if en_after else "."))
    return Composition((section("out_of_scope", ctx.t("患者信息", "The patient"), text),))


def compose_next_step(ctx: Context) -> Composition:
    """"What further imaging is needed?": Hilum recommends no test or treatment (the radiologist's and clinician's
    decision); it says what this film leaves unsettled and what its answers say would settle each."""
    head = ctx.t("本系统不推荐检查或治疗,这由阅片的放射科医师和临床医师决定。",
                 "Hilum does not recommend tests or treatment: that is the reading radiologist's and the clinician's "
                 "decision.")
    if ctx.query.ct_measure == "guideline":  # "what's the Lung-RADS category?" / "what does Fleischner recommend?"
        head = ctx.t("Lung-RADS分类和Fleischner学会指南针对CT上的肺结节(按CT上的大小和密度),不用于胸片,本系统不给出分类。",
                     "Lung-RADS and the Fleischner Society's guidelines grade nodules seen on CT, by their size and "
                     "density on CT; they are not applied to a radiograph, and Hilum gives no category. ") + head
    if not ctx.facts.film_check.localisable:
        rest = ctx.t("本片未能可靠读取,需要放射科医师阅片。", " This film could not be read reliably: it needs a radiologist's "
                     "reading.")
    else:
        lines = []
        for a in ctx.registry.findings():
            f = ctx.finding(a)
            items = _unsettled(ctx, a, f) if f is not None else []
            if items:
                lines.append(ctx.t(f"{a.id}:" + "、".join(z for z, _ in items) + "。",
                                   f"{a.id}: " + "; ".join(e for _, e in items) + "."))
        if lines:
            rest = ctx.t("本片尚未确定的方面,以及回答中提到的可明确它们的方法:", " What this film leaves unsettled, and what "
                         "the answers say would settle it: ") + ("" if ctx.zh else " ").join(lines)
        elif cl.read_alone(ctx.facts):  # nothing found by the second reader alone is nothing settled
            rest = ctx.t("本片由第二读片模型单独读取,未发现病灶不等于没有病灶:片子需放射科医师阅片。",
                         " This film was read by the second reader alone, and nothing found on it does not rule a lesion "
                         "out: the film needs a radiologist's reading.")
        else:
            rest = ctx.t("本系统的读取未留下待明确的项目;本系统报告约8 mm及以上的病灶,更小或更淡的病灶可能漏检。",
                         " Hilum's reading leaves nothing on this film unsettled; it reports lesions from about 8 mm, and a "
                         "smaller or fainter one can be missed.")
    sections = [section("next_step", ctx.t("下一步", "Next step"), head + rest)]
    sections += [s for s in (disclaimer(ctx),) if s]
    return Composition(tuple(sections), referenced=tuple(a.id for a in ctx.registry.findings()))


# what a radiograph has none of, asked with no finding's size or density asked ("CT值多少?", "what volume?")
_ON_CT = MappingProxyType({
    "hu": ("胸片没有CT值(HU只在CT上测量);本系统可描述病灶在片上的密度:有无钙化、空洞,密度是否均匀。",
           "A radiograph has no Hounsfield units (they are measured on CT); Hilum can describe a finding's density on the "
           "film: calcification, cavity, whether it is homogeneous."),
    "volume": ("胸片是单一投影,无法测量体积(CT可测量);本系统可给出病灶在片上的径线和面积。",
               "A radiograph is a single projection and gives no volume (CT measures one); Hilum can give a finding's "
               "diameters and area on the film."),
})


# what nothing asked of the film is answered with (``Query.social``): kind -> ((zh, en) title, (zh, en) text)
_SOCIAL_REPLIES: MappingProxyType[str, tuple[tuple[str, str], tuple[str, str]]] = MappingProxyType({
    "thanks": (("不客气", "You're welcome"), (
        "不客气。还有其他想问的,可以继续提问,例如某个病灶的大小、边缘或与肺门的距离。",
        "You're welcome. Ask on whenever you like: a finding's size, margin or distance to the hilum, for example.")),
    # nothing asked before it in this session (the engine answers it again otherwise)
    "repeat": (("重复", "Repeat"), ("本次会话中还没有可以重复的回答。", "There is no earlier answer in this session to repeat.")),
    "bye": (("再见", "Goodbye"), (
        "再见。本次会话保留在服务器上,可随时回来继续提问。",
        "Goodbye. This session stays on the server; come back and ask on whenever you like.")),
    "languages": (("语言", "Languages"), (
        "Hilum 用中文和英文回答:用哪种语言提问,就用哪种语言回答。",
        "Hilum answers in English and in Chinese (中文): each answer is in the language its question is asked in.")),
    "hello": (("你好", "Hello"), (
        "你好。可以问我这张胸片的问题,例如“有什么异常吗?”、“右肺中叶那个结节边缘规则吗?”。",
        "Hello. Ask me about this film, for example \"anything abnormal?\" or \"is the margin of that nodule regular?\".")),
})


def compose_out_of_scope(ctx: Context) -> Composition:
    if ctx.query.foreign:
        return compose_foreign(ctx)
    if ctx.query.social in _SOCIAL_REPLIES:
        title, text = _SOCIAL_REPLIES[ctx.query.social]
        return Composition((section("social", ctx.t(*title), ctx.t(*text)),))
    if ctx.query.answer_lang:  # "answer in English please": said in that language
        text = ctx.t("好的。Hilum 用提问所用的语言回答:用中文提问,就用中文回答;页面本身的语言用页面上的语言按钮切换。",
                     "Sure. Hilum answers in the language each question is asked in: ask in English and the answer is "
                     "in English; the page's own language is set with its language buttons.")
        return Composition((section("language", ctx.t("语言", "Language"), text),))
    if ctx.query.next_step:  # "what further imaging is needed?" / "需要做什么检查?"
        return compose_next_step(ctx)
    if ctx.query.behind_fluid:  # "what's under the effusion?"
        return _compose_behind_fluid(ctx)
    if ctx.query.ct_measure in _ON_CT:  # "CT值多少?": what a radiograph has none of, and what it shows instead
        return Composition((section("out_of_scope", ctx.t("超出胸片范围", "Not on a radiograph"),
                                    ctx.t(*_ON_CT[ctx.query.ct_measure])),))
    if ctx.query.patient_asked:  # "is this a child?" / "患者多大年龄"
        return _compose_patient(ctx)
    if ctx.query.worry_asked:  # "should I worry?" / "要紧吗"
        return _compose_worry(ctx)
    if ctx.query.needs_prior:  # "is the nodule new?" / "和去年比有变化吗"
        text = ctx.t(
            "本次检查没有上传以前的片子:病灶是否新出现、是否变大或变小,需要把以前的片子与本片对照才能判断。",
            "This study was opened without an earlier film: whether a finding is new, or has grown or shrunk, needs "
            "an earlier film compared with this one.")
        text += ctx.t(*(NO_EARLIER_HINT if ctx.facts.findings else NO_EARLIER_HINT_NOTHING_FOUND))
        return Composition((section("out_of_scope", ctx.t("需要以前的片子", "Needs an earlier film"), text),))
    if ctx.query.not_understood or ctx.query.how_much:  # "hmm" / "?" / "by how much?" after no amount
        return _compose_not_understood(ctx)
    text = ctx.t(
        "这个问题超出了一张胸部X线片能回答的范围(如治疗、预后、化验或其他检查的数值)。"
        "我可以描述病灶的位置、大小、边缘、密度、与肺门的关系,或对照某种疾病的典型征象。",
        "That is outside what a chest radiograph can show (treatment, prognosis, lab values or other modalities). "
        "I can describe a lesion's location, size, margin and density, its relation to the hilum, or check it "
        "against the typical signs of a disease.",
    )
    return Composition((section("out_of_scope", ctx.t("超出范围", "Out of scope"), text),))


def _compose_not_understood(ctx: Context) -> Composition:
    """"hmm" / "?" / a question nothing in it was understood: said so, with questions this film can answer (it was
    "outside what a chest radiograph can show (treatment, prognosis, ...)"); "by how much?" after an answer with no
    amount in it: what it can refer to."""
    first = next(iter(ctx.registry.findings()), None)
    if first is not None:
        examples_zh = f"“{first.id}在哪里?”、“它有多大?”、“边缘光滑吗?”、“离肺门多远?”、“有什么异常吗?”"
        examples_en = (f"\"where is {first.id}?\", \"how big is it?\", \"is its margin smooth?\", \"how far is it from the "
                       "hilum?\" or \"anything abnormal?\"")
    else:
        examples_zh = "“有什么异常吗?”、“心影大吗?”、“肋膈角锐利吗?”"
        examples_en = "\"anything abnormal?\", \"is the heart enlarged?\" or \"are the costophrenic angles sharp?\""
    if ctx.query.how_much:
        head = ctx.t("上一个回答里没有可以问“多少”的大小、距离或前后片的变化。",
                     "The last answer gave no size, distance or change between films for \"how much\" to refer to.")
    else:
        head = ctx.t("没有理解这个问题。", "I did not understand that question.")
    text = head + ctx.t(f"可以这样问,例如:{examples_zh}。", f" You can ask, for example, {examples_en}.")
    return Composition((section("not_understood", ctx.t("没有理解", "Not understood"), text),))


# what a question names its finding by holding ("有空洞的呢", "the one with calcification?"), in words: (zh, en, en
# with "no"); ground glass is not among them (Hilum reads no ground-glass component, so "none holds one" is not said)
_HELD_WORDS = MappingProxyType({"cavity": ("空洞", "a cavity", "no cavity"),
                                "calcified": ("钙化", "calcification", "no calcification")})


def held_asked(q: Query) -> str | None:
    """The one content a question names its finding by ("the one with a cavity": cavity), None for none or another."""
    wanted = [k for k in content_wanted(q) if k in _HELD_WORDS]
    return wanted[0] if len(wanted) == 1 else None


def _none_holds(ctx: Context, held: str, found: tuple[Anchor, ...], listed: str) -> str:
    """"有空洞的呢" / "the calcified one?" where no finding holds it: said of the findings, with those whose "no cavity"
    is hedged (a lesion large enough to hold an unseen one)."""
    zh, en, en_no = _HELD_WORDS[held]
    if len(found) == 1:
        text = ctx.t(f"本片唯一的病灶{listed}未见{zh}。", f"The only finding on this film, {listed}, shows {en_no}.")
    else:
        text = ctx.t(f"本片的病灶均未见{zh}:{listed}。", f"None of the findings on this film shows {en}: {listed}.")
    unexcluded = [a.id for a in found if held == "cavity" and (f := ctx.finding(a)) is not None and cavity_unexcluded(f)]
    if unexcluded:
        text += ctx.t(f"{'、'.join(unexcluded)}较大,其内的空洞在此分辨率下不能排除。",
                      f" In {and_list(unexcluded)}, large enough to hold one, a cavity cannot be excluded at this "
                      "resolution.")
    return text


def compose_none(ctx: Context) -> Composition:
    found = ctx.registry.findings()
    listed = "、".join(f"{a.id}({a.label_zh})" for a in found) if ctx.zh else ", ".join(
        f"{a.id} ({a.label_en})" for a in found)
    held = held_asked(ctx.query)
    if held is not None and found and not ctx.query.has_location and not any(holds_kind(a, held) for a in found):
        # "有空洞的呢" / "the one with a cavity?" where none holds one: that none does (not "no lesion matching"; a
        # place named keeps that: "the cavity in the right lung")
        text = _none_holds(ctx, held, found, listed)
    elif (ctx.query.other or ctx.query.pair_pick) and len(found) == 1:  # "and the other one?" where one was found
        text = ctx.t(f"本片只发现1处:{listed},没有另一处。",
                     f"Only one finding is on this film: {listed}; there is no other one.")
    elif ctx.query.ordinal and found and ordinal_index(ctx.query.ordinal, len(found)) is None:  # "the fifth one" of two
        n = len(found)
        text = ctx.t(f"本片只有{n}处病灶,按列出的顺序为:{listed}。",
                     f"There {'is only 1 finding' if n == 1 else f'are only {n} findings'} on this film, in the order "
                     f"listed: {listed}.")
    elif listed:
        text = ctx.t(f"本片在所指部位未找到符合描述的病灶。已发现的病灶为:{listed}。",
                     f"There is no lesion matching that description on this film. The regions found are: {listed}.")
    else:
        # what "not found" can hide, as every "none seen" says (a real pneumonia film read alone had been told only this)
        text = ctx.t("本片未发现可供描述的病灶。", "No lesion was found on this film, so there is nothing to describe."
                     ) + _miss_note(ctx)
    return Composition((section("no_match", ctx.t("未找到", "Not found"), text),))


def compose_clarification(ctx: Context, candidates: tuple[Anchor, ...]) -> Composition:
    def desc(a: Anchor) -> str:
        # an effusion is placed in its pleural space, never a lobe
        place = pleural_space(a.side, ctx.lang) if a.finding_kind == "effusion" else word("lobe", a.lobe, ctx.lang)
        if ctx.zh:
            return f"{a.id}({place}、{word('zone', a.zone, 'zh')})"
        return f"{a.id} in the {place} ({word('zone', a.zone, 'en')})"

    opts = [desc(a) for a in candidates]
    text = ctx.t(f"请问您指的是哪一个——{'还是'.join(opts)}?", f"Which one do you mean — {' or '.join(opts)}?")
    clar = {"question": text, "candidates": [{"anchor_id": a.id, "label": a.label(ctx.lang)} for a in candidates]}
    held = held_asked(ctx.query)
    if held is not None and len(candidates) >= 2 and all(holds_kind(a, held) for a in candidates):
        # "有空洞的呢" / "the one with a cavity?" where several hold one: which do, then which is meant
        ids = [a.id for a in candidates]
        zh, en, _ = _HELD_WORDS[held]
        text = ctx.t(f"{'、'.join(ids)}均见{zh}。",
                     f"{and_list(ids)} {'both' if len(ids) == 2 else 'all'} show {en}. ") + text
    return Composition((section("clarification", ctx.t("请确认", "Which one?"), text),), clarification=clar)


def compose_interval(ctx: Context) -> Composition:
    """"Has it grown?" / "和以前比有变化吗" in a session made with an earlier film: the finding asked about (every one
    when none is), as the two films compare."""
    if ctx.interval is None:  # the engine asks this only of a session with an earlier film
        return compose_out_of_scope(dataclasses.replace(ctx, query=dataclasses.replace(ctx.query, needs_prior=True)))
    pairs = subject_findings(ctx)
    sec, rows = interval_section(ctx.interval, ctx.registry, ctx.lang, tuple(f.id for _, f in pairs) or None)
    referenced = tuple(a.id for a, _ in pairs) or tuple(a.id for a in ctx.registry.findings())
    # "show me where it was on the earlier film": what of the earlier film is drawn on this one (``overlays``)
    place = (earlier_place_section(rows, ctx.lang),) if ctx.query.earlier_place and ctx.interval.comparable else ()
    return Composition((*place, sec), measurements=rows, referenced=referenced)


COMPOSERS = MappingProxyType({
    "screen": compose_screen,
    "describe_margin": compose_margin,
    "density": compose_density,
    "size": compose_size,
    "locate": compose_locate,
    "measure_relation": compose_relation,
    "compare": compose_compare,
    "sign_checklist": compose_checklist,
    "assess_anatomy": compose_anatomy,
    "explain_term": compose_term,
    "out_of_scope": compose_out_of_scope,
    "film_info": compose_film,
    "confidence": compose_confidence,
    INTERVAL_INTENT: compose_interval,
})


# intents whose answer does not rest on this film's anatomy: answered even when it is withheld
FILM_INDEPENDENT = frozenset({"explain_term", "out_of_scope", "film_info"})


def film_warnings(ctx: Context) -> list[str]:
    """The film gate's warnings in the turn's language (codes: ``orchestrator.film_gate.WARNINGS``)."""
    from orchestrator.film_gate import WARNINGS

    return [WARNINGS[w][0 if ctx.zh else 1] for w in ctx.facts.film_check.warnings if w in WARNINGS]


def compose_withheld(ctx: Context) -> Composition:
    """A film accepted as a chest film whose anatomy or sides could not be established: say so,
    say why, and state nothing that rests on the maps (no finding, side, lobe, zone, distance,
    hilum or cardiothoracic ratio). Never phrased as a normal result."""
    if ctx.facts.film_check.view in ("PA", "AP"):  # the file says it is frontal
        lines = [ctx.t("这张片子是正位胸片,但本系统无法在其上可靠地读片。",
                       "This is a frontal chest film, but Hilum cannot read it reliably.")]
    else:  # the pixels passed the gate as a chest film; they cannot tell a lateral view from a frontal one for sure
        lines = [ctx.t("这张片子被接受为胸片,但本系统无法在其上可靠地读片(本系统只读正位片,侧位片也会这样不予读片)。",
                       "This was accepted as a chest film, but Hilum cannot read it reliably (it reads frontal films "
                       "only, and a lateral view is withheld like this).")]
    lines += film_warnings(ctx)
    lines.append(ctx.t("因此不给出病灶、左右侧、肺叶、分区、距离、肺门或心胸比的判断。这不代表片子正常:请由放射科医师阅片。",
                       "So no finding, side, lobe, zone, distance, hilum or cardiothoracic ratio is given. "
                       "This is not a normal result: the film needs a radiologist's reading."))
    sections = [section("film_check", ctx.t("无法读片", "Cannot read this film"), "".join(lines) if ctx.zh
                        else " ".join(lines))]
    checklist = ctx.ontology.checklist(ctx.query.checklist or "early_lung_cancer") \
        if ctx.query.intent == "sign_checklist" else None
    if checklist is not None:  # what the signs are is knowledge; whether this film shows them is not
        signs = ("、" if ctx.zh else "; ").join(item.label(ctx.lang) for item in checklist.items if item.label(ctx.lang))
        sections.append(section("checklist", checklist.title(ctx.lang), ctx.t(
            f"{checklist.title_zh}的典型X线表现包括:{signs}。本片均无法判定。",
            f"The typical radiograph signs of {checklist.title_en} are: {signs}. None can be checked on this film.")))
    return Composition((*sections, disclaimer(ctx)))


# intents that read a finding's own properties: asked of an anatomy or relation anchor alone ("how big is A3?", A3 a
# hilum), they have no finding to read and answered with empty text
_FINDING_INTENTS = frozenset({"describe_margin", "density", "size", "locate"})


def compose_not_a_finding(ctx: Context) -> Composition:
    """"How big is A3?" where A3 is a hilum or a measurement: what that anchor is, and what can be asked of it (an
    anatomy anchor's distance to a finding, asked of the film's first finding; nothing where the film has none)."""
    lines = []
    finding = next(iter(ctx.registry.findings()), None)
    for a in ctx.subjects:
        label = a.label_zh if ctx.zh else a.label_en
        if a.kind == "relation":
            lines.append(ctx.t(f"{a.id}是测量{label},不是病灶,没有大小、边缘或密度可读。",
                               f"{a.id} is the measurement {label}, not a lesion: it has no size, margin or density to "
                               "read."))
            continue
        line = ctx.t(f"{a.id}是{label},为本系统在片上标出的解剖锚点,不是病灶,没有大小、边缘或密度可读",
                     f"{a.id} is the {label}, an anatomy anchor Hilum marked on the film, not a lesion: it has no size, "
                     "margin or density to read")
        lines.append(line + (ctx.t(f";可以问它与病灶的距离(如“{finding.id}距{a.id}多远”)。",
                                   f"; its distance to a finding can be asked (\"how far is {finding.id} from {a.id}?\").")
                             if finding is not None else ctx.t("。", ".")))
    text = ("" if ctx.zh else " ").join(lines) + _regions_found(ctx)
    return Composition((section("not_a_finding", ctx.t("不是病灶", "Not a finding"), text.strip()),),
                       referenced=tuple(a.id for a in ctx.subjects))


_SHARED_SECTIONS = frozenset({"spacing", "disclaimer", "mismatch"})  # said once, by the first answer


def _with_also(ctx: Context, first: Composition) -> Composition:
    """"How big is it, and is it calcified?": the first clause's answer, then each further property asked of the same
    finding (``Query.also``), its sections after the first's, nothing said twice."""
    sections, measurements = list(first.sections), list(first.measurements)
    kinds = {s.get("kind") for s in sections}
    # the first answer's closing notes (its spacing note, the disclaimer) close the whole answer
    tail = next((i for i in range(len(sections), 0, -1) if sections[i - 1].get("kind") not in _SHARED_SECTIONS), 0)
    sections, closing = sections[:tail], sections[tail:]
    referenced, registry = list(first.referenced), first.registry
    for intent in ctx.query.also:
        # (a distance to the hilum registers its measurement: "where is it and is it more than 2 cm from the hilum?")
        more = COMPOSERS[intent](dataclasses.replace(ctx, query=dataclasses.replace(ctx.query, intent=intent, also=()),
                                                     registry=registry or ctx.registry))
        sections += [s for s in more.sections if s.get("kind") not in kinds and s.get("kind") not in _SHARED_SECTIONS]
        kinds |= {s.get("kind") for s in more.sections}
        measurements += [m for m in more.measurements if m not in measurements]
        referenced += [r for r in more.referenced if r not in referenced]
        registry = more.registry or registry
    return dataclasses.replace(first, sections=(*sections, *closing), measurements=tuple(measurements),
                               referenced=tuple(referenced), registry=registry)


def _wall_section(ctx: Context) -> dict[str, Any] | None:
    """"How thick is its wall?": a cavity's wall thickness is not measured (what it would tell, and what measures it);
    a finding with no cavity has no wall to measure."""
    pairs = subject_findings(ctx)
    if not pairs:
        return None
    lines = []
    for a, f in pairs:
        if f.kind == "cavity" or f.density.cavity:
            lines.append(ctx.t(f"{a.id}:本系统不测量空洞壁厚(最厚处大于15 mm倾向恶性,薄壁多见于良性);薄层CT可测量。",
                               f"{a.id}: Hilum leaves the wall's thickness unmeasured (a wall over 15 mm at its "
                               "thickest favours malignancy, a thin one a benign cause); thin-section CT measures it."))
        elif cavity_unexcluded(f):  # large enough to hold a cavity: none seen is none excluded (its density answer)
            lines.append(ctx.t(f"{a.id}{CAVITY_NOT_EXCLUDED[0]},未测量洞壁;薄层CT可明确。",
                               f"{a.id}: {CAVITY_NOT_EXCLUDED[1]}, so no wall is measured; thin-section CT would "
                               "settle it."))
        else:
            lines.append(ctx.t(f"{a.id}未见空洞,没有洞壁可测。", f"{a.id} shows no cavity, so it has no wall to measure."))
    return section("wall", ctx.t("洞壁", "Cavity wall"), ("" if ctx.zh else " ").join(lines))


def compose(ctx: Context) -> Composition:
    """The answer to the question (``_compose_asked``), its threshold in pixels converted first (``_pixels_converted``),
    led by its measurements in the unit asked (``_in_unit_asked``) and, where a language was asked with the question,
    by a word that it is answered in it."""
    px_note = None
    if ctx.query.threshold_px:  # "is it bigger than 20 px?"
        ctx, px_note = _pixels_converted(ctx)
    out = _compose_asked(ctx)
    lead = [s for s in (_answer_language(ctx), px_note, _in_unit_asked(ctx, out)) if s]
    return dataclasses.replace(out, sections=(*lead, *out.sections)) if lead else out


def _answer_language(ctx: Context) -> dict[str, Any] | None:
    """"用英文回答:A1多大?": the question is answered in the language asked, and the answer says so (and how later
    questions are answered)."""
    if not ctx.query.answer_lang or ctx.query.intent == "out_of_scope":
        return None
    return section("language", ctx.t("语言", "Language"), ctx.t(
        "按要求用中文回答(之后的问题按提问所用的语言回答)。",
        "In English, as asked (later questions are answered in the language they are asked in)."))


def _film_pixels(ctx: Context) -> units.PixelScale:
    return units.pixel_scale(ctx.facts.spacing, ctx.facts.image_size, ctx.frame)


def _pixels_converted(ctx: Context) -> tuple[Context, dict[str, Any]]:
    """"Is it bigger than 20 px?" / "超过20像素吗": the threshold (or range) in pixels converted to mm with the film's
    spacing, taken as the uploaded film's pixels where the session knows them (``units.pixel_scale``); the note says
    so, and with which spacing."""
    q = ctx.query
    scale = _film_pixels(ctx)

    def conv(v: float | None) -> float | None:
        return r1(units.px_in_mm(v, scale)) if v is not None else None

    asked = [v for v in (q.size_mm, q.size_to_mm, q.distance_mm) if v is not None]
    said = [(f"{v:g} px", f"{mm(units.px_in_mm(v, scale))} mm") for v in asked]
    which_zh, which_en = units.pixels_said(scale, ctx.lang)
    note = section("units", ctx.t("单位", "Units"), ctx.t(
        "所问像素按片子的像素间距换算:" + "、".join(f"{p}约{m}" for p, m in said) + f"(按{which_zh})。",
        "The pixels asked are converted with the film's pixel spacing: " + ", ".join(f"{p} is about {m}" for p, m in said)
        + f" (taken as {which_en})."))
    q = dataclasses.replace(q, size_mm=conv(q.size_mm), size_to_mm=conv(q.size_to_mm), distance_mm=conv(q.distance_mm),
                            threshold_px=False)
    return dataclasses.replace(ctx, query=q), note


def _in_unit_asked(ctx: Context, out: Composition) -> dict[str, Any] | None:
    """"How big is it in inches?" / "in pixels?" / "how far is it from the pleura in cm?": the answer's measurements in
    the unit asked, before the answer gives them in mm (none where it measured nothing, or mm was asked)."""
    if ctx.query.unit not in ("cm", "inch", "px"):
        return None
    registry = out.registry or ctx.registry
    names: dict[str, tuple[str, str]] = {k: (zh, f"the {en}") for k, (zh, en) in LANDMARK_NAMES.items()}
    names.update({a.id: (f"{a.label_zh}({a.id})", f"the {a.label_en} ({a.id})") for a in registry.anchors})
    scale = _film_pixels(ctx) if ctx.query.unit == "px" else None
    line = units.unit_line(out.measurements, ctx.query.unit, ctx.lang, names, scale)
    return section("units", ctx.t("单位", "Units"), line) if line else None


def _compose_asked(ctx: Context) -> Composition:
    if ctx.query.intent in _FINDING_INTENTS and ctx.subjects and not subject_findings(ctx):
        return compose_not_a_finding(ctx)
    first = COMPOSERS.get(ctx.query.intent, compose_out_of_scope)(ctx)
    if ctx.query.how_much:  # "by how much?": the difference the answer gives, alone (``last_answer``)
        from orchestrator.dialogue.last_answer import amount_only

        first = amount_only(ctx, first)
    first = _with_also(ctx, first) if ctx.query.also and subject_findings(ctx) else first
    wall = _wall_section(ctx) if ctx.query.wall_asked else None
    return dataclasses.replace(first, sections=(wall, *first.sections)) if wall else first
