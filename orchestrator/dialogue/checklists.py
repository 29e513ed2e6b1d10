"""Evaluate a named checklist (``orchestrator/ontology/checklists.json``) against the facts.

Each item becomes yes / no / uncertain with its evidence (the fact and its value) and, when
not settled, what would settle it. ``matched`` counts yes; ``total`` counts the items this
film decides (yes or no), so "3/5" reads as "3 of the 5 decidable signs".

Items of scope ``interval`` rest on the comparison with an earlier film of the same chest, where the session has one
(``orchestrator/findings/interval.py``): growth between the films, and two years without it. One film cannot decide
either, so without an earlier film they are ``uncertain`` and say what would settle them. "No growth" is said only over
two years or more: a cancer's diameter grows by a measurable 15% in about a year at the slowest typical doubling
time (400 days), so a shorter interval without a measurable change leaves growth undecided, never "no" (a false
reassurance). A change on films too coarse for the lesion reader is a reason to compare the films, not a sign.

``read_sign`` answers a question about one sign ("is there a pneumothorax?") from the facts:
yes / no / uncertain with the evidence, or ``not_read`` for a sign Hilum does not read at all.

A sign shown only by findings worded "possibly" (a presence under the threshold; every finding on a film the second
reader read alone) is uncertain, and said to be possible, in the direct answer and in the checklists alike: it had been
"yes", "… a small effusion", of an effusion-like opacity the screening called possible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from orchestrator.dialogue.anchors import screening_registry
from orchestrator.dialogue.effusion import EXTENT_CAVEAT, effusion_extent_text
from orchestrator.dialogue.words import and_list, objects_phrase, phrases, r1, word
from orchestrator.encoders.second_reader import WARNING as READ_ALONE
from orchestrator.facts import Finding, ImageFacts
from orchestrator.findings.calibration import cavity_unexcluded, is_confident, present_stated
from orchestrator.findings.film_edge import EDGE_WARNING
from orchestrator.findings.hila_levels import HILA_READ_ALONE, HILA_UNPLACED
from orchestrator.findings.interval import FindingChange, IntervalComparison
from orchestrator.ontology.loader import Checklist, ChecklistItem, Ontology


@dataclass(frozen=True)
class ItemResult:
    sign: str
    label: str
    status: str  # yes | no | uncertain
    evidence: str
    settle: str
    specificity: float
    fact: str | None
    value: Any
    detail: str = ""  # the evidence for prose: only measured or described values, never the sign's own name
    why: str = ""  # why the film cannot decide it, where that is not the settle's want (no hilum placed on this film)


def fact_value(obj: Any, path: str) -> Any:
    cur = obj
    for part in path.split("."):
        if cur is None:
            return None
        cur = cur.get(part) if isinstance(cur, dict) else getattr(cur, part, None)
    return cur


def _compare(value: Any, op: str, target: Any) -> str:
    if value is None:
        return "uncertain"
    if op == "in":
        return "yes" if value in target else "no"
    if op == "eq":
        return "yes" if value == target else "no"
    if op == "gt":
        return "yes" if float(value) > float(target) else "no"
    if op == "lt":
        return "yes" if float(value) < float(target) else "no"
    if op == "true":
        if isinstance(value, tuple | list):
            return "yes" if value else "no"
        return "yes" if bool(value) else "no"
    if op == "tri":
        return str(value) if value in ("yes", "no", "uncertain") else "uncertain"
    return "uncertain"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{r1(value)}"
    if isinstance(value, tuple | list):
        return str(len(value))
    return str(value)


# which calibrated attribute (Finding.attribute_confidence) a finding fact rests on
FACT_ATTRIBUTES = MappingProxyType({
    "margin": "margin",
    "density.calcified": "calcification",
    "density.cavity": "cavity",
    "density.homogeneous": "density",
    "diameter_mm": "size",
})


def smooth_unbacked(rule: dict[str, Any], finding: Finding | None) -> bool:
    """A margin item over a smooth read that nothing backs: the lesion map (half the film's
    resolution) cannot show 1 mm spicules, so its "smooth" decides neither "irregular: no" nor
    "smooth: yes". A smooth read by the lesion reader on the film's own pixels, with its probability
    over the threshold, is backed (``orchestrator/findings/lesion_reading.py``)."""
    if finding is None or rule.get("fact") != "margin" or finding.margin != "smooth":
        return False
    return not (finding.margin_source == "reader" and is_confident(finding.attribute_confidence.get("margin")))


SIZE_SLACK = 0.2  # the size attribute's calibration asks "within 20%": a size that far past a threshold decides it


def _past_threshold(rule: dict[str, Any], value: Any) -> bool:
    """A size more than ``SIZE_SLACK`` beyond the item's threshold decides the item however unsure the size is ("under
    8 mm" of a 12.3 mm nodule is "no" even when its exact size cannot be judged)."""
    if rule.get("fact") != "diameter_mm" or rule.get("op") not in ("lt", "gt") or value is None:
        return False
    low, high, target = float(value) * (1 - SIZE_SLACK), float(value) * (1 + SIZE_SLACK), float(rule["value"])
    return low > target or high < target


def unbacked(rule: dict[str, Any], finding: Finding | None) -> bool:
    """The item rests on an attribute whose calibrated probability is below the threshold (and, for a size, is not
    decided anyway by lying far from its threshold)."""
    attr = FACT_ATTRIBUTES.get(str(rule.get("fact")))
    if finding is not None and attr == "cavity" and cavity_unexcluded(finding):  # as its density answer hedges it
        return True
    if finding is None or attr is None or is_confident(finding.attribute_confidence.get(attr)):
        return False
    return not _past_threshold(rule, fact_value(finding, str(rule.get("fact"))))


# a lucency read inside a finding, which is not stated a bubble-like lucency (``calibration.present_stated``): what it
# is, and what cannot be judged of it ((zh, en) each); the density answer and the checklist's evidence both say it
LUCENCY_SEEN = (("内见小透亮区", "是否为空泡征本片无法判断"),
                ("a small lucency inside", "whether it is a bubble-like lucency cannot be judged on this film"))


def present_unshown(rule: dict[str, Any], finding: Finding | None) -> bool:
    """The item rests on a density reading read present whose presence no film has shown right
    (``calibration.present_stated``: a bubble-like lucency): it counts as uncertain, not yes."""
    fact = str(rule.get("fact", ""))
    if finding is None or not fact.startswith("density."):
        return False
    value = fact_value(finding, fact)
    return isinstance(value, bool) and not present_stated(fact.removeprefix("density."), value)


def _finding_status(rule: dict[str, Any], finding: Finding | None) -> tuple[str, Any]:
    if finding is None:
        return "uncertain", None
    value = fact_value(finding, rule["fact"])
    status = _compare(value, rule["op"], rule.get("value"))
    if status == "yes" and rule.get("yes_as"):
        status = rule["yes_as"]
    if smooth_unbacked(rule, finding) or unbacked(rule, finding) or present_unshown(rule, finding):
        status = "uncertain"
    return status, value


def _findings_status(rule: dict[str, Any], facts: ImageFacts) -> tuple[str, Any]:
    """Whether any finding shows the fact: yes (which), uncertain where one may and none does (a lesion large enough to
    hold a cavity read without one: ``calibration.cavity_unexcluded``, as its density answer says), else no."""
    statuses = [_compare(fact_value(f, rule["fact"]), rule["op"], rule.get("value")) for f in facts.findings]
    if rule.get("fact") == "density.cavity":
        statuses = ["uncertain" if s == "no" and cavity_unexcluded(f) else s for f, s in zip(facts.findings, statuses,
                                                                                                strict=True)]
    hits = [f.id for f, s in zip(facts.findings, statuses, strict=True) if s == "yes"]
    # a finding worded "possibly" (its presence under the threshold, or any finding on a film read alone) shows the fact
    # possibly: uncertain, with which (it had been "yes", where "is there an effusion?" said "possibly" of the same one)
    sure = [f.id for f, s in zip(facts.findings, statuses, strict=True) if s == "yes" and is_confident(f.confidence)]
    if sure:
        return "yes", sure
    if hits:
        return "uncertain", hits
    if "uncertain" in statuses:
        return "uncertain", []
    return "no", []


def _costophrenic_status(rule: dict[str, Any], facts: ImageFacts) -> tuple[str, Any]:
    angles = facts.anatomy.costophrenic
    states = {c.side: c.state for c in angles}
    if any(c.state == rule.get("value") for c in angles):
        return "yes", states
    if not angles or all(c.state == "not_assessable" for c in angles):
        return "uncertain", states
    return "no", states


STABLE_DAYS = 730  # two years without growth: the classic mark of a benign solid nodule (Fleischner)


@dataclass(frozen=True)
class IntervalEvidence:
    """What an ``interval`` item rests on: the comparison (None: no earlier film) and the finding's change in it."""

    comparison: IntervalComparison | None
    change: FindingChange | None


_MEASURED = frozenset({"larger", "smaller", "no_measurable_change"})


def _interval_status(rule: dict[str, Any], finding: Finding | None,
                     interval: IntervalComparison | None) -> tuple[str, IntervalEvidence]:
    if interval is None or not interval.comparable or finding is None:
        return "uncertain", IntervalEvidence(interval, None)
    change = interval.change_of(finding.id)
    evidence = IntervalEvidence(interval, change)
    # (an earlier reading that was only a "possibly" measures no change: ``interval_answer.change_measured``)
    if change is None or change.status not in _MEASURED or interval.coarse or change.earlier_uncertain:
        return "uncertain", evidence
    long_enough = interval.interval_days is not None and interval.interval_days >= STABLE_DAYS
    grew = change.status == "larger"
    if rule.get("fact") == "growth":
        return ("yes" if grew else "no" if long_enough or change.status == "smaller" else "uncertain"), evidence
    if rule.get("fact") == "stable":
        return ("no" if grew else "yes" if long_enough else "uncertain"), evidence
    return "uncertain", evidence


def evaluate_item(item: ChecklistItem, facts: ImageFacts, finding: Finding | None,
                  interval: IntervalComparison | None = None) -> tuple[str, Any]:
    scope = item.rule.get("scope", "none")
    if scope == "interval":
        return _interval_status(item.rule, finding, interval)
    if scope == "finding":
        return _finding_status(item.rule, finding)
    if scope == "findings":
        return _findings_status(item.rule, facts)
    if scope == "anatomy":
        value = fact_value(facts.anatomy, item.rule["fact"])
        return _compare(value, item.rule["op"], item.rule.get("value")), value
    if scope == "costophrenic":
        return _costophrenic_status(item.rule, facts)
    return "uncertain", None


FACT_LABELS = MappingProxyType({
    "shape": ("形态", "shape"),
    "margin": ("边缘", "margin"),
    "hilum.center_distance_mm": ("中心至肺门距离", "centre-to-hilum distance"),
    "density.bubble_lucency": ("空泡样透亮影", "bubble-like lucency"),
    "density.air_bronchogram": ("空气支气管征", "air bronchogram"),
    "density.calcified": ("钙化", "calcification"),
    "density.cavity": ("空洞", "cavity"),
    "density.homogeneous": ("密度均匀", "homogeneous density"),
    "pleural_contact": ("与胸膜接触", "pleural contact"),
    "diameter_mm": ("直径", "diameter"),
    "kind": ("病灶类型", "lesion type"),
    "zone": ("肺野", "zone"),
    "cardiothoracic_ratio": ("心胸比", "cardiothoracic ratio"),
})


def _shown(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return word("status", "yes" if value else "no", lang)
    if isinstance(value, str):
        for group in ("shape", "margin", "tri", "kind", "zone"):
            if value in phrases().get(group, {}):
                return word(group, value, lang)
        return value
    if isinstance(value, dict):  # costophrenic states by side
        return ("、" if lang == "zh" else ", ").join(
            f"{word('side', k, lang)}{'' if lang == 'zh' else ' '}{word('angle_state', v, lang)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else ("无" if lang == "zh" else "none")
    return _show(value)


def _interval_detail(value: IntervalEvidence, lang: str, spacing_estimated: bool) -> str:
    """The comparison behind an ``interval`` item, in words: the two sizes and the interval where they were compared."""
    zh = lang == "zh"
    comparison, change = value.comparison, value.change
    if comparison is None:
        return "无既往片可对比" if zh else "no earlier film to compare with"
    if not comparison.comparable or change is None:
        return "既往片无法与本片对比" if zh else "the earlier film could not be compared with this one"
    if change.status == "new":
        return "既往片上未见" if zh else "not found on the earlier film"
    if change.status == "seen_on_both":
        return "两片均见,大小未作对比" if zh else "seen on both films, sizes not compared"
    days = comparison.interval_days
    when = (f"{days}天前" if zh else f"{days} days before") if days is not None else ("既往片" if zh else "on the earlier film")
    unit = ("(估计间距)" if zh else " (estimated spacing)") if spacing_estimated else ""
    sizes = (f"现约{change.now_mm} mm,{when}约{change.then_mm} mm{unit}" if zh
             else f"{change.now_mm} mm now, {change.then_mm} mm {when}{unit}")
    if change.earlier_uncertain:  # no earlier size stated: the change is not measured from it
        return (f"现约{change.now_mm} mm,以前的片子上该处仅可能为病灶,变化无法测量" if zh
                else f"{change.now_mm} mm now; the earlier film only possibly shows a lesion there, so no change is "
                     "measured")
    if comparison.coarse:
        sizes += (";片子分辨率较低,大小对比仅供参考" if zh else "; films too coarse to measure a change on")
    return sizes


def _evidence(item: ChecklistItem, status: str, value: Any, lang: str, spacing_estimated: bool) -> str:
    fact = item.rule.get("fact", "")
    scope = item.rule.get("scope", "none")
    if scope == "interval":
        detail = _interval_detail(value, lang, spacing_estimated)
        return f"与既往片对比:{detail}" if lang == "zh" else f"against an earlier film: {detail}"
    if scope == "none":
        return "X线片上本系统未评估此项" if lang == "zh" else "not assessed on a radiograph by this system"
    if value is None:
        return "无相关事实" if lang == "zh" else "no fact available"
    names = FACT_LABELS.get(fact) or (("肋膈角", "costophrenic angles") if scope == "costophrenic" else (fact, fact))
    label = names[0] if lang == "zh" else names[1]
    shown = f"{value:.2f}" if fact == "cardiothoracic_ratio" else _shown(value, lang)  # a ratio as it is stated
    if fact.endswith("_mm"):
        shown = f"{shown} mm" + (("(估计间距)" if lang == "zh" else " (estimated spacing)") if spacing_estimated else "")
    if scope == "findings":
        label = ("病灶" if lang == "zh" else "lesions with ") + label if value else label
        if value and status == "uncertain":  # findings worded "possibly" (``_findings_status``)
            shown += "(可能)" if lang == "zh" else " (possibly)"
    return f"{label}:{shown}" if lang == "zh" else f"{label}: {shown}"


def _detail(item: ChecklistItem, value: Any, lang: str, spacing_estimated: bool) -> str:
    if item.rule.get("scope") == "interval":
        return _interval_detail(value, lang, spacing_estimated)
    if item.rule.get("scope") not in ("finding", "anatomy") or value is None or isinstance(value, bool | tuple | list):
        return ""
    if isinstance(value, str) and value in ("yes", "no", "uncertain"):
        return ""
    fact = item.rule.get("fact", "")
    names = FACT_LABELS.get(fact, (fact, fact))
    shown = f"{value:.2f}" if fact == "cardiothoracic_ratio" else _shown(value, lang)  # a ratio as it is stated
    if fact.endswith("_mm"):
        shown = f"{shown} mm" + (("(估计间距)" if lang == "zh" else " (estimated spacing)") if spacing_estimated else "")
    return f"{names[0]}{shown}" if lang == "zh" else f"{names[1]} {shown}"


# a lesion not found on a film the second reader read alone is not ruled out: it found about six in ten nodules on the
# films of a patient no weights had seen (orchestrator/encoders/second_reader.py, ALONE_NODULES_FOUND)
ALONE_NOT_FOUND = ("但本片由第二读片模型单独读取,它可能漏掉病灶", "but this film was read by the second reader alone, which "
                   "can miss a lesion")
ALONE_SETTLE = ("放射科医师阅片", "A radiologist's reading")


def read_alone(facts: ImageFacts) -> bool:
    """Whether the second reader read this film alone (the film check's warning): its absences rule nothing out."""
    return READ_ALONE in facts.film_check.warnings


_FINDING_ID = re.compile(r"(?<![A-Za-z0-9])F\d+(?![0-9])")


def _as_anchors(text: str, facts: ImageFacts, registry: Any) -> str:
    """Finding ids (F2) in an item's evidence as the session's anchor ids (A2), the ids the reader sees: the checklist
    card on the page had read "lesions with shape: F2" where the answer said A2."""
    if not _FINDING_ID.search(text):
        return text
    reg = registry if registry is not None else screening_registry(facts)

    def anchor(m: re.Match[str]) -> str:
        a = reg.for_finding(m.group(0))
        return a.id if a is not None else m.group(0)

    return _FINDING_ID.sub(anchor, text)


def evaluate(checklist: Checklist, facts: ImageFacts, finding: Finding | None, lang: str, ontology: Ontology,
             interval: IntervalComparison | None = None, registry: Any = None) -> list[ItemResult]:
    """``interval``: the session's comparison with an earlier film (None: none was uploaded). ``registry``: the
    session's anchors, which an ``as_asked`` item's direct reading names (None: the screening turn's)."""
    out: list[ItemResult] = []
    for item in checklist.items:
        status, value = evaluate_item(item, facts, finding, interval)
        sign = ontology.sign(item.sign)
        why = ""
        detail = _detail(item, value, lang, facts.spacing.source == "estimated")
        evidence = _evidence(item, status, value, lang, facts.spacing.source == "estimated")
        settle = item.settle(lang)
        # "parapneumonic effusion (blunted costophrenic angle)": no only where "is there an effusion?" says no too (a sharp
        # angle on a film read alone, or one not checked for fluid, is no "no effusion")
        absent_of = item.rule.get("absent_as_asked") if status == "no" else None
        if item.rule.get("as_asked") or absent_of:  # as "is the heart enlarged?" / "is there consolidation?" reads it
            registry = screening_registry(facts) if registry is None else registry
            read = read_sign(absent_of or item.sign, facts, None, registry)
            if read.status != status:
                status, evidence = read.status, (read.evidence_zh if lang == "zh" else read.evidence_en).rstrip("。.")
                settle = _mid_sentence(read.settle_zh if lang == "zh" else read.settle_en) or settle
                if absent_of and status == "uncertain":  # sharp angles that settle no effusion here: why not (a film
                    # read alone, whose screening calls the same angles sharp)
                    detail = ("肋膈角锐利,但不足以排除积液" if lang == "zh"
                              else "angles sharp, which does not rule out an effusion here")
                    why = evidence.replace("。", ",")  # (one clause in the sentence that says it cannot be decided)
        elif read_alone(facts) and (status, item.rule.get("scope")) in (("yes", "costophrenic"), ("no", "findings")):
            # read by the second reader alone: an angle is possibly blunted, a lesion not found is not absent
            status, settle = "uncertain", _mid_sentence(ALONE_SETTLE[0] if lang == "zh" else ALONE_SETTLE[1])
            if item.rule["scope"] == "costophrenic":
                value = {side: angle_state(state, facts) for side, state in value.items()}
                evidence = _evidence(item, status, value, lang, facts.spacing.source == "estimated")
            else:
                evidence += (";" + ALONE_NOT_FOUND[0]) if lang == "zh" else f"; {ALONE_NOT_FOUND[1]}"
        if finding is not None and str(item.rule.get("fact", "")).startswith("hilum.") and finding.hilum is None:
            # no hilum placed on this film (read alone, or the pair set aside): its spacing would not settle it
            why_zh, why_en = no_hilum_reason(facts)
            why, settle = (why_zh, NO_HILUM_SETTLE[0]) if lang == "zh" else (why_en, NO_HILUM_SETTLE[1])
            detail = "本片未定肺门位置" if lang == "zh" else "no hilum placed on this film"
            evidence = why
        if item.rule.get("scope") == "finding" and smooth_unbacked(item.rule, finding):
            detail = "此分辨率下未见边缘不规则" if lang == "zh" else "no irregularity seen at this resolution"
            evidence = f"边缘:{detail}" if lang == "zh" else f"margin: {detail}"
        elif item.rule.get("scope") == "finding" and present_unshown(item.rule, finding):
            (seen_zh, cannot_zh), (seen_en, cannot_en) = LUCENCY_SEEN
            evidence = f"{seen_zh},{cannot_zh}" if lang == "zh" else f"{seen_en}; {cannot_en}"
        elif item.rule.get("scope") == "finding" and unbacked(item.rule, finding):
            detail = ""
            evidence += "(置信度低于阈值,本片无法判断)" if lang == "zh" else " (below the confidence threshold: cannot be judged on this film)"
        out.append(
            ItemResult(
                sign=item.sign,
                label=item.label(lang) or (sign.name(lang) if sign else item.sign),
                status=status,
                evidence=_as_anchors(evidence, facts, registry),
                settle=settle if status == "uncertain" else "",
                specificity=sign.specificity if sign else 0.5,
                fact=item.rule.get("fact"),
                value=value,
                detail=detail,
                why=why if status == "uncertain" else "",
            )
        )
    return out


# why a distance to the hilum cannot be measured on this film (zh, en), by the film check's warnings
# (``orchestrator.findings.hila_levels``), and what would settle one
_NO_HILUM = MappingProxyType({
    HILA_READ_ALONE: ("本片未定肺门位置:第二读片模型在与训练片差异较大的片子上所定的肺门位置经核查有误",
                      "no hilum is placed on this film: the second reader's hilum points were found misplaced on "
                      "films unlike its training films"),
    HILA_UNPLACED: ("本片未定肺门位置:找到的两侧肺门高度相差超出胸片所见的范围",
                    "no hilum is placed on this film: the two hila found lie further apart in height than a chest's do"),
})
NO_HILUM_SETTLE = ("放射科医师阅片确定肺门位置,或CT", "a radiologist's reading of where the hilum lies, or CT")


def no_hilum_reason(facts: ImageFacts) -> tuple[str, str]:
    """Why a finding has no distance to a hilum on this film (zh, en): the hila withheld (read alone, or the pair set
    aside), else none placed for it."""
    return next((_NO_HILUM[w] for w in (HILA_READ_ALONE, HILA_UNPLACED) if w in facts.film_check.warnings),
                ("本片未能为其确定肺门位置", "no hilum was placed for it on this film"))


def _mid_sentence(text: str) -> str:
    """A phrase that opens a sentence, to go inside one ("A standard PA film" -> "a standard PA film"; "CT" stays)."""
    return text[:1].lower() + text[1:] if len(text) > 1 and not text[1].isupper() else text


def checklist_dict(checklist: Checklist, results: list[ItemResult], lang: str, subject: str | None) -> dict[str, Any]:
    matched = sum(1 for r in results if r.status == "yes")
    total = sum(1 for r in results if r.status in ("yes", "no"))
    return {
        "name": checklist.name,
        "title": checklist.title(lang),
        "subject_anchor_id": subject,
        "matched": matched,
        "total": total,
        "uncertain": sum(1 for r in results if r.status == "uncertain"),
        "items": [
            {"sign": r.sign, "label": r.label, "status": r.status, "evidence": r.evidence, "settle": r.settle,
             "specificity": r.specificity}
            for r in results
        ],
    }


# --- one sign, asked about directly ("is there a pneumothorax?") ---------------------------------------


@dataclass(frozen=True)
class SignRead:
    """Whether this film shows one sign: yes | no | uncertain (the film cannot settle it) | not_read
    (Hilum does not read this sign at all), with the evidence in both languages."""

    sign: str
    status: str
    evidence_zh: str = ""
    evidence_en: str = ""
    settle_zh: str = ""
    settle_en: str = ""
    anchors: tuple[Any, ...] = ()  # finding anchors that are the evidence
    # uncertain because the only findings that are the sign are worded "possibly" (``possibly_there``): the answer says
    # "possibly", never a flat yes
    possible: bool = False


# the finding kind that is the sign itself, where the findings layer has one
SIGN_KINDS = MappingProxyType({"pleural_effusion": "effusion", "pneumothorax": "pneumothorax", "consolidation": "consolidation"})


# kinds the findings layer gives an opacity that can be the sign's own kind: measured on phantom validation films
# (seeds 50-149, the varied lesion mix, the shipped weights, findings matched to the truth): of 51 consolidation
# patches found, 4 were read as consolidation, 18 as nodules, 5 as masses and 3 as strands, so a film with such
# findings and none read as consolidation cannot answer "no" (it did, on 17 of 22 films with consolidation); an
# effusion-like opacity can hide consolidation behind it (and one patch in 51 was read as an effusion)
ALIKE_KINDS = MappingProxyType({"consolidation": ("nodule", "mass", "strand", "effusion")})  # fluid can hide it


def alike_why(kind: str) -> tuple[str, str]:
    """Why findings of ``ALIKE_KINDS`` leave ``kind`` unsettled (zh, en): what "is there consolidation?" says, and what
    the screening says of the same findings in place of listing the kind among what is absent (``unsettled_by``)."""
    name_zh, name_en = word("kind", kind, "zh"), word("kind", kind, "en")
    return (f"病灶图不能可靠地区分{name_zh}与结节、肿块或条索影,积液也可掩盖其后方的{name_zh}",
            f"the lesion map does not reliably tell {name_en} from a nodule, mass or strand, and fluid can hide {name_en} "
            "behind it")


def unsettled_by(kind: str, facts: ImageFacts, registry: Any) -> tuple[Any, ...]:
    """The anchors of the findings that may be or may hide ``kind`` where none is read as it: the evidence on which
    "is there consolidation?" answers "cannot be judged" (``read_sign``), so that the screening, reading the same
    facts, lists ``kind`` among what is absent only where this is empty. Empty where a finding is read as ``kind``
    or where the film was not checked for it."""
    sign = sign_of_kind((kind,))
    if sign is None:
        return ()
    read = _read_sign(sign, facts, None, registry)
    return read.anchors if read.status == "uncertain" and not read.possible else ()


def sign_of_kind(kinds: tuple[str, ...]) -> str | None:
    """The sign a finding named by its kind is ("the effusion": pleural_effusion), for the first kind that is one."""
    return next((sign for kind in kinds for sign, of in SIGN_KINDS.items() if of == kind), None)
CTR_LIMIT = 0.5  # a PA film's cardiothoracic ratio above this reads as an enlarged heart


def angle_state(state: str, facts: ImageFacts) -> str:
    """A costophrenic angle's state as the answers state it: "possibly_blunted" where the second reader read the film
    alone (the angle is read from its lung field's outline, which needs a check: nothing on such a film is flat)."""
    return "possibly_blunted" if state == "blunted" and read_alone(facts) else state


def angle_word(state: str, facts: ImageFacts, lang: str) -> str:
    """A costophrenic angle's state in words (``angle_state``)."""
    return word("angle_state", angle_state(state, facts), lang)


def _angles_text(facts: ImageFacts, side: str | None) -> tuple[str, str, list[str]]:
    angles = [c for c in facts.anatomy.costophrenic if side is None or c.side == side]
    zh = "、".join(f"{word('side', c.side, 'zh')}肋膈角{angle_word(c.state, facts, 'zh')}" for c in angles)
    en = ", ".join(f"the {word('side', c.side, 'en')} costophrenic angle is {angle_word(c.state, facts, 'en')}"
                   for c in angles)
    return zh, en, [c.state for c in angles]


def _anchors_of_kinds(kinds: tuple[str, ...], facts: ImageFacts, side: str | None, registry: Any) -> tuple[Any, ...]:
    """Anchors of the findings of these kinds, on the side asked about."""
    hits = [f for f in facts.findings if f.kind in kinds and (side is None or f.side == side)]
    return tuple(a for a in (registry.for_finding(f.id) for f in hits) if a is not None)


def _kind_anchors(sign: str, facts: ImageFacts, side: str | None, registry: Any) -> tuple[Any, ...]:
    kind = SIGN_KINDS.get(sign)
    return _anchors_of_kinds((kind,), facts, side, registry) if kind else ()


def _alike_anchors(sign: str, facts: ImageFacts, side: str | None, registry: Any) -> tuple[Any, ...]:
    """Anchors of the findings whose kind can hide the sign's (``ALIKE_KINDS``), on the side asked about."""
    return _anchors_of_kinds(ALIKE_KINDS.get(SIGN_KINDS.get(sign, ""), ()), facts, side, registry)


def _sure(a: Any, facts: ImageFacts) -> bool:
    """Whether the finding behind an anchor is stated flatly (its presence at the threshold), not "possibly"."""
    f = facts.finding(a.finding_id) if a.finding_id else None
    return f is not None and is_confident(f.confidence)


def possibly_there(read: SignRead, facts: ImageFacts, settle: tuple[str, str]) -> SignRead:
    """A sign read "yes" because findings of its kind were found: "uncertain" (possible) where every one of them is
    worded "possibly" (a presence under the threshold; every finding on a film read alone), as the screening words it
    (``settle``: what would settle it, (zh, en)). Where one is stated flatly it stays "yes"."""
    if read.status != "yes" or not read.anchors or any(_sure(a, facts) for a in read.anchors):
        return read
    zh, en = settle if not read_alone(facts) else ALONE_SETTLE
    return replace(read, status="uncertain", settle_zh=zh, settle_en=en, possible=True)


def _read_effusion(facts: ImageFacts, side: str | None, registry: Any) -> SignRead:
    anchors = _kind_anchors("pleural_effusion", facts, side, registry)
    a_zh, a_en, states = _angles_text(facts, side)
    by_id = {f.id: f for f in facts.findings}
    extents = [effusion_extent_text(by_id[a.finding_id], facts) if a.finding_id in by_id else ("", "") for a in anchors]
    found_zh = "、".join(f"{a.id}({a.label_zh}){'' if _sure(a, facts) else '可能'}为积液样密度影" + (f",{zh}" if zh else "")
                         for a, (zh, _) in zip(anchors, extents, strict=True))
    found_en = ", ".join(f"{a.id} ({a.label_en}) is {'' if _sure(a, facts) else 'possibly '}an effusion-like opacity"
                         + (f" reaching {en}" if en else "") for a, (_, en) in zip(anchors, extents, strict=True))
    if any(zh for zh, _ in extents):
        found_zh, found_en = f"{found_zh};{EXTENT_CAVEAT[0]}", f"{found_en}; {EXTENT_CAVEAT[1]}"
    if anchors:
        read = SignRead("pleural_effusion", "yes", f"{found_zh};{a_zh}。" if a_zh else f"{found_zh}。",
                        f"{found_en}; {a_en}." if a_en else f"{found_en}.", anchors=anchors)
        return possibly_there(read, facts, ("侧卧位片或胸腔超声", "A decubitus film or pleural ultrasound"))
    if "blunted" in states:
        return SignRead("pleural_effusion", "uncertain", f"{a_zh};肋膈角变钝可为少量积液或胸膜增厚。",
                        f"{a_en}; a blunted angle can be a small effusion or pleural thickening.",
                        "侧卧位片或胸腔超声", "A decubitus film or pleural ultrasound")
    if states and all(st == "sharp" for st in states) and "effusion" in facts.checked:
        return SignRead("pleural_effusion", "no", f"{a_zh},未见积液样密度影。", f"{a_en}, and no effusion-like opacity was found.")
    return SignRead("pleural_effusion", "uncertain", f"{a_zh}。" if a_zh else "肋膈角无法评估。",
                    f"{a_en}." if a_en else "the costophrenic angles could not be assessed.",
                    "侧位片或胸腔超声", "A lateral film or pleural ultrasound")


# what Hilum reads of an effusion-like opacity's upper border (zh, en): how high it reaches, not the shape of its curve
MENISCUS_NOT_TRACED = ("Hilum不追踪该上缘的弧度(是否沿外侧胸壁升高)",
                       "Hilum does not trace that border's curve (whether it climbs along the lateral chest wall)")


def _read_meniscus(facts: ImageFacts, side: str | None, registry: Any) -> SignRead:
    """"Is there a meniscus sign?": each effusion-like opacity's upper border, which the answers take as the fluid's
    meniscus (its margin answer says so), with how high it reaches and the effusion answer's caveat; uncertain, since
    the border's curve is not traced. With no effusion-like opacity, what "is there an effusion?" says of the film: no
    fluid border where it says no, uncertain (a blunted angle) where it cannot settle it."""
    effusion = _read_effusion(facts, side, registry)
    by_id = {f.id: f for f in facts.findings}
    pairs = [(a, by_id[a.finding_id]) for a in effusion.anchors if a.finding_id in by_id]
    if not pairs:
        if effusion.status == "no":
            return SignRead("meniscus_sign", "no", f"{effusion.evidence_zh.rstrip('。')},因此没有积液上缘可呈半月征。",
                            f"{effusion.evidence_en.rstrip('.')}, so there is no fluid border to show one.")
        return replace(effusion, sign="meniscus_sign", status="uncertain" if effusion.status != "not_read" else "not_read")
    zh, en = [], []
    for a, f in pairs:
        h_zh, h_en = effusion_extent_text(f, facts)
        zh.append(f"{a.id}({a.label_zh})的上缘按液体的弧形边界读取" + (f",{h_zh}" if h_zh else ""))
        en.append(f"{a.id} ({a.label_en}): its upper border is taken as the fluid's meniscus"
                  + (f", reaching {h_en}" if h_en else ""))
    return SignRead("meniscus_sign", "uncertain",
                    ";".join(zh) + f";{MENISCUS_NOT_TRACED[0]};{EXTENT_CAVEAT[0]}。",
                    "; ".join(en) + f"; {MENISCUS_NOT_TRACED[1]}; {EXTENT_CAVEAT[1]}.",
                    "侧卧位片或胸腔超声", "A decubitus film or pleural ultrasound", anchors=tuple(a for a, _ in pairs))


CTR_BORDERLINE = 0.55  # up to here above the limit is "just above": within what positioning and inspiration move it
# as far below the limit, a ratio the second reader measured on a film it read alone is "just under": within what its
# measurement can be off there (every ratio it gives needs a radiologist's check). Positioning, shallow inspiration and an
# AP film only make a heart look larger, so on a film read by the encoder, whatever its view, a ratio under the limit
# stays a plain "not above"
CTR_JUST_UNDER = round(2 * CTR_LIMIT - CTR_BORDERLINE, 2)
# why a ratio just under the limit settles nothing on a film read alone (zh, en)
_ALONE_NEAR = ("本片由第二读片模型单独读取,它测得的心胸比离界值这么近,不足以判定",
               "the second reader read this film alone, and a ratio it measured this close to the limit does not settle it")
# why a ratio above the limit cannot settle an enlarged heart on a film that is not a PA one (zh, en), by its view
_NOT_PA = {"AP": ("前后位片会放大心影", "an AP film magnifies the heart"),
           "": ("片子未注明后前位或前后位,前后位片会放大心影", "the film does not say PA or AP, and an AP film magnifies the heart")}


# why the limit cannot judge a child's ratio (zh, en), by the age group the file gives (orchestrator.patient_age)
_NOT_ADULT = {"infant": ("0.50是成人的界值,婴幼儿心影相对胸廓本就较大,两岁以内心胸比约0.60以内常见",
                         "the 0.50 limit is an adult's: an infant's heart is normally larger for its chest, and in the "
                         "first two years a ratio up to about 0.60 is common"),
              "child": ("0.50是成人的界值,儿童心影相对胸廓本就偏大", "the 0.50 limit is an adult's, and a child's heart is "
                        "normally larger for its chest")}


def ctr_limit_caveat(view: str, age_group: str | None = None) -> tuple[str, str] | None:
    """Why the limit cannot judge this film's ratio (zh, en): a child's film (the age group its file gives), an AP
    film's magnification, or a film that does not say its view (a JPEG or PNG, a DICOM file without View Position:
    ``FilmCheck.view`` "frontal"); None on an adult's (or unsaid) PA film. The 0.50 limit is an adult's PA film's: an
    AP film shows the heart larger, a film that does not say may be one, and a child's heart is larger for its chest."""
    view = view.upper()
    reasons = [r for r in (_NOT_ADULT.get(age_group or ""), None if view == "PA" else _NOT_PA.get(view, _NOT_PA[""]))
               if r is not None]
    return (";".join(r[0] for r in reasons), "; ".join(r[1] for r in reasons)) if reasons else None


def near_under(ctr: float, alone: bool) -> bool:
    """Whether the ratio (as shown) is at or just under the limit on a film the second reader read alone
    (``CTR_JUST_UNDER``): said so, and no flat "no"."""
    return alone and CTR_JUST_UNDER <= round(ctr, 2) <= CTR_LIMIT


def _under_words(ctr: float) -> tuple[str, str]:
    """A ratio near the limit from below, against it (zh, en): "at 0.50", "just under 0.50"."""
    return ((f"等于{CTR_LIMIT:.2f}", f"at {CTR_LIMIT:.2f}") if round(ctr, 2) == CTR_LIMIT else
            (f"略小于{CTR_LIMIT:.2f}", f"just under {CTR_LIMIT:.2f}"))


def ctr_reference(ctr: float, view: str, alone: bool = False, age_group: str | None = None) -> tuple[str, str]:
    """The ratio against the limit, in words (zh, en): "not above 0.50", "just under 0.50" (from ``CTR_JUST_UNDER`` on
    a film read alone, ``alone``, with why that settles nothing), "just above 0.50" (to ``CTR_BORDERLINE``),
    "above 0.50"; above the limit on a film that is not an adult's PA one, why the limit cannot judge it
    (``ctr_limit_caveat``)."""
    ctr = round(ctr, 2)  # judged as it is shown: 0.5504, shown 0.55, is "just above", as 0.5496 is
    if near_under(ctr, alone):
        zh, en = _under_words(ctr)
        return f"{zh};{_ALONE_NEAR[0]}", f"{en}; {_ALONE_NEAR[1]}"
    if ctr <= CTR_LIMIT:
        return f"不大于{CTR_LIMIT:.2f}", f"not above {CTR_LIMIT:.2f}"
    zh, en = (f"略大于{CTR_LIMIT:.2f}", f"just above {CTR_LIMIT:.2f}") if ctr <= CTR_BORDERLINE else (
        f"大于{CTR_LIMIT:.2f}", f"above {CTR_LIMIT:.2f}")
    reason = ctr_limit_caveat(view, age_group)
    if reason is not None:
        zh, en = f"{zh};{reason[0]}", f"{en}; {reason[1]}"
    return zh, en


def film_ctr_reference(facts: ImageFacts) -> tuple[str, str]:
    """This film's ratio against the limit, as every answer that states it says it (``ctr_reference`` with the film's
    view, whether the second reader read it alone, and the patient's age group); the film must have a ratio."""
    ctr = facts.anatomy.cardiothoracic_ratio
    assert ctr is not None
    return ctr_reference(ctr, facts.film_check.view, read_alone(facts), facts.film_check.age_group)


def _read_ctr(facts: ImageFacts) -> SignRead:
    ctr = facts.anatomy.cardiothoracic_ratio
    ctr = None if ctr is None else round(ctr, 2)  # judged as it is shown (two decimals)
    if ctr is None and EDGE_WARNING in facts.film_check.warnings:  # the chest's width may be off the film
        return SignRead("cardiomegaly", "uncertain", "胸廓的全宽可能不在片内,本片不给出心胸比。",
                        "the chest's full width may not be on the film, so no cardiothoracic ratio is given.",
                        "包括整个胸廓的后前位胸片", "A PA film that holds the whole chest")
    if ctr is None:
        return SignRead("cardiomegaly", "uncertain", "本片未能测得心胸比。", "the cardiothoracic ratio could not be measured.",
                        "复查标准后前位胸片", "A standard PA film")
    if near_under(ctr, read_alone(facts)):  # at or just under the limit, measured by the second reader alone
        under_zh, under_en = _under_words(ctr)
        return SignRead("cardiomegaly", "uncertain", f"心胸比约{ctr:.2f}({under_zh})。{_ALONE_NEAR[0]}。",
                        f"the cardiothoracic ratio is about {ctr:.2f} ({under_en}). {_ALONE_NEAR[1][0].upper()}"
                        f"{_ALONE_NEAR[1][1:]}.", *ALONE_SETTLE)
    ref_zh, ref_en = ctr_reference(ctr, "PA")  # why the limit cannot judge a film that is not PA is said below, once
    zh = f"心胸比约{ctr:.2f}({ref_zh})。"
    en = f"the cardiothoracic ratio is about {ctr:.2f} ({ref_en})."
    reason = ctr_limit_caveat(facts.film_check.view, facts.film_check.age_group)
    if ctr > CTR_LIMIT and reason is not None:  # a child's, AP, or a film that does not say: a high ratio there does
        # not settle it
        settle = (("儿科放射科医师阅片", "A paediatric radiologist's reading") if facts.film_check.age_group in _NOT_ADULT
                  else ("标准后前位胸片", "A standard PA film"))
        return SignRead("cardiomegaly", "uncertain", f"{zh}{reason[0]}。", f"{en} {reason[1][0].upper()}{reason[1][1:]}.",
                        *settle)
    if CTR_LIMIT < ctr <= CTR_BORDERLINE:  # just above the limit: within what positioning and inspiration move it
        return SignRead("cardiomegaly", "uncertain", zh + "略高于界值,体位与吸气程度即可使其变化。",
                        en + " Just above the limit, within what positioning and the depth of inspiration move it.",
                        "标准后前位深吸气胸片复查", "A standard PA film at full inspiration")
    return SignRead("cardiomegaly", "yes" if ctr > CTR_LIMIT else "no", zh, en)


def _read_angles(facts: ImageFacts, side: str | None) -> SignRead:
    a_zh, a_en, states = _angles_text(facts, side)
    if "blunted" in states and read_alone(facts):
        return SignRead("costophrenic_blunting", "uncertain", a_zh + "。", a_en + ".", *ALONE_SETTLE)
    if "blunted" in states:
        return SignRead("costophrenic_blunting", "yes", a_zh + "。", a_en + ".")
    if states and all(st == "sharp" for st in states):
        return SignRead("costophrenic_blunting", "no", a_zh + "。", a_en + ".")
    return SignRead("costophrenic_blunting", "uncertain", (a_zh or "肋膈角无法评估") + "。",
                    (a_en or "the costophrenic angles could not be assessed") + ".", "侧位片", "A lateral film")


# signs Hilum does not read: why not, and what would settle them
_NOT_READ = MappingProxyType({
    "atelectasis": ("本系统不判读肺容积减少和肺不张", "Hilum does not read volume loss or atelectasis", "放射科医师阅片或CT",
                    "A radiologist's reading or CT"),
    "adenopathy": ("本系统不追踪纵隔和肺门淋巴结", "Hilum does not trace the mediastinal and hilar lymph nodes", "胸部增强CT",
                   "A contrast-enhanced chest CT"),
    "pneumothorax": ("本系统不追踪脏层胸膜线", "Hilum does not trace the visceral pleural line", "呼气相胸片或CT",
                     "An expiratory film or CT"),
    "mediastinal_widening": ("本系统不测量纵隔宽度", "Hilum does not measure the mediastinal width", "放射科医师阅片或CT",
                             "A radiologist's reading or CT"),
    "mediastinal_shift": ("本系统不测量纵隔相对中线的位置", "Hilum does not measure where the mediastinum lies against the "
                          "midline", "放射科医师阅片", "A radiologist's reading"),
    "hyperinflated_lung": ("本系统不测量肺容积和膈肌高度", "Hilum does not measure the lungs' volume or the height of the "
                           "diaphragm", "放射科医师阅片", "A radiologist's reading"),
    "emphysema": ("本系统不判读肺透亮度和肺纹理", "Hilum does not read the lungs' lucency or their vascular markings",
                  "胸部CT", "A chest CT"),
    "air_fluid_level": ("本系统判读病灶内有无空洞,不判读其内的气液平面", "Hilum reads whether a lesion holds a cavity, not an "
                        "air-fluid level inside it", "立位胸片放大观察或胸部CT", "An upright film read at full size, or a chest CT"),
    "satellite_nodules": ("本系统不判读病灶周围的微小结节,它报告约8 mm及以上的病灶", "Hilum does not read the small nodules "
                          "round a lesion; it reports lesions from about 8 mm", "胸部CT", "A chest CT"),
    "tracheal_deviation": ("本系统不追踪气管走行", "Hilum does not trace the trachea", "放射科医师阅片",
                           "A radiologist's reading"),
    "diaphragm_contour": ("本系统只定位膈顶,不评估膈面轮廓", "Hilum locates the domes of the diaphragm but does not assess their contour",
                          "放射科医师阅片", "A radiologist's reading"),
    "hilar_enlargement": ("本系统只定位肺门,不测量其大小和密度", "Hilum locates the hila but does not measure their size or density",
                          "放射科医师阅片或增强CT", "A radiologist's reading or contrast CT"),
})


# why a sign of a whole category is not read (signs.json categories; parser.UNREAD_CATEGORIES asks them)
_NOT_READ_CATEGORY = MappingProxyType({
    "bone": ("本系统不判读骨骼(肋骨、锁骨、脊柱)", "Hilum does not read the bones (ribs, clavicles, spine)"),
    "device": ("本系统不识别导管、引流管、起搏器等器械", "Hilum does not identify tubes, lines, pacemakers or other devices"),
    "diaphragm_abdomen": ("本系统不判读膈下和腹部", "Hilum does not read below the diaphragm or the abdomen"),
    "soft_tissue": ("本系统不判读胸壁软组织", "Hilum does not read the soft tissues of the chest wall"),
    "cardiovascular": ("本系统只测量心胸比,不判读心脏和大血管的轮廓", "Hilum measures the cardiothoracic ratio only; it "
                       "does not read the outlines of the heart and the great vessels"),
})
# what any other sign it does not read is measured against: what Hilum does read
_READS = ("本系统只判读局灶病灶、肺门位置、心胸比和肋膈角,此征象不在其中",
          "Hilum reads focal lesions, where the hila lie, the cardiothoracic ratio and the costophrenic angles; this sign "
          "is not among them")


# a structure Hilum does not read, asked about whole ("how are the bones?", "主动脉弓怎么样"): name, why not, and what it
# therefore cannot say (the fissures are asked where they lie as often as how they look)
_LOOKS = ("因此既不能说正常,也不能说异常", "so it can say neither that {0} normal nor that {1} not")
_STRUCTURES_NOT_READ = MappingProxyType({
    "bones": (("骨骼", "The bones"), _NOT_READ_CATEGORY["bone"], _LOOKS),
    "soft_tissues": (("胸壁软组织", "The soft tissues"), _NOT_READ_CATEGORY["soft_tissue"], _LOOKS),
    "great_vessels": (("主动脉和大血管", "The aorta and the great vessels"), _NOT_READ_CATEGORY["cardiovascular"], _LOOKS),
    "trachea": (("气管", "The trachea"), _NOT_READ["tracheal_deviation"][:2], _LOOKS),
    "fissures": (("叶间裂", "The fissures"), ("本系统不追踪叶间裂(病灶所属肺叶由肺叶图推断,重叠投影处为推断)",
                                           "Hilum does not trace the fissures (a finding's lobe is placed from the lobes' "
                                           "maps, an estimate where they overlap)"),
                 ("因此既不能定位,也不能判断其是否正常", "so it can neither place them nor say how they look")),
    "mediastinum": (("纵隔", "The mediastinum"), ("本系统不测量纵隔宽度及其相对中线的位置",
                                              "Hilum measures neither the mediastinum's width nor where it lies against "
                                              "the midline"), _LOOKS),
})


def structure_not_read(structure: str) -> tuple[str, str]:
    """"How are the bones?": the structure named (``_STRUCTURES_NOT_READ``) and why Hilum says nothing of it, (zh, en)."""
    (name_zh, name_en), (why_zh, why_en), (cannot_zh, cannot_en) = _STRUCTURES_NOT_READ[structure]
    they = ("they look", "they do") if name_en.endswith("s") else ("it looks", "it does")
    return (f"{name_zh}:{why_zh},{cannot_zh},需放射科医师阅片。",
            f"{name_en}: {why_en}, {cannot_en.format(*they)}; a radiologist's reading would.")


def read_sign(sign: str, facts: ImageFacts, side: str | None, registry: Any, category: str = "") -> SignRead:
    """Whether the film shows ``sign``, from the facts alone; ``category``: the sign's (signs.json), which says
    why a sign Hilum does not read is not read. On a film the second reader read alone, a lesion's absence (an
    effusion-like opacity, consolidation) is ``uncertain``, never "no"."""
    read = _read_sign(sign, facts, side, registry, category)
    if read.status == "no" and sign in SIGN_KINDS and read_alone(facts):
        return SignRead(sign, "uncertain", f"{read.evidence_zh}{ALONE_NOT_FOUND[0]}。",
                        f"{read.evidence_en.rstrip('.')}; {ALONE_NOT_FOUND[1]}.", *ALONE_SETTLE)
    return read


def _read_sign(sign: str, facts: ImageFacts, side: str | None, registry: Any, category: str = "") -> SignRead:
    if sign == "pleural_effusion":
        return _read_effusion(facts, side, registry)
    if sign == "meniscus_sign":
        return _read_meniscus(facts, side, registry)
    if sign == "cardiomegaly":
        return _read_ctr(facts)
    if sign == "costophrenic_blunting":
        return _read_angles(facts, side)
    anchors = _kind_anchors(sign, facts, side, registry)
    kind = SIGN_KINDS.get(sign)
    if anchors:
        read = SignRead(sign, "yes", "、".join(f"{a.id}({a.label_zh}{'' if _sure(a, facts) else ',可能'})" for a in anchors)
                        + "。", ", ".join(f"{a.id} ({'' if _sure(a, facts) else 'possibly '}{a.label_en})"
                                         for a in anchors) + ".", anchors=anchors)
        return possibly_there(read, facts, ("放射科医师阅片,必要时CT", "A radiologist's reading or a CT"))
    alike = _alike_anchors(sign, facts, side, registry)
    if kind and kind in facts.checked and alike:
        name_zh, name_en = word("kind", kind, "zh"), word("kind", kind, "en")
        why_zh, why_en = alike_why(kind)
        return SignRead(sign, "uncertain",
                        f"本片未见读为{name_zh}的病灶,但" + "、".join(f"{a.id}({a.label_zh})" for a in alike)
                        + f"可能是或遮挡了{name_zh}:{why_zh}。",
                        f"no finding was read as {name_en}, but " + and_list([f"{a.id} ({a.label_en})" for a in alike])
                        + f" may be or may hide it: {why_en}.",
                        "放射科医师阅片,必要时CT", "A radiologist's reading or a CT", anchors=alike)
    if kind and kind in facts.checked:
        return SignRead(sign, "no", "本片已检查,未见。", "this film was checked for it and none was found.")
    why_zh, why_en = _NOT_READ_CATEGORY.get(category, _READS)
    why_zh, why_en, settle_zh, settle_en = _NOT_READ.get(sign, (why_zh, why_en, "放射科医师阅片", "A radiologist's reading"))
    seen_zh, seen_en = _objects_seen(facts) if category == "device" else ("", "")
    return SignRead(sign, "not_read", f"{why_zh},因此既不能说有,也不能说没有。{seen_zh}",
                    f"{why_en}, so it can say neither yes nor no.{seen_en}", settle_zh, settle_en)


def _objects_seen(facts: ImageFacts) -> tuple[str, str]:
    """A device asked of a film on which objects were set aside from the findings (``ImageFacts.objects``): how they
    look and where they lie, which is all Hilum can say of them."""
    n = len(facts.objects)
    if not n:
        return "", ""
    what_zh, what_en = objects_phrase(facts.objects, "zh"), objects_phrase(facts.objects, "en")
    return (f"本片另有{what_zh}未计为病灶,可能正是所问之物,请在片上核对。",
            f" {what_en} {'was' if n == 1 else 'were'} set aside from the "
            f"findings; {'it' if n == 1 else 'one'} may be what you ask about: "
            "check on the film.")
