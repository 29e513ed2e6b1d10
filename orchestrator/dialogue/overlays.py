"""Vector overlay layers per turn, styled by role; every element carries its anchor id.

Roles (``style.role``): screening_highlight, focused_contour, spicule_stroke, notch_marker,
measurement_line (dashed centre → hilum, a distance to a boundary, a width of the cardiothoracic ratio, with a length
label), gap_line (solid), angle_ray (a costophrenic angle's arms, with its degrees), anatomy_marker,
checklist_card, lesion_heatmap, dense_object (a dense object set aside from the findings: dashed grey, no anchor).
Coordinates are working-image pixels ``[x, y]``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from orchestrator.dialogue.anchors import Anchor, Registry
from orchestrator.dialogue.margins import margin_code, stated_notches, stated_spicules
from orchestrator.dialogue.words import cm, mm, r1
from orchestrator.facts import Finding, ImageFacts
from orchestrator.findings.size import finding_size

STYLES = MappingProxyType({
    "screening_highlight": {"stroke": "#ffb000", "fill": "rgba(255,176,0,0.25)", "width": 1.5},
    "focused_contour": {"stroke": "#ff3b30", "fill": "none", "width": 2.0},
    "spicule_stroke": {"stroke": "#ff9500", "width": 1.5},
    "notch_marker": {"stroke": "#34c759", "fill": "#34c759", "radius": 3},
    "measurement_line": {"stroke": "#0a84ff", "width": 1.5, "dash": [6, 4]},
    "gap_line": {"stroke": "#bf5af2", "width": 2.0, "dash": []},
    "angle_ray": {"stroke": "#64d2ff", "width": 1.5, "dash": []},  # a costophrenic angle's two arms, from its vertex
    "anatomy_marker": {"stroke": "#64d2ff", "fill": "#64d2ff", "radius": 4},
    "label": {"color": "#ffffff", "font_px": 12},
    "checklist_card": {"background": "rgba(0,0,0,0.7)", "color": "#ffffff"},
    "lesion_heatmap": {"opacity": 0.35},
    "dense_object": {"stroke": "#aeaeb2", "fill": "none", "width": 1.5, "dash": [3, 3]},
    # where a finding lay on an earlier film, carried onto this one by its place in the lung field
    "earlier_position": {"stroke": "#ff9f0a", "fill": "none", "width": 1.5, "dash": [5, 3]},
})


def _pts(points: tuple[tuple[float, float], ...] | list[list[float]]) -> list[list[float]]:
    return [[r1(p[0]), r1(p[1])] for p in points]


def element(layer: str, kind: str, role: str, anchor_id: str | None, **geometry: Any) -> dict[str, Any]:
    return {"layer": layer, "type": kind, "anchor_id": anchor_id, "style": {"role": role, **STYLES[role]}, **geometry}


HEATMAP_RESOURCE = "heatmap.png"  # the session's own route: GET /v1/sessions/{id}/heatmap.png


def screening_layers(facts: ImageFacts, anchors: tuple[Anchor, ...], heatmap: bool = False) -> list[dict[str, Any]]:
    """The screening turn's picture; ``heatmap``: the session has a lesion heatmap, named as a
    ``resource`` of the session (fetched once, not carried inside every answer)."""
    out: list[dict[str, Any]] = []
    if heatmap:
        h, w = facts.image_size
        out.append(element("screening", "heatmap", "lesion_heatmap", None, resource=HEATMAP_RESOURCE,
                           bbox_px=[0, 0, w, h], measurements={}))
    for a in anchors:
        if a.kind == "finding":
            f = facts.finding(a.finding_id) if a.finding_id else None
            sizes = {"size_mm": list(finding_size(f).mm)} if f is not None else {}
            out.append(element("screening", "polygon", "screening_highlight", a.id, points=_pts(a.polygon_px),
                               measurements={"diameter_mm": r1(a.diameter_mm or 0.0), **sizes}))
            x0, y0 = a.bbox_px[0], a.bbox_px[1]
            out.append(element("labels", "text", "label", a.id, text=a.id, at=[r1(x0), r1(y0 - 4)], measurements={}))
        else:
            out.append(element("anatomy", "point", "anatomy_marker", a.id, at=_pts((a.center_px,))[0],
                               label=a.id, measurements={}))
    for o in facts.objects:  # set aside from the findings, drawn where they lie (the answer says why)
        x0, y0, x1, y1 = o.bbox_px
        out.append(element("screening", "polygon", "dense_object", None, points=_pts(((x0, y0), (x1, y0), (x1, y1),
                                                                                      (x0, y1))),
                           measurements={"diameter_mm": r1(o.diameter_mm)}))
    return out


def focus_layers(a: Anchor, f: Finding) -> list[dict[str, Any]]:
    """The finding's outline with the spicules and notches its margin answer names (``margins``: one notch marker per
    clock position; none on a consolidation, whose edge is ill-defined)."""
    out = [element("focus", "polygon", "focused_contour", a.id, points=_pts(f.polygon_px),
                   measurements={"diameter_mm": r1(f.diameter_mm), "size_mm": list(finding_size(f).mm),
                                 "margin": margin_code(f)})]
    for s in stated_spicules(f):
        out.append(element("spicules", "polyline", "spicule_stroke", a.id, points=_pts((s.base_px, s.tip_px)),
                           measurements={"length_mm": r1(s.length_mm), "clock": s.clock}))
    for n in stated_notches(f):
        out.append(element("notches", "point", "notch_marker", a.id, at=_pts((n.point_px,))[0], label=f"{n.clock}",
                           measurements={"clock": n.clock, "depth_mm": r1(n.depth_mm)}))
    return out


def measurement_layers(measurements: tuple[dict[str, Any], ...], lang: str) -> list[dict[str, Any]]:
    """The lines the answer's measurements are taken along: a distance (dashed, its length in cm), a gap to the hilum
    (solid), a width of the cardiothoracic ratio (dashed, ``line_px``), a costophrenic angle's two arms (``rays_px``
    from ``vertex_px``, its degrees); a measurement the facts carry no points for draws nothing."""
    out: list[dict[str, Any]] = []
    for m in measurements:
        if m.get("kind") == "width" and m.get("line_px"):
            label = f"{cm(m['mm'])} cm" + ("*" if m["spacing_source"] == "estimated" else "")
            out.append(element("measurements", "polyline", "measurement_line", None, points=m["line_px"], label=label,
                               measurements={"mm": m["mm"], "spacing_source": m["spacing_source"], "of": m["of"]}))
            continue
        if m.get("kind") == "angle" and m.get("rays_px") and m.get("vertex_px"):
            wall, floor = m["rays_px"]
            out.append(element("measurements", "polyline", "angle_ray", None, points=[wall, m["vertex_px"], floor],
                               label=f"{m['deg']}°", measurements={"deg": m["deg"], "of": m["of"]}))
            continue
        if "from_px" not in m:
            continue
        if m["kind"] == "distance":
            label = f"{cm(m['mm'])} cm" + ("*" if m["spacing_source"] == "estimated" else "")
            out.append(element("measurements", "polyline", "measurement_line", m.get("relation_anchor_id") or m["from"],
                               points=[m["from_px"], m["to_px"]], label=label,
                               measurements={"mm": m["mm"], "spacing_source": m["spacing_source"], "from": m["from"], "to": m["to"]}))
        elif m["kind"] == "gap":
            out.append(element("measurements", "polyline", "gap_line", m["from"], points=[m["from_px"], m["to_px"]],
                               label=f"{mm(m['mm'])} mm",
                               measurements={"mm": m["mm"], "spacing_source": m["spacing_source"], "from": m["from"], "to": m["to"]}))
    return out


def checklist_layer(card: dict[str, Any], at: list[float]) -> dict[str, Any]:
    rows = [[i["label"], i["status"], i["evidence"]] for i in card["items"]]
    return element("checklist", "table", "checklist_card", card.get("subject_anchor_id"), at=at, title=card["title"],
                   rows=rows, measurements={"matched": card["matched"], "total": card["total"]})


def turn_overlays(intent: str, facts: ImageFacts, registry: Registry, referenced: tuple[str, ...],
                  measurements: tuple[dict[str, Any], ...], checklist: dict[str, Any] | None, lang: str,
                  heatmap: bool = False) -> list[dict[str, Any]]:
    anchors = tuple(a for a in (registry.get(i) for i in referenced) if a is not None)
    if intent == "screen":
        return screening_layers(facts, anchors, heatmap)
    out: list[dict[str, Any]] = []
    for a in anchors:
        f = facts.finding(a.finding_id) if a.finding_id else None
        if f is not None:
            out.extend(focus_layers(a, f) if intent in ("describe_margin", "density", "size", "sign_checklist", "measure_relation")
                       else [element("focus", "polygon", "focused_contour", a.id, points=_pts(f.polygon_px),
                                     measurements={"diameter_mm": r1(f.diameter_mm),
                                                   "size_mm": list(finding_size(f).mm)})])
        elif a.kind in ("anatomy", "point"):
            out.append(element("anatomy", "point", "anatomy_marker", a.id, at=_pts((a.center_px,))[0], label=a.id,
                               measurements={}))
    out.extend(measurement_layers(measurements, lang))
    if checklist is not None:
        out.append(checklist_layer(checklist, [8.0, 8.0]))
    return out


def earlier_place_layers(measurements: tuple[dict[str, Any], ...], lang: str) -> list[dict[str, Any]]:
    """"Show me where it was on the earlier film": each compared finding's earlier position as the comparison carried it
    onto this film (``earlier_bbox_here_px``; none where it was not carried), labelled as the earlier film's."""
    out: list[dict[str, Any]] = []
    for m in measurements:
        box = m.get("earlier_bbox_here_px") if m.get("kind") == "interval_change" else None
        if not box or len(box) != 4:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        name = m.get("from") or ""
        label = (f"{name} 以前的片子" if lang == "zh" else f"{name} earlier film").strip()
        out.append(element("earlier", "polygon", "earlier_position", m.get("from"),
                           points=_pts(((x0, y0), (x1, y0), (x1, y1), (x0, y1))), label=label,
                           measurements={"earlier_mm": m.get("earlier_mm"), "status": m.get("status")}))
    return out
