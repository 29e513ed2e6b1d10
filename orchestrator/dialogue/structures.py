"""Questions of the chest's structures with no lesion in them (``Query.structure_asked``): "how wide is the chest?",
"how far is the right hilum from the diaphragm?", "how far is the trachea from the spine?", "where is the spine?".

Each had fallen through to "No lesion was found, so there is nothing to describe" (or, with a finding in focus, its
distance). What the facts allow is given: the chest's width (``AnatomyFacts.thorax_width_mm``, the width the
cardiothoracic ratio divides by; not on a spacing estimated from an adult's chest width, which would only give that
width back), a hilum's or an apex's height above its dome, where the trachea lies against the spine's centre line; what
is not measured is said plainly. The spine's outline is used only as the midline every position is given from: its
bones are not read.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from orchestrator.dialogue import checklists as cl
from orchestrator.dialogue import composer as comp
from orchestrator.dialogue.words import cm, mm, r1, word
from orchestrator.facts import ImageFacts
from orchestrator.findings.dome_floor import DOME_UNPLACED
from orchestrator.findings.film_edge import EDGE_WARNING
from orchestrator.findings.spacing import assumed_width_mm

# the structures a question names, (zh, en)
_NAMES = MappingProxyType({
    "hilum": ("肺门", "hilum"), "diaphragm": ("膈肌", "diaphragm"), "trachea": ("气管", "trachea"),
    "heart": ("心影", "heart"), "apex": ("肺尖", "lung apex"), "costophrenic_angle": ("肋膈角", "costophrenic angle"),
    "mediastinum": ("纵隔", "mediastinum"), "spine": ("脊柱", "spine"), "aorta": ("主动脉", "aorta"),
    "clavicle": ("锁骨", "clavicle"), "rib": ("肋骨", "ribs"), "sternum": ("胸骨", "sternum"),
    "oesophagus": ("食管", "oesophagus")})
# the spine's outline: the midline reference, its bones not read (zh, en)
SPINE_REFERENCE = ("本系统只把解剖图上的脊柱轮廓用作中线参照(各处位置均按“距脊柱中线”给出),不判读脊柱的骨骼(椎体及其排列、骨质),"
                   "因此既不能说正常,也不能说异常,需放射科医师阅片",
                   "Hilum uses the spine's outline on its anatomy maps only as the midline reference (every position is "
                   "given from the spine's centre line); it does not read the spine's bones (the vertebrae, their "
                   "alignment or density), so it can say neither that they look normal nor that they do not; a "
                   "radiologist's reading would")


def compose_structures(ctx: comp.Context) -> comp.Composition:
    asked = ctx.query.structure_asked
    if asked == "chest_width":
        return _chest_width(ctx)
    if asked == "spine":
        return _spine(ctx)
    return _apart(ctx)


def _kind(name: str) -> str:
    return name.removesuffix("_right").removesuffix("_left")


def _section(ctx: comp.Context, lines: list[str], title: tuple[str, str] = ("解剖结构", "Anatomy")) -> dict[str, Any]:
    return comp.section("anatomy", ctx.t(*title), ("" if ctx.zh else " ").join(x for x in lines if x))


_ALONE_WIDTH = comp._alone_estimate("胸廓宽度为其估计", "the width is its estimate")


def _with_notes(ctx: comp.Context, lines: list[str], measured: bool,
                measurements: tuple[dict[str, Any], ...] = (), referenced: tuple[str, ...] = (),
                alone: tuple[str, str] = comp._ALONE_POSITIONS) -> comp.Composition:
    """The answer, with whose estimate the positions are on a film read alone and the spacing note where a length was
    given on an estimated spacing."""
    if measured and cl.read_alone(ctx.facts):
        lines.append(ctx.t(*alone))
    sections = [_section(ctx, lines)]
    note = comp.spacing_note(ctx) if measured else None
    if note:
        sections.append(note)
    return comp.Composition(tuple(sections), measurements=measurements, referenced=referenced)


def _chest_width(ctx: comp.Context) -> comp.Composition:
    """"How wide is the chest?": the chest's width at the lung fields' widest (their outer edges), the width the
    cardiothoracic ratio divides by."""
    an, sp = ctx.facts.anatomy, ctx.facts.spacing
    width = an.thorax_width_mm
    assumed = assumed_width_mm(sp)
    if width is None:
        lines = [ctx.t("本片未测得胸廓宽度。", "The chest's width was not measured on this film.")]
        if EDGE_WARNING in ctx.facts.film_check.warnings:
            lines.append(ctx.t("胸廓的全宽可能不在片内。", "Its full width may not be on the film."))
        return _with_notes(ctx, lines, measured=False)
    if assumed is not None:  # the spacing was made from an adult's chest width: the width would only be that again
        lines = [ctx.t(f"本片没有DICOM像素间距,其毫米数值是按胸廓宽约{assumed / 10:.1f} cm(成人的宽度)估计换算的,因此不能用它测量胸廓宽度;"
                       "带DICOM像素间距的片子可以测量。心胸比不受像素间距影响。",
                       f"This film carries no DICOM pixel spacing: its millimetres were scaled by taking the chest as "
                       f"{assumed / 10:.1f} cm across (an adult's width), so the chest's width cannot be measured from it; "
                       "a film with DICOM pixel spacing would measure it. The cardiothoracic ratio does not depend on the "
                       "spacing.")]
        return _with_notes(ctx, lines, measured=False)
    src = comp._spacing_used(ctx)
    lines = [ctx.t(f"胸廓最宽处(两肺野外缘之间)约{cm(width)} cm({mm(r1(width))} mm,按{src}换算),即心胸比所除的宽度。",
                   f"The chest is about {cm(width)} cm ({mm(r1(width))} mm) across at its widest, between the lung "
                   f"fields' outer edges (the width the cardiothoracic ratio divides by), using {src}.")]
    rows: tuple[dict[str, Any], ...] = ()
    if an.thorax_span_px:
        (x0, y0), (x1, y1) = an.thorax_span_px
        rows = ({"kind": "width", "of": "chest", "mm": r1(width), "spacing_source": sp.source,
                 "line_px": [[r1(x0), r1(y0)], [r1(x1), r1(y1)]]},)
    return _with_notes(ctx, lines, measured=True, measurements=rows, alone=_ALONE_WIDTH)


def _spine(ctx: comp.Context) -> comp.Composition:
    """"Where is the spine?" / "脊柱在哪里?" / "is the spine straight?": its outline is the midline reference; its bones are
    not read (it had said only "Hilum does not read the bones", of the spine every position is given from)."""
    spine = ctx.facts.anatomy.region("spine")
    if spine is not None:
        lead = ctx.t("本片解剖图勾画出了脊柱的轮廓。", "This film's anatomy maps outline the spine.")
    else:
        mid = comp._midline_x(ctx)
        lead = ctx.t("本片解剖图未勾画出脊柱的轮廓" + (f",位置改按{mid[1][0]}给出。" if mid else "。"),
                     "This film's anatomy maps give no outline of the spine" + (f"; positions are given from {mid[1][1]} "
                                                                              "instead." if mid else "."))
    return comp.Composition((_section(ctx, [lead, ctx.t(f"{SPINE_REFERENCE[0]}。", f"{SPINE_REFERENCE[1]}.")]),
                             comp.disclaimer(ctx)))


def _apart(ctx: comp.Context) -> comp.Composition:
    """Two structures' distance: a hilum's or an apex's height above its dome of the diaphragm, the trachea against the
    spine's centre line; any other pair, that it is not measured, and what is."""
    kinds = list(dict.fromkeys(_kind(n) for n in ctx.query.anatomy))
    pair = set(kinds)
    if pair == {"hilum", "diaphragm"}:
        return _above_dome(ctx, "hilum")
    if pair == {"apex", "diaphragm"}:
        return _above_dome(ctx, "apex")
    if pair == {"trachea", "spine"}:
        return _trachea_to_spine(ctx)
    a, b = (kinds + ["", ""])[:2]
    name_a, name_b = _NAMES.get(a, (a, a)), _NAMES.get(b, (b, b))
    lines = [ctx.t(f"本系统不测量{name_a[0]}与{name_b[0]}之间的距离。结构之间它只测量两侧肺门的间距、肺门或肺尖高出同侧膈顶多少,以及气管相对脊柱中线的位置;"
                   "病灶到其中各结构的距离也可以问。",
                   f"Hilum does not measure the distance between the {name_a[1]} and the {name_b[1]}. Between structures "
                   "it measures the two hila apart, how far a hilum or a lung apex lies above its dome of the diaphragm, "
                   "and where the trachea lies against the spine's centre line; a finding's distance to each of them can "
                   "be asked too.")]
    return _with_notes(ctx, lines, measured=False)


def _sides(ctx: comp.Context) -> list[str]:
    named = [n.rpartition("_")[2] for n in ctx.query.anatomy if n.endswith(("_right", "_left"))]
    return list(dict.fromkeys(named)) or ([ctx.query.side] if ctx.query.side else ["right", "left"])


def _points(facts: ImageFacts, what: str) -> dict[str, tuple[float, float]]:
    return dict(facts.anatomy.hilum_px if what == "hilum" else facts.anatomy.apex_px)


def _above_dome(ctx: comp.Context, what: str) -> comp.Composition:
    """"How far is the right hilum from the diaphragm?": how far the hilum's point lies above its side's dome, in height
    (the hila withheld on this film: why; a dome not placed: said so)."""
    points, domes = _points(ctx.facts, what), ctx.facts.anatomy.diaphragm_dome_px
    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    src = comp._spacing_used(ctx)
    for side in _sides(ctx):
        point, dome = points.get(side), domes.get(side)
        name = (word("anatomy", f"{what}_{side}", "zh"), word("anatomy", f"{what}_{side}", "en"))
        if point is None:
            lines.append(comp._hila_unplaced(ctx) if what == "hilum" else ctx.t(f"本片未能确定{name[0]}的位置。",
                                                                               f"No {name[1]} was placed on this film."))
            if what == "hilum":
                break  # (the reason is the film's, said once)
            continue
        if dome is None:
            lines.append(ctx.t(f"本片未能确定{word('side', side, 'zh')}侧膈顶的位置。",
                               f"No {side} dome of the diaphragm was placed on this film."))
            if DOME_UNPLACED in ctx.facts.film_check.warnings:
                lines.append(ctx.t(*comp._DOME_OFF_FLOOR))
            continue
        rise = (dome[1] - point[1]) * ctx.facts.spacing.row_mm
        where = (f"高出{word('side', side, 'zh')}侧膈顶约{cm(rise)} cm", f"lies about {cm(rise)} cm above the {side} dome of "
                 "the diaphragm") if rise > 0 else (f"低于{word('side', side, 'zh')}侧膈顶约{cm(-rise)} cm",
                                                    f"lies about {cm(-rise)} cm below the {side} dome of the diaphragm")
        lines.append(ctx.t(f"{name[0]}{where[0]}(按高度,即上下方向测量,按{src}换算)。",
                           f"The {name[1]} {where[1]} (measured in height, using {src})."))
        ids = {a.name: a.id for a in ctx.anatomy}
        rows.append({"kind": "distance", "from": ids.get(f"{what}_{side}", f"{what}_{side}"),
                     "to": ids.get(f"diaphragm_{side}", f"diaphragm_{side}"), "mm": r1(abs(rise)),
                     "spacing_source": ctx.facts.spacing.source,
                     "from_px": [r1(point[0]), r1(point[1])], "to_px": [r1(point[0]), r1(dome[1])]})
    if rows:
        lines += comp._estimated_height(ctx)
    return _with_notes(ctx, lines, measured=bool(rows), measurements=tuple(rows),
                       referenced=tuple(a.id for a in ctx.anatomy))


def _trachea_to_spine(ctx: comp.Context) -> comp.Composition:
    """"How far is the trachea from the spine?": where the trachea's centre lies against the spine's centre line, across
    the film; that Hilum judges nothing of either."""
    trachea, spine = ctx.facts.anatomy.region("trachea"), ctx.facts.anatomy.region("spine")
    missing = [n for n, r in (("trachea", trachea), ("spine", spine)) if r is None]
    if missing:
        names = [_NAMES[n] for n in missing]
        lines = [ctx.t(f"本片解剖图未勾画出{'和'.join(zh for zh, _ in names)}的轮廓,无法测量两者的位置关系。",
                       f"This film's anatomy maps give no outline of the {' or the '.join(en for _, en in names)}, so "
                       "where one lies against the other cannot be measured.")]
        return _with_notes(ctx, lines, measured=False)
    assert trachea is not None and spine is not None
    off = (trachea.center_px[0] - spine.center_px[0]) * ctx.facts.spacing.col_mm  # > 0: the patient's left
    src = comp._spacing_used(ctx)
    if abs(off) < comp.MIDLINE_MM:
        where = (f"气管中心位于脊柱中线附近(横向相差约{mm(r1(abs(off)))} mm,按{src}换算)",
                 f"The trachea's centre lies at about the spine's centre line ({mm(r1(abs(off)))} mm from it across "
                 f"the film, using {src})")
    else:
        side = "left" if off > 0 else "right"
        where = (f"气管中心位于脊柱中线{word('side', side, 'zh')}侧约{cm(abs(off))} cm(按{src}换算)",
                 f"The trachea's centre lies about {cm(abs(off))} cm to the patient's {side} of the spine's centre line, "
                 f"using {src}")
    lines = [ctx.t(f"{where[0]}。", f"{where[1]}."),
             ctx.t(*comp.TRACHEA_NOT_JUDGED), ctx.t(f"{SPINE_REFERENCE[0]}。", f"{SPINE_REFERENCE[1]}.")]
    return _with_notes(ctx, lines, measured=True, referenced=tuple(a.id for a in ctx.anatomy))
