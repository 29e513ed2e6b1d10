"""The short follow-ups that ask of the last answer (the engine asks the last answer's question again, with
``Query.how_much`` or ``Query.why_asked`` set: ``engine._of_the_last_answer``):

- "by how much?" / "大多少" / "差多少" after a comparison, a distance or a size against a threshold: the difference alone,
  in mm (the two values it is taken from in brackets), and the estimated-spacing note where the spacing was estimated;
  the whole answer again had been its answer (``amount_only``);
- "why?" / "为什么": what the last answer's claim rested on (the measurements a comparison or a size was made from, where
  a distance was measured from and to, which maps place a finding), after why it was hedged where it was; every
  probability of the finding had followed it (``compose_why``). Probabilities stay with "how sure are you?".
"""

from __future__ import annotations

import dataclasses
from typing import Any

from orchestrator.dialogue import checklists as cl
from orchestrator.dialogue import composer as comp
from orchestrator.dialogue.anchors import Anchor
from orchestrator.dialogue.interval_answer import INTENT as INTERVAL_INTENT
from orchestrator.dialogue.margins import nodule_margin, stated_notches, stated_spicules
from orchestrator.dialogue.words import and_list, cm, mm, phrases, r1, word
from orchestrator.facts import Finding
from orchestrator.findings.interval import CHANGE_MM, CHANGE_SHARE

Pairs = list[tuple[Anchor, Finding]]

# the answers "by how much?" gives the difference of (a size alone only against a threshold)
AMOUNT_INTENTS = frozenset({"compare", "measure_relation", "size"})


def _join(ctx: comp.Context, lines: list[str]) -> str:
    return ("" if ctx.zh else " ").join(lines)


def _spacing_words(ctx: comp.Context) -> tuple[str, str]:
    """The spacing the film's millimetres are from, (zh, en)."""
    if ctx.facts.spacing.source == "dicom":
        return "DICOM像素间距", "the DICOM pixel spacing"
    return "估计的像素间距", "an estimated pixel spacing"


# --- "by how much?" ------------------------------------------------------------------------------------------------


def _size_difference(ctx: comp.Context, ref: tuple[Anchor, Finding], other: tuple[Anchor, Finding]) -> str:
    (a, fa), (b, fb) = ref, other
    da, db = r1(fa.diameter_mm), r1(fb.diameter_mm)
    diff = r1(abs(da - db))
    if abs(da - db) <= comp.SIZE_SAME * max(da, db):
        return ctx.t(f"{a.id}与{b.id}的等效直径相差约{mm(diff)} mm({mm(da)} mm对{mm(db)} mm),在测量能分辨的范围之内。",
                     f"{a.id} and {b.id} differ by about {mm(diff)} mm in equivalent diameter ({mm(da)} mm against "
                     f"{mm(db)} mm), within what the measurement tells apart.")
    larger = da > db
    return ctx.t(f"{a.id}的等效直径比{b.id}{'大' if larger else '小'}约{mm(diff)} mm({mm(da)} mm对{mm(db)} mm)。",
                 f"{a.id} is about {mm(diff)} mm {'larger' if larger else 'smaller'} than {b.id} in equivalent diameter "
                 f"({mm(da)} mm against {mm(db)} mm).")


# what a comparison set the findings against each other by, other than their sizes: a landmark's distance, (the
# finding's value, the place's words (zh, en), what is measured (zh, en))
_DISTANCES: dict[str, tuple[Any, tuple[str, str], tuple[str, str]]] = {
    "pleura": (lambda f: f.distance_to_pleura_mm, ("胸膜", "the pleura"), ("边缘", "edge")),
    "diaphragm": (lambda f: f.distance_to_diaphragm_mm, ("膈面", "the diaphragm"), ("边缘", "edge")),
    "hilum": (lambda f: f.hilum.center_distance_mm, ("肺门", "its hilum"), ("中心", "centre")),
}


def _compared_by(ctx: comp.Context, pairs: Pairs) -> str | None:
    """What the last comparison set the findings against each other by: a landmark of ``_DISTANCES``, "height" ("which
    is lower?"), "size", or None where it ranked nothing by a measurement (the lungs graded, density, too few)."""
    q = ctx.query
    lesions = [(a, f) for a, f in pairs if f.kind != "effusion"]  # fluid is not ranked by size with lesions
    if q.sides_graded or q.sides_compared or q.attribute in ("density", "lucency") or len(pairs) < 2:
        return None
    if q.landmark in _DISTANCES and (q.landmark != "hilum" or all(f.hilum is not None for _, f in pairs)):
        return str(q.landmark)
    if q.relative in ("above", "below"):
        return "height"
    return "size" if len(lesions) >= 2 else None


def _nearer_by(ctx: comp.Context, pairs: Pairs, landmark: str) -> list[str]:
    """The nearest finding to the landmark against each other one (about as near: said so)."""
    value, (zh_name, en_name), _ = _DISTANCES[landmark]
    ranked = sorted(pairs, key=lambda p: float(value(p[1])))
    (a, fa), rest = ranked[0], ranked[1:]
    near = r1(float(value(fa)))
    lines = []
    for b, fb in rest:
        far = r1(float(value(fb)))
        if far - near <= comp.SIZE_SAME * far:
            each = "their hila" if landmark == "hilum" else en_name
            lines.append(ctx.t(f"{a.id}与{b.id}离{zh_name}差不多远({mm(near)} mm对{mm(far)} mm)。",
                               f"{a.id} and {b.id} lie about as far from {each} ({mm(near)} mm against {mm(far)} mm)."))
            continue
        lines.append(ctx.t(f"{a.id}比{b.id}离{zh_name}近约{mm(r1(far - near))} mm({mm(near)} mm对{mm(far)} mm)。",
                           f"{a.id} is about {mm(r1(far - near))} mm nearer {en_name} than {b.id} ({mm(near)} mm "
                           f"against {mm(far)} mm)."))
    return lines


def _by_height(ctx: comp.Context, pairs: Pairs) -> list[str]:
    """"Which is lower?": the lowest (highest) finding's centre against each other one's."""
    lower = ctx.query.relative == "below"
    ranked = sorted(pairs, key=lambda p: p[1].center_px[1], reverse=lower)
    (a, fa), rest = ranked[0], ranked[1:]
    lines = []
    for b, fb in rest:
        gap = r1(abs(fb.center_px[1] - fa.center_px[1]) * ctx.facts.spacing.row_mm)
        lines.append(ctx.t(f"{a.id}的中心比{b.id}{'低' if lower else '高'}约{mm(gap)} mm。",
                           f"{a.id}'s centre lies about {mm(gap)} mm {'lower' if lower else 'higher'} than {b.id}'s."))
    return lines


def _compare_amount(ctx: comp.Context) -> list[str]:
    """The difference a comparison gave: the distances to the landmark asked about, the heights, or the sizes (of the
    one asked about against each other one; else of the largest, or the smallest asked for, against each)."""
    q = ctx.query
    pairs = comp.subject_findings(ctx)
    by = _compared_by(ctx, pairs)
    if by in _DISTANCES:
        return _nearer_by(ctx, pairs, str(by))
    if by == "height":
        return _by_height(ctx, pairs)
    if by != "size":
        return []
    lesions = [(a, f) for a, f in pairs if f.kind != "effusion"]
    if q.size_asked or q.it_and_other:  # "is A1 bigger than A2?": of the one asked about
        ref = lesions[0]
    else:  # "which one is bigger?": of the one the answer named
        small = "small" in q.descriptors and "large" not in q.descriptors
        ref = (min if small else max)(lesions, key=lambda p: p[1].diameter_mm)
    return [_size_difference(ctx, ref, other) for other in lesions if other is not ref]


def _distance_to(ctx: comp.Context, m: dict[str, Any]) -> tuple[str, str, bool]:
    """What a distance measurement spans, (zh, en, whether it is between two findings' centres): "A1中心至右肺门(A3)" /
    "from A1's centre to the right hilum (A3)"."""
    start, end = str(m.get("from")), str(m.get("to"))
    if end in comp.LANDMARK_NAMES:  # an edge to a boundary or a structure's outline
        zh, en = comp.LANDMARK_NAMES[end]
        return f"{start}边缘至{zh}", f"from {start}'s edge to the {en}", False
    target = ctx.registry.get(end)
    if target is not None and target.kind == "finding":
        return f"{start}与{end}中心", f"between the centres of {start} and {end}", True
    label_zh = f"{target.label_zh}({end})" if target is not None else end
    label_en = f"the {target.label_en} ({end})" if target is not None else end
    return f"{start}中心至{label_zh}", f"from {start}'s centre to {label_en}", False


def _distance_amount(ctx: comp.Context, base: comp.Composition) -> list[str]:
    """Each distance the last answer measured; against the threshold it was asked against, by how much it is more or
    less (within measurement error of it: said so)."""
    q = ctx.query
    lines = []
    for m in base.measurements:
        if m.get("kind") != "distance" or not isinstance(m.get("mm"), (int, float)):
            continue
        value = r1(float(m["mm"]))
        zh, en, between = _distance_to(ctx, m)
        if q.distance_op in ("gt", "lt") and q.distance_mm:
            limit = q.distance_mm
            diff = r1(abs(value - limit))
            more = value > limit
            line_zh = f"比{mm(limit)} mm{'多' if more else '少'}约{mm(diff)} mm:{zh}{mm(value)} mm"
            line_en = (f"About {mm(diff)} mm {'more' if more else 'less'} than {mm(limit)} mm: {mm(value)} mm {en}")
            if comp.within_error(value, limit):
                line_zh += ",在测量误差之内"
                line_en += ", within measurement error"
            lines.append(ctx.t(line_zh + "。", line_en + "."))
        elif between:
            lines.append(ctx.t(f"{zh}相距约{mm(value)} mm({cm(value)} cm)。", f"About {mm(value)} mm ({cm(value)} cm) {en}."))
        else:
            lines.append(ctx.t(f"{zh}约{mm(value)} mm({cm(value)} cm)。", f"About {mm(value)} mm ({cm(value)} cm) {en}."))
    return lines


def _size_amount(ctx: comp.Context) -> list[str]:
    """A size against a threshold ("is it bigger than 1 cm?"): by how much its longest diameter is more or less."""
    q = ctx.query
    if q.size_op not in ("gt", "lt") or not q.size_mm:
        return []
    lines = []
    for a, f in comp.subject_findings(ctx):
        longest, limit = r1(f.longest_mm), q.size_mm
        diff = r1(abs(longest - limit))
        more = longest > limit
        line_zh = f"比{mm(limit)} mm{'大' if more else '小'}约{mm(diff)} mm:{a.id}最长径{mm(longest)} mm"
        line_en = f"About {mm(diff)} mm {'more' if more else 'less'} than {mm(limit)} mm: {a.id}'s longest diameter is " \
                  f"{mm(longest)} mm"
        if comp.within_error(longest, limit):
            line_zh += ",在测量误差之内"
            line_en += ", within measurement error"
        lines.append(ctx.t(line_zh + "。", line_en + "."))
    return lines


def amount_only(ctx: comp.Context, base: comp.Composition) -> comp.Composition:
    """"By how much?": the difference the last answer (``base``, its question answered again) gave, alone, with the
    estimated-spacing note where it applies; ``base`` itself where it gave none to take (a size with no threshold, a
    change between films, which says its change in mm and %, a question asked back)."""
    if base.clarification is not None or ctx.query.intent not in AMOUNT_INTENTS:
        return base
    if ctx.query.intent == "compare":
        lines = _compare_amount(ctx)
    elif ctx.query.intent == "measure_relation":
        lines = _distance_amount(ctx, base)
    else:
        lines = _size_amount(ctx)
    if not lines:
        return base
    sections = [comp.section("amount", ctx.t("相差多少", "By how much"), _join(ctx, lines))]
    note = comp.spacing_note(ctx)
    if note is not None:
        sections.append(note)
    return dataclasses.replace(base, sections=tuple(sections))


# --- "why?" ----------------------------------------------------------------------------------------------------------

# the statements "why?" explains the hedges of, in the order an answer makes them
WHY_STATEMENTS = ("presence", "lobe", "size", "distance", "margin", "density", "growth")


def _size_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    sp_zh, sp_en = _spacing_words(ctx)
    q = ctx.query
    lines = []
    for a, f in pairs:
        d, longest, shortest = r1(f.diameter_mm), r1(f.longest_mm), r1(f.shortest_mm)
        zh = (f"{a.id}的大小按其在本片上的轮廓测量(等效直径{mm(d)} mm,最长径{mm(longest)} mm,最短径{mm(shortest)} mm),"
              f"用{sp_zh}换算。")
        en = (f"{a.id}'s size is measured on its outline on this film (equivalent diameter {mm(d)} mm, longest "
              f"{mm(longest)} mm, shortest {mm(shortest)} mm), with {sp_en}.")
        if q.size_op in ("gt", "lt", "between") and q.size_mm:
            zh += f"是否符合所问的{mm(q.size_mm)} mm按最长径{mm(longest)} mm判断。"
            en += f" Against the {mm(q.size_mm)} mm asked, its longest diameter, {mm(longest)} mm, is what counts."
        lines.append(ctx.t(zh, en))
    return lines


def _compare_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    by = _compared_by(ctx, pairs)
    sp_zh, sp_en = _spacing_words(ctx)
    pct = round(comp.SIZE_SAME * 100)
    if by in _DISTANCES:
        value, (zh_name, en_name), (zh_from, en_from) = _DISTANCES[str(by)]
        ranked = sorted(pairs, key=lambda p: float(value(p[1])))
        each_zh = "、".join(f"{a.id} {mm(r1(float(value(f))))} mm" for a, f in ranked)
        each_en = ", ".join(f"{a.id} {mm(r1(float(value(f))))} mm" for a, f in ranked)
        most = len(ranked) > 2
        return [ctx.t(f"{ranked[0][0].id}离{zh_name}{'最' if most else '较'}近:按各病灶{zh_from}至{zh_name}的距离({each_zh}),"
                      f"在本片上用{sp_zh}测量;{_PLANE[0]}。",
                      f"{ranked[0][0].id} is the {'nearest' if most else 'nearer'} {en_name}: by each one's {en_from} "
                      f"to it ({each_en}), measured on this film with {sp_en}; {_PLANE[1]}.")]
    if by == "height":
        ranked = sorted(pairs, key=lambda p: p[1].center_px[1])
        lower, most = ctx.query.relative == "below", len(ranked) > 2
        first = ranked[-1 if lower else 0][0].id
        rank_zh = ("最" if most else "较") + ("低" if lower else "高")
        rank_en = {(True, True): "lowest", (True, False): "lower", (False, True): "highest", (False, False): "higher"}[
            (lower, most)]
        return [ctx.t(f"{first}位置{rank_zh}:按各病灶中心在片上的高低(自上而下:{'、'.join(a.id for a, _ in ranked)}),"
                      "不是按所在肺叶。",
                      f"{first} is the {rank_en}: by the heights of their centres on the film (top to bottom: "
                      f"{', '.join(a.id for a, _ in ranked)}), not by their lobes.")]
    if by != "size":
        return []
    lesions = [(a, f) for a, f in pairs if f.kind != "effusion"]
    if len(lesions) > 2:
        each_zh = "、".join(f"{a.id} {mm(r1(f.diameter_mm))} mm" for a, f in lesions)
        each_en = ", ".join(f"{a.id} {mm(r1(f.diameter_mm))} mm" for a, f in lesions)
        return [ctx.t(f"比较依据各自的等效直径({each_zh}),均在本片上按其轮廓、用{sp_zh}测量;相差{pct}%以内不作区分。",
                      f"The comparison rests on their equivalent diameters ({each_en}), each measured on its outline on "
                      f"this film with {sp_en}; differences within {pct}% are not told apart.")]
    (a, fa), (b, fb) = lesions
    if abs(fa.diameter_mm - fb.diameter_mm) <= comp.SIZE_SAME * max(fa.diameter_mm, fb.diameter_mm):
        da, db = r1(fa.diameter_mm), r1(fb.diameter_mm)
        return [ctx.t(f"{a.id}与{b.id}大小相近:等效直径{mm(da)} mm与{mm(db)} mm相差不超过测量能分辨的{pct}%;两者都在本片上按其轮廓、"
                      f"用{sp_zh}测量。",
                      f"{a.id} and {b.id} are about the same size: their equivalent diameters, {mm(da)} mm and {mm(db)} "
                      f"mm, differ by no more than the {pct}% the measurement tells apart; each is measured on its "
                      f"outline on this film, with {sp_en}.")]
    (big, fbig), (small, fsmall) = sorted(lesions, key=lambda p: -p[1].diameter_mm)
    db, ds = r1(fbig.diameter_mm), r1(fsmall.diameter_mm)
    return [ctx.t(f"{big.id}较大:其等效直径{mm(db)} mm大于{small.id}的{mm(ds)} mm,差别超过测量能分辨的{pct}%;两者都在本片上"
                  f"按其轮廓、用{sp_zh}测量。",
                  f"{big.id} is the larger: its equivalent diameter, {mm(db)} mm, is more than {small.id}'s, {mm(ds)} mm, "
                  f"by more than the {pct}% the measurement tells apart; each is measured on its outline on this film, "
                  f"with {sp_en}.")]


_PLANE = ("正位片只在片子平面内测量,不含前后深度", "a frontal film measures in its own plane, not in depth")


def _distance_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    sp_zh, sp_en = _spacing_words(ctx)
    anatomy = ctx.query.anatomy
    if len(pairs) >= 2 and not anatomy:
        (a, _), (b, _) = pairs[0], pairs[1]
        return [ctx.t(f"{a.id}与{b.id}的距离在本片上按二者中心(边缘间隙按二者轮廓)测量,用{sp_zh}换算;{_PLANE[0]}。",
                      f"The distance between {a.id} and {b.id} is measured on this film between their centres (the "
                      f"edges' gap between their outlines), with {sp_en}; {_PLANE[1]}.")]
    edges = [n.removesuffix("_right").removesuffix("_left") for n in anatomy]
    edges = [n for n in edges if n in comp.LANDMARK_NAMES]
    if edges:
        zh_name, en_name = comp.LANDMARK_NAMES[edges[0]]
        where_zh, where_en = f"从其边缘量到解剖图所画的{zh_name}", f"from its edge to the {en_name} as the anatomy maps draw it"
    elif any(not n.startswith("hilum") for n in anatomy):
        where_zh, where_en = "从其中心量到解剖图所定的该结构位置", "from its centre to where the anatomy maps place that structure"
    else:
        where_zh, where_en = "从其中心量到解剖图所定的肺门位置", "from its centre to where the anatomy maps place the hilum"
    return [ctx.t(f"{a.id}的距离在本片上{where_zh},用{sp_zh}换算;{_PLANE[0]}。",
                  f"{a.id}'s distance is measured on this film {where_en}, with {sp_en}; {_PLANE[1]}.")
            for a, _ in pairs]


def _place_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    lines = []
    for a, f in pairs:
        if f.kind == "effusion":  # fluid lies in its pleural space, placed by its side and height
            continue
        lobe, zone, band = (word("lobe", f.lobe, ctx.lang), word("zone", f.zone, ctx.lang), word("band", f.band, ctx.lang))
        lines.append(ctx.t(f"{a.id}的位置按其中心落在Hilum为本片所画的肺野和肺叶图上的位置确定:{lobe}区域、{zone}、{band}。",
                           f"{a.id} is placed by where its centre lies on the maps Hilum draws of this film's lungs and "
                           f"lobes: the {lobe} territory, the {zone}, the {band}."))
    return lines


def _margin_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    lines = []
    for a, f in pairs:
        if not nodule_margin(f):
            continue
        spicules, notches = len(stated_spicules(f)), len(stated_notches(f))
        if spicules or notches:
            found_zh = "、".join(x for x in (f"{spicules}条毛刺" if spicules else "", f"{notches}处切迹" if notches else "") if x)
            found_en = and_list([x for x in (f"{spicules} spicule{'s' if spicules != 1 else ''}" if spicules else "",
                                             f"{notches} notch{'es' if notches != 1 else ''}" if notches else "") if x])
            zh, en = f"沿轮廓找到{found_zh}", f"{found_en} found along it"
        else:
            zh, en = "沿轮廓未找到毛刺或切迹", "no spicule or notch found along it"
        lines.append(ctx.t(f"{a.id}的边缘沿其在本片上的轮廓判读({zh});密度按轮廓内的像素判读。",
                           f"{a.id}'s margin is read along its outline on this film ({en}); its density from the pixels "
                           "inside it."))
    return lines


def _density_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    return [ctx.t(f"{a.id}的密度(是否均匀、有无钙化或空洞)按其在本片上轮廓内的像素判读。",
                  f"{a.id}'s density (its evenness, calcification, a cavity) is read from the pixels inside its outline "
                  "on this film.") for a, f in pairs if f.kind != "effusion"]


def _growth_basis(ctx: comp.Context, pairs: Pairs) -> list[str]:
    if ctx.interval is None or not ctx.interval.comparable:
        return []
    ids = {f.id: a for a, f in pairs}
    pct = round(CHANGE_SHARE * 100)
    lines = []
    for c in ctx.interval.changes:
        a = ids.get(c.finding_id or "")
        if a is None or c.now_mm is None or c.then_mm is None:
            continue
        if c.earlier_uncertain:
            lines.append(ctx.t(f"{a.id}:以前的片子上该处仅可能为病灶,因此没有由它测量变化。",
                               f"{a.id}: the earlier film only possibly shows a lesion there, so no change is measured "
                               "from it."))
            continue
        lines.append(ctx.t(f"{a.id}:两张片子各自测量,现约{mm(c.now_mm)} mm,以前约{mm(c.then_mm)} mm;相差小于{CHANGE_MM:g} mm或"
                           f"{pct}%不称为变化。",
                           f"{a.id}: each film's own measurement, {mm(c.now_mm)} mm now and {mm(c.then_mm)} mm before; a "
                           f"difference under {CHANGE_MM:g} mm or {pct}% is not called a change."))
    return lines


_NOT_SAID_OF_FLUID = frozenset({"margin", "density", "calcification", "cavity", "lobe"})
_OF_DENSITY = ("density", "calcification", "cavity")


def _hedged_probabilities(ctx: comp.Context, pairs: Pairs, why_of: tuple[str, ...]) -> list[str]:
    """"Why is A2 only 'possibly'?": the probability of each statement asked about that the answers hedge (not of those
    they state flatly: "how sure are you?" gives every one)."""
    lines = []
    for a, f in pairs:
        probs = {k: p for k, p in {"presence": f.confidence, **f.attribute_confidence}.items()
                 if not (f.kind == "effusion" and k in _NOT_SAID_OF_FLUID)}
        keys = [k for k in word_keys() if k in probs and (k in why_of or (k in _OF_DENSITY and "density" in why_of))
                and not comp.stated_flatly(f, k)]
        if keys:
            lines.append(ctx.t(
                f"{a.id}({a.label_zh}):" + ";".join(f"{word('statement', k, 'zh')}约{float(probs[k]):.2f}(措辞保留)"
                                                    for k in keys) + "。",
                f"{a.id} ({a.label_en}): " + "; ".join(f"{word('statement', k, 'en')}, about {float(probs[k]):.2f} "
                                                      "(hedged)" for k in keys) + "."))
    return lines


def word_keys() -> tuple[str, ...]:
    """The statements the answers make of a finding, in the order they give them (``phrases.json`` "statement")."""
    return tuple(phrases()["statement"])


_BASIS = {"size": _size_basis, "compare": _compare_basis, "measure_relation": _distance_basis, "locate": _place_basis,
          "describe_margin": _margin_basis, "density": _density_basis, INTERVAL_INTENT: _growth_basis}
# the intents whose claim "why?" says the basis of (``Query.why_after``)
CLAIM_INTENTS = frozenset(_BASIS)


def compose_why(ctx: comp.Context) -> comp.Composition:
    """"Why?" / "why can't you tell?" / "为什么": for each finding the last answer was about, why the statements it made
    (``Query.why_of``; none named: every statement) were hedged, where they were (the lesion map's resolution, a frontal
    film's projection, one film for a change, no DICOM spacing, a probability under the threshold, a film read by the
    second reader alone); then what its claim rested on (``Query.why_after``: the answer's intent). No list of
    probabilities: "how sure are you?" gives those."""
    why_of = tuple(w for w in WHY_STATEMENTS if w in ctx.query.why_of) or WHY_STATEMENTS
    pairs = comp.subject_findings(ctx)
    if not pairs and ctx.query.why_after == INTERVAL_INTENT:  # a change asked of the film: every finding compared
        pairs = [(a, f) for a in ctx.registry.findings() if (f := ctx.finding(a)) is not None]
    hedged = []
    each = [(a, list(dict.fromkeys(r for w in why_of for r in comp.hedge_reasons(ctx, f, w)))) for a, f in pairs]
    # a reason every finding shares (the film's estimated spacing) is said once, of them all (it had been said of each)
    shared = [r for r in each[0][1] if all(r in reasons for _, reasons in each[1:])] if len(each) > 1 else []
    if shared:
        ids = [a.id for a, _ in each]
        hedged.append(ctx.t("、".join(ids) + ":" + ";".join(zh for zh, _ in shared) + "。",
                            and_list(ids) + ": " + "; ".join(en for _, en in shared) + "."))
    for a, reasons in each:
        reasons = [r for r in reasons if r not in shared]
        if reasons:
            hedged.append(ctx.t(f"{a.id}:" + ";".join(zh for zh, _ in reasons) + "。",
                                f"{a.id}: " + "; ".join(en for _, en in reasons) + "."))
    if cl.read_alone(ctx.facts):
        hedged.append(ctx.t("此外,这张片子与训练所用的片子差异较大,由第二读片模型单独读取,它的每个判断都需要放射科医师核对。",
                            "And this film, unlike the films the models were trained on, was read by the second reader "
                            "alone: each reading it gives needs a radiologist's check."))
    basis = _BASIS[ctx.query.why_after](ctx, pairs) if ctx.query.why_after in _BASIS else []
    sections = []
    if hedged:
        sections.append(comp.section("why_hedged", ctx.t("为什么有保留", "Why it was hedged"), _join(ctx, hedged)))
    if basis:
        sections.append(comp.section("why_basis", ctx.t("依据", "What it rests on"), _join(ctx, basis)))
    probabilities = [] if ctx.query.why_after else _hedged_probabilities(ctx, pairs, why_of)
    if probabilities:  # "why is A2 only 'possibly'?": the probability behind the hedge asked about
        sections.append(comp.section("confidence", ctx.t("把握程度", "How sure"), _join(ctx, probabilities)))
    if not sections:  # nothing hedged, and no claim whose basis is said
        flat = [ctx.t(f"{a.id}:这些判断都在阈值以上,回答是直接陈述的,没有保留。",
                      f"{a.id}: nothing said of it there was hedged; each reading behind it is above the threshold at "
                      "which it is stated flatly.") for a, _ in pairs]
        sections.append(comp.section("why_hedged", ctx.t("为什么有保留", "Why it was hedged"), _join(ctx, flat) or ctx.t(
            "上一个回答没有关于病灶的判断可以解释。", "The last answer made no statement about a finding to explain.")))
    return comp.Composition(tuple(sections), findings=tuple(comp.finding_dict(f, a.id) for a, f in pairs),
                            referenced=tuple(a.id for a, _ in pairs))
