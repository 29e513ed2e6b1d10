"""Evaluate a named checklist (``orchestrator/ontology/checklists.json``) against the facts.

Each item becomes yes / no / uncertain with its evidence (the fact and its value) and, when
not settled, what would settle it. ``matched`` counts yes; ``total`` counts the items this
film decides (yes or no), so "3/5" reads as "3 of the 5 decidable signs".
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from orchestrator.dialogue.words import phrases, r1, word
from orchestrator.facts import Finding, ImageFacts
from orchestrator.findings.calibration import is_confident
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
    """A margin item over a smooth read: the lesion map (half the film's resolution) cannot
    show 1 mm spicules, so "smooth" decides neither "irregular: no" nor "smooth: yes"."""
    return finding is not None and rule.get("fact") == "margin" and finding.margin == "smooth"


def unbacked(rule: dict[str, Any], finding: Finding | None) -> bool:
    """The item rests on an attribute whose calibrated probability is below the threshold."""
    attr = FACT_ATTRIBUTES.get(str(rule.get("fact")))
    return finding is not None and attr is not None and not is_confident(finding.attribute_confidence.get(attr))


def _finding_status(rule: dict[str, Any], finding: Finding | None) -> tuple[str, Any]:
    if finding is None:
        return "uncertain", None
    value = fact_value(finding, rule["fact"])
    status = _compare(value, rule["op"], rule.get("value"))
    if status == "yes" and rule.get("yes_as"):
        status = rule["yes_as"]
    if smooth_unbacked(rule, finding) or unbacked(rule, finding):
        status = "uncertain"
    return status, value


def _findings_status(rule: dict[str, Any], facts: ImageFacts) -> tuple[str, Any]:
    statuses = [_compare(fact_value(f, rule["fact"]), rule["op"], rule.get("value")) for f in facts.findings]
    hits = [f.id for f, s in zip(facts.findings, statuses, strict=True) if s == "yes"]
    if hits:
        return "yes", hits
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


def evaluate_item(item: ChecklistItem, facts: ImageFacts, finding: Finding | None) -> tuple[str, Any]:
    scope = item.rule.get("scope", "none")
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


def _evidence(item: ChecklistItem, status: str, value: Any, lang: str, spacing_estimated: bool) -> str:
    fact = item.rule.get("fact", "")
    scope = item.rule.get("scope", "none")
    if scope == "none":
        return "X线片上本系统未评估此项" if lang == "zh" else "not assessed on a radiograph by this system"
    if value is None:
        return "无相关事实" if lang == "zh" else "no fact available"
    names = FACT_LABELS.get(fact) or (("肋膈角", "costophrenic angles") if scope == "costophrenic" else (fact, fact))
    label = names[0] if lang == "zh" else names[1]
    shown = _shown(value, lang)
    if fact.endswith("_mm"):
        shown = f"{shown} mm" + (("(估计间距)" if lang == "zh" else " (estimated spacing)") if spacing_estimated else "")
    if scope == "findings":
        label = ("病灶" if lang == "zh" else "lesions with ") + label if value else label
    return f"{label}:{shown}" if lang == "zh" else f"{label}: {shown}"


def _detail(item: ChecklistItem, value: Any, lang: str, spacing_estimated: bool) -> str:
    if item.rule.get("scope") not in ("finding", "anatomy") or value is None or isinstance(value, bool | tuple | list):
        return ""
    if isinstance(value, str) and value in ("yes", "no", "uncertain"):
        return ""
    fact = item.rule.get("fact", "")
    names = FACT_LABELS.get(fact, (fact, fact))
    shown = _shown(value, lang)
    if fact.endswith("_mm"):
        shown = f"{shown} mm" + (("(估计间距)" if lang == "zh" else " (estimated spacing)") if spacing_estimated else "")
    return f"{names[0]}{shown}" if lang == "zh" else f"{names[1]} {shown}"


def evaluate(checklist: Checklist, facts: ImageFacts, finding: Finding | None, lang: str, ontology: Ontology) -> list[ItemResult]:
    out: list[ItemResult] = []
    for item in checklist.items:
        status, value = evaluate_item(item, facts, finding)
        sign = ontology.sign(item.sign)
        detail = _detail(item, value, lang, facts.spacing.source == "estimated")
        evidence = _evidence(item, status, value, lang, facts.spacing.source == "estimated")
        if item.rule.get("scope") == "finding" and smooth_unbacked(item.rule, finding):
            detail = "此分辨率下未见边缘不规则" if lang == "zh" else "no irregularity seen at this resolution"
            evidence = f"边缘:{detail}" if lang == "zh" else f"margin: {detail}"
        elif item.rule.get("scope") == "finding" and unbacked(item.rule, finding):
            detail = ""
            evidence += "(置信度低于阈值,本片无法判断)" if lang == "zh" else " (below the confidence threshold: cannot be judged on this film)"
        out.append(
            ItemResult(
                sign=item.sign,
                label=item.label(lang) or (sign.name(lang) if sign else item.sign),
                status=status,
                evidence=evidence,
                settle=item.settle(lang) if status == "uncertain" else "",
                specificity=sign.specificity if sign else 0.5,
                fact=item.rule.get("fact"),
                value=value,
                detail=detail,
            )
        )
    return out


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
