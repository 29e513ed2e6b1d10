"""The findings layer's one entry point: ``analyse(maps, spacing) -> ImageFacts``.

Findings are ordered by position: the patient's right lung first, then the left, each from
cranial to caudal; ids are F1, F2, ... in that order.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import (
    AnatomyFacts,
    AnatomyRegion,
    CostophrenicAngle,
    DenseObject,
    FilmCheck,
    Finding,
    ImageFacts,
    ObjectLook,
    PixelSpacing,
    Point,
)
from orchestrator.findings import calibration
from orchestrator.findings.candidates import (
    Candidate,
    as_strand,
    kind_guess,
    lesion_regions,
    measure,
    shape_word,
)
from orchestrator.findings.density import DensityRead, read_density
from orchestrator.findings.dome_floor import DOME_UNPLACED, on_floor
from orchestrator.findings.external_objects import split_objects
from orchestrator.findings.film_edge import EDGE_WARNING, lungs_at_film_edge
from orchestrator.findings.geometry import (
    SIDE_LOBES,
    Geometry,
    apex,
    build_geometry,
    costophrenic,
    diaphragm_dome,
    point_region,
    region_of,
    retrocardiac_mask,
    width_spans_px,
    widths_mm,
    zone_masks,
)
from orchestrator.findings.hila_levels import HILA_READ_ALONE, HILA_UNPLACED, hila_levels_ok, without_hila
from orchestrator.findings.margin import Margin, assess_margin
from orchestrator.findings.plausibility import CTR_RANGE, ENTROPY_MAX, plausibility
from orchestrator.findings.relations import (
    CONTACT_MM,
    OVERLYING,
    distance_to_mask_mm,
    distance_to_outside_mm,
    hilum_relation,
    nearest_ends,
    projected_over,
)

HEATMAP_SIZE = 128
REGION_CHANNELS: tuple[str, ...] = (
    "lung_right", "lung_left", "RUL", "RML", "RLL", "LUL", "LLL", "heart", "mediastinum", "trachea",
    "hilum_right", "hilum_left", "clavicle_right", "clavicle_left", "spine", "diaphragm",
)
LESION_CHECKS: tuple[str, ...] = ("nodule", "mass", "consolidation", "strand", "cavity", "calcification", "effusion")


def analyse(maps: AnatomyMaps, spacing: PixelSpacing, film_check: FilmCheck | None = None,
            entropy_max: float = ENTROPY_MAX, read_alone: bool = False) -> ImageFacts:
    """``film_check`` is what the film gate established before encoding (upright and unknown view
    when absent: tests and replays of phantom maps). The maps' own plausibility is judged here, with
    the certainty limit of the weights that drew them (``fitted.served_entropy_limit``); a film
    that cannot be localised gets no findings and no anatomy (``withheld``). ``read_alone``: the maps are the alone
    reader's (``orchestrator/encoders/second_reader.py``), whose hilum points are not given (``hila_levels.HILA_READ_ALONE``),
    nor anything measured to them, nor a dome its lung field runs on below (``dome_floor``)."""
    geom = build_geometry(maps, spacing)
    check = judge_anatomy(geom, film_check or FilmCheck(), entropy_max, read_alone)
    if not check.localisable:
        return withheld(maps, spacing, check)
    domes = found_domes(geom)
    if read_alone:  # a dome off its lung field's floor is not given (``dome_floor``), said once in the warnings
        kept = {s: p for s, p in domes.items() if on_floor(geom.lung(s), p)}
        if len(kept) < len(domes):
            check = replace(check, warnings=(*check.warnings, DOME_UNPLACED))
        domes = kept
    if HILA_UNPLACED in check.warnings or HILA_READ_ALONE in check.warnings:  # no hilum given (``hila_levels``)
        geom = without_hila(geom)
    candidates, objects = split_objects(lesion_regions(maps.lesion, maps.image, spacing), maps.image, spacing)
    all_lesions = np.zeros(maps.shape, dtype=bool)
    for c in candidates:
        all_lesions |= c.mask
    findings = [describe(geom, c, all_lesions & ~c.mask) for c in candidates]
    findings.sort(key=screening_order)
    findings = [_with_id(f, i + 1) for i, f in enumerate(findings)]
    anatomy = anatomy_facts(geom, findings, domes)
    if EDGE_WARNING in check.warnings:  # the chest's full width may be off the film: no ratio rests on it
        anatomy = replace(anatomy, cardiothoracic_ratio=None, thorax_width_mm=None)
    return ImageFacts(
        image_size=(int(maps.shape[0]), int(maps.shape[1])),
        spacing=spacing,
        anatomy=anatomy,
        findings=tuple(findings),
        checked=checked_items(geom, anatomy),
        film_check=check,
        objects=tuple(sorted((dense_object(geom, o.region, o.look) for o in objects), key=screening_order)),
    )


def judge_anatomy(geom: Geometry, check: FilmCheck, entropy_max: float = ENTROPY_MAX,
                  read_alone: bool = False) -> FilmCheck:
    """The gate's check with the maps' plausibility (``orchestrator.findings.plausibility``) added, and on a
    plausible chest whether a lung field lies at the film's edge (``orchestrator.findings.film_edge``) and whether its
    hila lie as a chest's do or, on a film read alone, are not given (``orchestrator.findings.hila_levels``). A dome
    off its lung field's floor on a film read alone is found with the domes themselves, in ``analyse``."""
    plaus = plausibility(geom, entropy_max)
    edge = (EDGE_WARNING,) if plaus.plausible and lungs_at_film_edge(geom) else ()
    hila = () if not plaus.plausible else (HILA_READ_ALONE,) if read_alone else \
        (HILA_UNPLACED,) if not hila_levels_ok(geom) else ()
    warnings = tuple(dict.fromkeys(check.warnings + plaus.warnings + edge + hila))
    return replace(check, anatomy_plausible=plaus.plausible, warnings=warnings)


def withheld(maps: AnatomyMaps, spacing: PixelSpacing, check: FilmCheck) -> ImageFacts:
    """Facts of a film whose anatomy could not be established: nothing that rests on the maps."""
    return ImageFacts(
        image_size=(int(maps.shape[0]), int(maps.shape[1])),
        spacing=spacing,
        anatomy=AnatomyFacts((), {}, (), None, None, None),
        findings=(),
        checked=(),
        film_check=check,
    )


def _with_id(f: Finding, n: int) -> Finding:
    return replace(f, id=f"F{n}")


@dataclass(frozen=True, eq=False)
class Morphology:
    margin: Margin
    body: Candidate  # the lesion without its spicules (the whole lesion when it has none)
    shape: str


def morphology(c: Candidate, spacing: PixelSpacing) -> Morphology:
    """Margin and shape. Strand-like opacities have no margin to grade: smooth, no notches."""
    if c.strand_like:
        return Morphology(Margin("smooth", (), (), c.diameter_mm, c.mask), as_strand(c), "strand-like")
    margin = assess_margin(c.mask, c.center, spacing, c.hidden_edge)
    body = c
    if margin.margin == "spiculated":
        body = measure(margin.core, spacing, c.peak) or c
    return Morphology(margin, body, shape_word(body))


def screening_order(f: Finding | DenseObject) -> tuple[int, float, float]:
    """The order a screening answer names things in: the right side first, then top to bottom, left to right."""
    return (0 if f.side == "right" else 1, f.center_px[1], f.center_px[0])


def dense_object(geom: Geometry, c: Candidate, look: ObjectLook = "dense") -> DenseObject:
    """Where a region set aside as an object lies, and its look (``orchestrator.findings.external_objects``)."""
    side, _ = geom.sided(c.mask, c.center)
    lung = geom.lung(side)
    return DenseObject(center_px=(round(c.center[0], 1), round(c.center[1], 1)), bbox_px=c.bbox,
                       diameter_mm=round(c.diameter_mm, 1), side=side,  # type: ignore[arg-type]
                       zone=lung.zone(c.center[1]) if lung.present else "middle", look=look)


def describe(geom: Geometry, c: Candidate, others: np.ndarray) -> Finding:
    spacing = geom.spacing
    side, side_confirmed = geom.sided(c.mask, c.center)
    lung = geom.lung(side)
    morph = morphology(c, spacing)
    body = morph.body
    cx, cy = body.center
    read = read_density(
        geom.maps.image, body.mask, lung.mask, spacing, body.diameter_mm, others, morph.shape == "strand-like"
    )
    density = read.density
    pleura_mm = (
        distance_to_outside_mm(c.mask, lung.mask, spacing) if lung.present else float("nan")
    )
    diaphragm_mm = distance_to_mask_mm(c.mask, geom.mask("diaphragm"), spacing)
    # the ends of each distance, drawn with the answer that states it (none where it touches: no line to draw); where
    # the pleura's nearest point lies (the chest wall, the mediastinum, the diaphragm) is kept either way
    pleura_ends = nearest_ends(c.mask & lung.mask, ~lung.mask, spacing, pleura_mm + 1.0) if lung.present else None
    pleura_px = pleura_ends if pleura_mm >= CONTACT_MM else None
    pleura_part = lung.border_part(*pleura_ends[1]) if pleura_ends is not None else None
    diaphragm_px = (nearest_ends(c.mask, geom.mask("diaphragm"), spacing, diaphragm_mm + 1.0)
                    if diaphragm_mm >= CONTACT_MM else None)
    lower = lung.present and lung.zone(cy) == "lower"
    kind = kind_guess(body, morph.shape, density, bool(lower and pleura_mm <= CONTACT_MM))
    if kind == "effusion" and density.air_bronchogram == "yes":  # fluid holds no air bronchogram: a lucent streak in
        density = replace(density, air_bronchogram="no")  # an effusion-like opacity is not one (a pneumonia sign)
    lobe, lobe_overlap = geom.lobe_estimate(body.mask, side, body.center)
    presence = presence_confidence(geom, c)
    # pleural fluid lies at the base by its nature: what it is projected over says nothing of it
    over = None if kind == "effusion" else projected_over(c.mask, {name: geom.mask(name) for name in OVERLYING})
    return Finding(
        id="F0",
        kind=kind,
        shape=morph.shape,
        center_px=(round(cx, 1), round(cy, 1)),
        bbox_px=c.bbox,
        polygon_px=_polygon(c),
        area_mm2=round(c.area_mm2, 1),
        diameter_mm=round(body.diameter_mm, 1),
        longest_mm=round(body.longest_mm, 1),
        shortest_mm=round(body.shortest_mm, 1),
        orientation_deg=c.orientation_deg,
        side=side,  # type: ignore[arg-type]
        lobe=lobe,
        lobe_overlap=lobe_overlap,
        side_confirmed=side_confirmed,
        zone=lung.zone(cy) if lung.present else "middle",
        band=lung.band(cx, cy) if lung.present else "middle",
        margin=morph.margin.margin,
        notches=morph.margin.notches,
        spicules=morph.margin.spicules,
        density=density,
        pleural_contact=bool(pleura_mm <= CONTACT_MM),
        distance_to_pleura_mm=round(pleura_mm, 1),
        distance_to_diaphragm_mm=round(diaphragm_mm, 1),
        hilum=hilum_relation(geom, side, c.mask, body.center, geom.maps.image, density.contrast),
        confidence=presence,
        attribute_confidence=attribute_confidence(geom, c, morph, read, lobe_overlap, presence),
        overlies=over,
        pleura_px=_rounded_ends(pleura_px),
        diaphragm_px=_rounded_ends(diaphragm_px),
        pleura_part=pleura_part,
    )


def _rounded_ends(ends: tuple[Point, Point] | None) -> tuple[Point, Point] | None:
    if ends is None:
        return None
    (x0, y0), (x1, y1) = ends
    return (round(x0, 1), round(y0, 1)), (round(x1, 1), round(y1, 1))


# --- calibrated confidence (orchestrator.findings.calibration) --------------------------------


def raw_scores(geom: Geometry, c: Candidate, morph: Morphology, read: DensityRead,
               lobe_overlap: tuple[str, ...]) -> dict[str, float]:
    """The 1-D raw scores the calibration tables read (each table names its key)."""
    presence = _presence_scores(geom, c)
    return {
        **presence,
        "margin": float(morph.margin.score),
        "diameter_mm": float(morph.body.diameter_mm),
        "contrast": float(read.density.contrast),
        "cavity": read.cavity_score,
        "calcified": read.calcified_score,
        "lobe_clear": 0.0 if lobe_overlap else 1.0,
    }


def _presence_scores(geom: Geometry, c: Candidate) -> dict[str, float]:
    inside = np.asarray(geom.maps.lesion, dtype=np.float32)[c.mask]
    return {
        "lesion_peak": float(np.clip(c.peak, 0.0, 1.0)),
        "lesion_mean": float(inside.mean()) if inside.size else 0.0,
        "log_area_mm2": float(np.log(max(c.area_mm2, 1e-3))),
    }


def presence_confidence(geom: Geometry, c: Candidate) -> float:
    """P(the finding is a real lesion); in the fitter's raw mode the raw presence score."""
    cal = calibration.load()
    raw = _presence_scores(geom, c)
    curve = cal.curves.get("presence")
    key = curve.score if curve is not None else "lesion_peak"
    if calibration.in_raw_mode():
        return round(raw[key], 4)
    p = cal.probability("presence", raw[key])  # None without a table: the raw score, under the tables' ceiling
    return float(p) if p is not None else min(round(raw[key], 4), cal.ceiling("presence"))


def attribute_confidence(geom: Geometry, c: Candidate, morph: Morphology, read: DensityRead,
                         lobe_overlap: tuple[str, ...], presence: float = 1.0) -> dict[str, float]:
    """P(each stated attribute is right); strand-like opacities have no graded margin. An irregular margin, a
    calcification or a cavity stated is held to ``presence`` (``calibration.held_to_presence``)."""
    raw = raw_scores(geom, c, morph, read, lobe_overlap)
    density = read.density
    stated = {
        "margin": morph.margin.margin != "smooth",
        "calcification": bool(density.calcified),
        "cavity": bool(density.cavity),
    }
    return calibration.held_to_presence(calibration.load().probabilities(raw, stated), presence, stated)


def _polygon(c: Candidate) -> tuple[tuple[float, float], ...]:
    pts = cv2.approxPolyDP(c.contour.astype(np.float32).reshape(-1, 1, 2), 0.7, True)
    return tuple((float(p[0][0]), float(p[0][1])) for p in pts)


# --- anatomy ---------------------------------------------------------------------------------


def found_domes(geom: Geometry) -> dict[str, Point]:
    """Each side's dome of the diaphragm, where one is found."""
    return {s: p for s in ("right", "left") if (p := diaphragm_dome(geom, s)) is not None}


def anatomy_facts(geom: Geometry, findings: list[Finding] | None = None,
                  domes: dict[str, Point] | None = None) -> AnatomyFacts:
    """``domes``: the domes given (``analyse`` drops one off its field's floor on a film read alone); None: every one
    found."""
    regions = _regions(geom)
    fluid = {f.side for f in findings or [] if f.kind == "effusion"}
    cps = tuple(_with_fluid(costophrenic(geom, s), s in fluid) for s in ("right", "left"))
    heart_w, thorax_w = widths_mm(geom)
    heart_span, thorax_span = width_spans_px(geom)
    ctr = round(heart_w / thorax_w, 3) if heart_w and thorax_w else None
    if ctr is not None and not CTR_RANGE[0] <= ctr <= CTR_RANGE[1]:
        ctr = None  # never printed outside the physiological range
    domes = found_domes(geom) if domes is None else domes
    apices = {s: p for s in ("right", "left") if (p := apex(geom.lung(s))) is not None}
    for s, p in apices.items():
        regions.append(point_region(f"apex_{s}", p))
    for cp in cps:
        if cp.state != "not_assessable":
            regions.append(point_region(f"costophrenic_{cp.side}", cp.point_px, 6.0))
    for s, p in domes.items():
        regions.append(point_region(f"diaphragm_dome_{s}", p))
    return AnatomyFacts(
        regions=tuple(regions),
        hilum_px=dict(geom.hilum_px),
        costophrenic=cps,
        cardiothoracic_ratio=ctr,
        heart_width_mm=round(heart_w, 1) if heart_w else None,
        thorax_width_mm=round(thorax_w, 1) if thorax_w else None,
        diaphragm_dome_px=domes,
        apex_px=apices,
        heart_span_px=heart_span if heart_w else None,
        thorax_span_px=thorax_span if thorax_w else None,
    )


def _with_fluid(cp: CostophrenicAngle, fluid: bool) -> CostophrenicAngle:
    """Fluid found in the recess blunts the angle whatever the outline's geometry says: a sharp one, or one measured too
    narrow to assess (``CP_MIN_DEG``; an angle never measured has 0 degrees and stays not assessable)."""
    measured = cp.state == "sharp" or (cp.state == "not_assessable" and cp.angle_deg > 0.0)
    return replace(cp, state="blunted") if fluid and measured else cp


def _regions(geom: Geometry) -> list[AnatomyRegion]:
    out: list[AnatomyRegion] = []
    for name in REGION_CHANNELS:
        if name.startswith("hilum_") and name[6:] not in geom.hilum_px:  # a hilum not placed is not outlined either
            continue
        mask = geom.lungs[name[5:]].mask if name.startswith("lung_") else geom.mask(name)
        r = region_of(name, mask)
        if r is not None:
            out.append(r)
    for side in ("right", "left"):
        hp = geom.hilum_px.get(side)
        if hp is not None and not any(r.name == f"hilum_{side}" for r in out):
            out.append(point_region(f"hilum_{side}", hp, 8.0))
        lung = geom.lung(side)
        if lung.present:
            for zone, m in zone_masks(lung).items():
                r = region_of(f"zone_{zone}_{side}", m)
                if r is not None:
                    out.append(r)
    r = region_of("retrocardiac", retrocardiac_mask(geom))
    if r is not None:
        out.append(r)
    return out


def checked_items(geom: Geometry, anatomy: AnatomyFacts) -> tuple[str, ...]:
    items: list[str] = []
    sides = [s for s in ("right", "left") if geom.lung(s).present]
    if sides:
        items += ["lung_fields", *LESION_CHECKS]
        items += [f"lobes_{s}" for s in sides if all(geom.mask(lb).any() for lb in SIDE_LOBES[s])]
    items += [f"costophrenic_{cp.side}" for cp in anatomy.costophrenic if cp.state != "not_assessable"]
    if anatomy.cardiothoracic_ratio is not None:
        items.append("cardiac_silhouette")
    items += [f"hilum_{s}" for s in ("right", "left") if s in anatomy.hilum_px]
    if anatomy.diaphragm_dome_px:
        items.append("diaphragm")
    return tuple(items)


def lesion_heatmap(facts: ImageFacts, lesion: np.ndarray) -> bytes:
    """The heatmap the facts allow: none for a film that cannot be localised (``withheld``), since a picture of
    where lesions may be is a claim as much as a finding is (on films unlike its training films the lesion map
    follows ribs and vessels)."""
    localisable = facts.film_check is None or facts.film_check.localisable
    return heatmap_png(lesion) if localisable else b""


def heatmap_png(lesion: np.ndarray, size: int = HEATMAP_SIZE) -> bytes:
    """The lesion heatmap as a small RGBA PNG (warm colour, alpha = heatmap): the screening
    overlay's picture, kept with the session and served by its own route, never in the facts."""
    hm = cv2.resize(np.asarray(lesion, dtype=np.float32), (size, size), interpolation=cv2.INTER_AREA)
    hm = np.clip(hm, 0.0, 1.0)
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (160 * (1.0 - hm)).astype(np.uint8)
    rgba[..., 2] = 0
    rgba[..., 3] = (200 * hm).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
