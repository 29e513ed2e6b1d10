"""The fact guard: a language model's narration may retell the facts, never change them.

Every number, side, lobe, anchor id and sign status in the narration (English or Chinese) is
checked against the turn's facts (docs/DESIGN.md's turn JSON: ``findings[].side/lobe/diameter_mm…``,
``measurements[].mm``, ``checklist.items[].sign/status``, ``anchors[].id``) and against the
composer's own text, which is written from those facts. A narration that contradicts them is
rejected; the caller then shows the composer's text and counts the rejection.

The checks are deliberately conservative: a rejected narration costs only fluency (the exact
composer text is shown), an accepted wrong one costs trust.

- numbers: each must be a correct rounding of a fact value (mm ↔ cm and % converted), a
  number in the composer's text or the question, or a count of a fact list;
- sides: each must occur in the facts or the composer's text (``左右`` = "about" is not a side);
- lobes: each must be one of the lobes in the facts ("left middle lobe" is none);
- anchor ids: each must be an anchor of the session's facts;
- anchored clauses: a clause naming exactly one finding's anchor must not give it another
  lobe or side;
- sign status: a clause that names a checklist sign states it present, absent or uncertain
  (naming it without a qualifier asserts it) and must agree with the item's status; so must
  what it says of the single finding's calcification, cavity, bubble lucency and air bronchogram.

- sign verdicts: on a turn that answers "is there a pneumothorax?" (``signs``: yes, no, uncertain,
  not_read), a clause naming one of those signs must say what the verdict says: present for yes,
  absent (or normal) for no, "cannot be judged" for uncertain, and no presence or absence at all for
  a sign Hilum does not read ("no pneumothorax" where Hilum does not trace the pleural line is
  rejected); a clause that names only the other side than the one asked about is not read.

Known limits: Chinese numerals (三条) are not read as numbers; a clause naming two signs with
one negation is read as negating both (a false rejection, never a false acceptance of a flip).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.findings.calibration import is_confident, present_stated

_NUMBER = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)\s*(%|mm|cm|毫米|厘米|公分)?", re.IGNORECASE)
_LIST_MARKER = re.compile(r"(?m)^\s*\d+[.)、]\s*")
_ANCHOR = re.compile(r"(?<![A-Za-z0-9])A\d+(?![0-9])")
_SIDE_EN = re.compile(r"\b(right|left)\b", re.IGNORECASE)
_SIDE_ZH = re.compile(r"[左右]")
_NOT_SIDE_ZH = ("左右",)  # "about", as in 12 mm左右
_LOBE_EN = re.compile(r"\b(right|left)\s+(upper|middle|lower)\s+lobe", re.IGNORECASE)
_LOBE_ABBR = re.compile(r"\b([RL][UML]L)\b")
_LOBE_ZH = re.compile(r"([左右])肺?([上中下])叶")
_SENTENCE_SPLIT = re.compile(r"[。;；:：!！?？\n]|(?<!\d)\.(?!\d)")
_VERDICT_SPLIT = re.compile(r"[。;；!！?？\n,，]|(?<!\d)\.(?!\d)")
_CLAUSE_SPLIT = re.compile(r"[。;；:：,，、!！?？\n]|(?<!\d)\.(?!\d)")

VALID_LOBES = frozenset({"RUL", "RML", "RLL", "LUL", "LLL"})
_SIDE_OF = {"right": "right", "left": "left", "右": "right", "左": "left"}
_LEVEL_OF = {"upper": "U", "middle": "M", "lower": "L", "上": "U", "中": "M", "下": "L"}

# a checklist sign key (or label) fragment → words that name that sign in a narration
_SIGN_TERMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("spicul", ("spicul", "毛刺")),
    ("lobul", ("lobulat", "分叶")),
    ("round", ("round", "oval", "圆形", "类圆")),
    ("hil", ("hilum", "hilar", "肺门")),
    ("bubble", ("bubble", "vacuol", "空泡")),
    ("pleura", ("pleural indentation", "pleural retraction", "pleural tag", "胸膜凹陷", "胸膜牵拉")),
    ("bronchogram", ("bronchogram", "支气管充气", "空气支气管")),
    ("calcif", ("calcif", "钙化")),
    ("cavit", ("cavit", "空洞")),
)
_UNCERTAIN_CUES = (
    "uncertain", "indeterminate", "unclear", "cannot", "can't", "equivocal", "possibl", "may ",
    "might", "not assessable", "not be assessed", "needs ct", "need ct", "further imaging",
    "不确定", "无法", "不能确定", "不能排除", "待定", "可疑", "难以", "不明确", "需ct", "需要ct", "进一步",
)
_NEGATIVE_CUES = (
    r"\bno\b", r"\bnot\b", r"\bwithout\b", r"\babsent\b", r"\bnone\b", r"\bnegative\b",
    r"\bneither\b", r"\bnor\b", "不符合", "未见", "没有", "无", "未", "阴性", "不存在",
)
_POSITIVE_CUES = (
    r"\byes\b", r"\bthere (?:is|are)\b", r"\bpresent\b", r"\bseen\b", r"\bshows?\b", r"\bvisible\b", r"\bhas\b", r"\bwith\b",
    r"\bmatch", r"\bmeets?\b", r"\bconsistent\b", r"\bpositive\b",
    "可见", "见", "符合", "存在", "有", "阳性", "呈",
)


# a sign-presence verdict's sign (orchestrator/dialogue/checklists.py ``read_sign``) → patterns that
# name it in a narration (English at a word start, Chinese anywhere)
_VERDICT_TERMS: dict[str, tuple[str, ...]] = {
    "pneumothorax": (r"\bpneumothora", r"\bcollapsed lung", "气胸"),
    "pleural_effusion": (r"\beffusion", r"\bpleural fluid", "积液", "胸水"),
    "cardiomegaly": (r"\bcardiomegal", r"\benlarged heart", r"\bheart (?:is )?(?:not )?enlarged", r"\bheart size",
                     r"\bcardiac (?:enlargement|size|silhouette)", r"\bbig heart",
                     "心影增大", "心脏增大", "心脏扩大", "心脏大", "心影大", "心大"),
    "costophrenic_blunting": (r"\bcostophrenic (?:angle )?blunting", r"\bblunted costophrenic",
                              r"\bangles? (?:is |are )?blunted", "肋膈角变钝", "肋膈角钝"),
    "consolidation": (r"\bconsolidat", "实变"),
    "hilar_enlargement": (r"\bhilar (?:enlargement|size)", r"\benlarged hil", r"\bbulky hil", r"\bprominent hil",
                          r"\bhila (?:are|look) (?:not )?(?:enlarged|normal)", "肺门增大", "肺门影增大", "肺门大",
                          "肺门增浓"),
    "mediastinal_widening": (r"\bmediastin", "纵隔"),
    "mediastinal_shift": (r"\bmediastin", "纵隔"),
    "hyperinflated_lung": (r"\bhyperinflat", r"\bover-?inflat", "过度充气"),
    "emphysema": (r"\bemphysem", "肺气肿"),
    "satellite_nodules": (r"\bsatellite", "卫星"),
    "tracheal_deviation": (r"\btrache", "(?<!支)气管"),
    "diaphragm_contour": (r"\bdiaphragm", r"\bhemidiaphragm", "膈面", "膈肌", "横膈"),
}
# what says "Hilum does not read this sign" (checked before any other cue)
_NOT_READ_CUES = (
    r"\bdoes not (?:read|trace|measure|assess)", r"\bdoesn't (?:read|trace|measure|assess)", r"\bnot read\b",
    r"\bnot (?:traced|measured|assessed) by", r"\bneither yes nor no\b", r"\bno verdict\b",
    "不判读", "不追踪", "不测量", "不评估", "既不能说有", "未判读",
)
_VERDICT_UNCERTAIN_CUES = (*_UNCERTAIN_CUES, r"\bwhether\b", "是否", r"\bcan be\b", r"\bcould be\b", r"\bsettle", r"\bnot be judged\b",
                           "可为", "可能", "可明确", "无法判断")
_VERDICT_NEGATIVE_CUES = (*_NEGATIVE_CUES, r"\bnormal\b", r"\bmidline\b", r"\bunremarkable\b", "否", "正常", "居中")
_SIDE_WORDS = {"right": (r"\bright\b", "右"), "left": (r"\bleft\b", "左")}


@dataclass(frozen=True)
class GuardVerdict:
    ok: bool
    violations: tuple[str, ...] = ()

    @property
    def check(self) -> str:
        """The kind of the first failed check (number, side, lobe, anchor, sign), '' when ok."""
        return self.violations[0].split(":", 1)[0] if self.violations else ""


@dataclass(frozen=True)
class _Facts:
    numbers: tuple[float, ...]
    sides: frozenset[str]
    lobes: frozenset[str]
    anchors: frozenset[str]
    anchor_findings: dict[str, dict[str, Any]]
    anatomy_sides: frozenset[str]
    signs: tuple[tuple[tuple[str, ...], str], ...]  # (terms, status yes|no|uncertain)
    verdicts: tuple[tuple[str, str, str | None], ...] = ()  # (sign, status yes|no|uncertain|not_read, side)


# --- reading the facts ---------------------------------------------------------------------


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, leaf) pairs, skipping pixel geometry and drawing layers."""
    if key.endswith("_px") or key in ("overlays", "polygon", "turn"):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list | tuple):
        yield "#len", len(value)
        for v in value:
            yield from _walk(v, key)
    else:
        yield key, value


def _numbers_in_text(text: str) -> list[float]:
    return [float(m.group(1)) for m in _NUMBER.finditer(text)]


def _sides_in_text(text: str) -> set[str]:
    for compound in _NOT_SIDE_ZH:
        text = text.replace(compound, "")
    found = {m.group(1).lower() for m in _SIDE_EN.finditer(text)}
    found |= {_SIDE_OF[m.group(0)] for m in _SIDE_ZH.finditer(text)}
    return found


def _lobes_in_text(text: str) -> list[str]:
    lobes = [_SIDE_OF[m.group(1).lower()][0].upper() + _LEVEL_OF[m.group(2).lower()] + "L" for m in _LOBE_EN.finditer(text)]
    lobes += [m.group(1) for m in _LOBE_ABBR.finditer(text)]
    lobes += [_SIDE_OF[m.group(1)][0].upper() + _LEVEL_OF[m.group(2)] + "L" for m in _LOBE_ZH.finditer(text)]
    return lobes


def _sign_terms(sign: str, labels: list[str]) -> tuple[str, ...]:
    key = " ".join([sign, *labels]).lower()
    terms: list[str] = []
    for fragment, words in _SIGN_TERMS:
        if fragment in key:
            terms.extend(words)
    return tuple(terms)


def _signs(turn_facts: dict[str, Any]) -> tuple[tuple[tuple[str, ...], str], ...]:
    signs: list[tuple[tuple[str, ...], str]] = []
    checklist = turn_facts.get("checklist") or {}
    for item in checklist.get("items") or []:
        labels = [str(v) for k, v in item.items() if k in ("label", "label_en", "label_zh", "name") and v]
        terms = _sign_terms(str(item.get("sign", "")), labels)
        if terms and item.get("status") in ("yes", "no", "uncertain"):
            signs.append((terms, str(item["status"])))
    findings = turn_facts.get("findings") or []
    # a sign the turn's checklist gives a verdict on is that verdict (an image-level checklist reads every finding, the
    # one subject listed among others: a cavity unexcluded in another finding makes its "cavity" uncertain)
    listed = {str(item.get("sign")) for item in checklist.get("items") or []}
    if len(findings) == 1:  # a single subject: its density facts are sign statuses too
        f = findings[0]
        density = f.get("density") if isinstance(f.get("density"), dict) else f
        confidence = f.get("attribute_confidence") or {}
        stated = f.get("stated") if isinstance(f.get("stated"), dict) else {}
        for key, sign, attr in (("calcified", "calcif", "calcification"), ("cavity", "cavit", "cavity"),
                                ("bubble_lucency", "bubble", "")):
            if isinstance(density.get(key), bool) and not (attr and attr in listed):
                # below the calibration threshold the composer says it cannot be judged, as it says of a bubble-like
                # lucency read present (``calibration.present_stated``); where the finding says which readings the
                # answers state flatly (``stated``: a "no cavity" on a lesion large enough to hold one is hedged too),
                # that
                backed = (bool(stated[attr]) if attr in stated else is_confident(confidence.get(attr)) if attr
                          else present_stated(key, density[key]))
                signs.append((_sign_terms(sign, []), ("yes" if density[key] else "no") if backed else "uncertain"))
        if density.get("air_bronchogram") in ("yes", "no", "uncertain"):
            signs.append((_sign_terms("bronchogram", []), str(density["air_bronchogram"])))
    return tuple(signs)


def _verdicts(turn_facts: dict[str, Any]) -> tuple[tuple[str, str, str | None], ...]:
    """The turn's sign verdicts (``Turn.facts()["signs"]``, orchestrator/dialogue/turn.py ``SignVerdict``)."""
    out: list[tuple[str, str, str | None]] = []
    for v in turn_facts.get("signs") or []:
        if isinstance(v, dict) and v.get("sign") in _VERDICT_TERMS and v.get("status") in ("yes", "no", "uncertain",
                                                                                          "not_read"):
            side = v.get("side") if v.get("side") in ("right", "left") else None
            out.append((str(v["sign"]), str(v["status"]), side))
    return tuple(out)


def _anchor_side(anchor: dict[str, Any], finding: dict[str, Any] | None) -> set[str]:
    if finding is not None and finding.get("side") in ("right", "left"):
        return {str(finding["side"])}
    if anchor.get("side") in ("right", "left"):
        return {str(anchor["side"])}
    return _sides_in_text(str(anchor.get("label", "")) + " " + str(anchor.get("name", "")))


def _read_facts(turn_facts: dict[str, Any], composer_text: str, question: str) -> _Facts:
    numbers: list[float] = []
    sides: set[str] = set()
    lobes: set[str] = set()
    for key, leaf in _walk(turn_facts):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, int | float):
            numbers.append(float(leaf))
        elif isinstance(leaf, str):
            numbers.extend(_numbers_in_text(leaf))
            sides |= _sides_in_text(leaf) if key != "side" else {leaf}
            lobes |= set(_lobes_in_text(leaf)) | ({leaf} if key == "lobe" else set())
    numbers += _numbers_in_text(composer_text) + _numbers_in_text(question)
    sides |= _sides_in_text(composer_text)
    lobes |= set(_lobes_in_text(composer_text))
    findings_by_anchor = {str(f.get("anchor_id")): f for f in turn_facts.get("findings") or [] if f.get("anchor_id")}
    anchors: set[str] = set(str(a) for a in turn_facts.get("referenced_anchor_ids") or [])
    anatomy_sides: set[str] = set()
    for anchor in turn_facts.get("anchors") or []:
        anchor_id = str(anchor.get("id", ""))
        anchors.add(anchor_id)
        finding = findings_by_anchor.get(anchor_id)
        if finding is None:
            anatomy_sides |= _anchor_side(anchor, None)
    anchors |= set(_ANCHOR.findall(composer_text))
    return _Facts(
        numbers=tuple(numbers),
        sides=frozenset(sides & {"right", "left"}),
        lobes=frozenset(lobes & VALID_LOBES),
        anchors=frozenset(anchors),
        anchor_findings=findings_by_anchor,
        anatomy_sides=frozenset(anatomy_sides),
        signs=_signs(turn_facts),
        verdicts=_verdicts(turn_facts),
    )


# --- checking the narration ----------------------------------------------------------------


def _decimals(token: str) -> int:
    return len(token.split(".", 1)[1]) if "." in token else 0


def _number_ok(token: str, unit: str, allowed: tuple[float, ...]) -> bool:
    value = float(token)
    half_step = 0.5 * 10 ** -_decimals(token) + 1e-9
    unit = unit.lower()
    scales = [1.0]
    if unit in ("cm", "厘米", "公分"):
        scales.append(10.0)  # facts are in mm
    elif unit in ("mm", "毫米"):
        scales.append(0.1)  # the composer may have said cm
    elif unit == "%":
        scales.append(0.01)
    return any(abs(value * s - v) <= half_step * s for s in scales for v in allowed)


def _check_numbers(text: str, facts: _Facts) -> list[str]:
    text = _LIST_MARKER.sub("", text)
    return [
        f"number: {m.group(0).strip()} is not in the facts"
        for m in _NUMBER.finditer(text)
        if not _number_ok(m.group(1), m.group(2) or "", facts.numbers)
    ]


def _check_terms(text: str, facts: _Facts) -> list[str]:
    problems = [f"side: '{s}' is not in the facts" for s in sorted(_sides_in_text(text) - facts.sides)]
    for lobe in _lobes_in_text(text):
        if lobe not in VALID_LOBES:
            problems.append(f"lobe: {lobe} is not a lobe")
        elif lobe not in facts.lobes:
            problems.append(f"lobe: {lobe} is not in the facts")
    problems += [f"anchor: {a} is not an anchor of this session" for a in _ANCHOR.findall(text) if a not in facts.anchors]
    return problems


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [c.strip() for c in pattern.split(text) if c.strip()]


def _check_anchored_clause(clause: str, facts: _Facts) -> list[str]:
    named = set(_ANCHOR.findall(clause))
    if len(named) != 1:
        return []
    finding = facts.anchor_findings.get(next(iter(named)))
    if finding is None:
        return []
    problems = [
        f"lobe: {lobe} given for {finding.get('anchor_id')}, the facts say {finding.get('lobe')}"
        for lobe in _lobes_in_text(clause)
        if finding.get("lobe") and lobe != finding.get("lobe")
    ]
    allowed_sides = {str(finding.get("side"))} | facts.anatomy_sides
    problems += [
        f"side: {side} given for {finding.get('anchor_id')}, the facts say {finding.get('side')}"
        for side in sorted(_sides_in_text(clause) - allowed_sides)
    ]
    return problems


def _has_cue(clause: str, cues: tuple[str, ...]) -> bool:
    return any(re.search(cue, clause) if cue.startswith(r"\b") else cue in clause for cue in cues)


def stated_status(clause: str) -> str | None:
    """What a clause says about the sign it names: uncertain, no, yes, or nothing said."""
    lowered = clause.lower()
    if _has_cue(lowered, _UNCERTAIN_CUES):
        return "uncertain"
    if _has_cue(lowered, _NEGATIVE_CUES):
        return "no"
    if _has_cue(lowered, _POSITIVE_CUES):
        return "yes"
    return None


def _names_sign(lowered: str, terms: tuple[str, ...]) -> bool:
    """English terms match at a word start ('round' is not in 'around'); Chinese ones anywhere."""
    return any(
        re.search(r"\b" + re.escape(t), lowered) if t.isascii() else t in lowered for t in terms
    )


def _check_signs(clause: str, facts: _Facts) -> list[str]:
    lowered = clause.lower()
    problems: list[str] = []
    for terms, status in facts.signs:
        if not _names_sign(lowered, terms):
            continue
        stated = stated_status(clause) or "yes"  # naming a sign without a qualifier asserts it
        if stated != status:
            problems.append(f"sign: '{clause}' says {stated}, the facts say {status}")
    return problems


def _found(lowered: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(p, lowered) for p in patterns)


def stated_verdict(clause: str) -> str:
    """What a clause that names a sign says of it: not_read, uncertain, no, or yes (naming a sign
    without a qualifier asserts it)."""
    lowered = clause.lower()
    if _found(lowered, _NOT_READ_CUES):
        return "not_read"
    if _has_cue(lowered, _VERDICT_UNCERTAIN_CUES):
        return "uncertain"
    if _has_cue(lowered, _VERDICT_NEGATIVE_CUES):
        return "no"
    return "yes"


# what each verdict lets a narration say: a sign Hilum does not read may also be called undecided,
# never present or absent
_COMPATIBLE = {"yes": ("yes",), "no": ("no",), "uncertain": ("uncertain",), "not_read": ("not_read", "uncertain")}


def _check_verdicts(clause: str, facts: _Facts) -> list[str]:
    lowered = clause.lower()
    problems: list[str] = []
    for sign, status, side in facts.verdicts:
        if not _found(lowered, _VERDICT_TERMS[sign]):
            continue
        named_sides = {s for s, words in _SIDE_WORDS.items() if _found(lowered, words)}
        if side is not None and named_sides and side not in named_sides:
            continue  # about the other side, which this verdict does not cover
        stated = stated_verdict(clause)
        if stated not in _COMPATIBLE[status]:
            problems.append(f"sign: '{clause}' says {stated} of {sign}, the turn's verdict is {status}")
    return problems


def check_narration(text: str, turn_facts: dict[str, Any], composer_text: str, question: str = "") -> GuardVerdict:
    """Does ``text`` retell the facts without contradicting any of them?"""
    if not text.strip():
        return GuardVerdict(ok=False, violations=("empty: the narration is empty",))
    facts = _read_facts(turn_facts, composer_text, question)
    problems = _check_numbers(text, facts) + _check_terms(text, facts)
    for sentence in _split(text, _SENTENCE_SPLIT):
        problems += _check_anchored_clause(sentence, facts)
    for clause in _split(text, _CLAUSE_SPLIT):
        problems += _check_signs(clause, facts)
    if facts.verdicts:  # "Pneumothorax: no." is one statement: split at sentences and commas, not colons
        for clause in _split(text, _VERDICT_SPLIT):
            problems += _check_verdicts(clause, facts)
    return GuardVerdict(ok=not problems, violations=tuple(problems))
