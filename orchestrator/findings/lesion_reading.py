"""Findings refined by the lesion reader: the margin read on the upload's own pixels (issue 22).

The findings layer reads a margin off the encoder's lesion map, drawn at half the 512² working
resolution (~1.3 mm per pixel): lobulation shows, 1-2 mm spicules do not, and a smooth read cannot
be backed. On a first turn, when the upload's pixels are fine enough (``max_mm_per_px``, 0.3 mm by
default; real detectors deliver 0.14-0.2 mm), every focal finding (``READ_KINDS``) is cut as a 64 mm
crop at 0.25 mm from the original pixels and all of a film's crops go to the reader in one call
(``orchestrator.encoders.lesion_reader.read_candidates``). What it changes on each finding:

- ``margin`` (the reader's class), with its notches at the reader's clock hours (points on the
  finding's equivalent circle, since the reader names hours, not pixels); its spicules (hours, count,
  lengths) only when ``state_spicules`` (``Settings.lesion_reader_states_spicules``, off by default):
  on held-out crops the spicule heads are at chance (hours found within 1 h 2.5%, count within 1
  11.5%), and a filter told where to look separates the phantom's spicule hours from the rest at
  AUC 0.54-0.60 with the anatomy behind them (``loadtests/spicule_visibility.py``), so a count or an
  hour would be stated without anything in the pixels to back it. Notch hours are named right
  within 1 h 87.8% of the time;
- ``attribute_confidence["margin"]``: the reader's probability of the stated class being right as
  a smooth / irregular call (P(smooth) for smooth, P(lobulated) + P(spiculated) otherwise), an irregular one held to
  the finding's presence as the lesion map's is (``calibration.held_to_presence``);
- ``margin_source = "reader"``: a confident smooth read is then stated, and the checklist's margin
  item can be "no" (``orchestrator.dialogue.checklists.smooth_unbacked``).

A smooth reading changes the finding only when ``back_smooth`` (``Settings.lesion_reader_backs_smooth``,
off by default): the reader learnt on phantom films whose 1-2 mm spicules are below the detector's
noise (``encoder/weights/lesion-reader/README.md``), so its "smooth" cannot yet exclude spicules on a
real film; by default it adds the irregularity it sees and leaves a smooth read to the lesion map's
hedged wording.

With ``sizes_from`` (``Settings.lesion_reader_sizes``: the crops' original spacing and frame) the finding's
size and outline become the reader's: its fine mask (0.5 mm pixels, against the lesion map's ~1.3 mm) measured as
the findings layer measures a region (``candidates.measure``: area, equivalent diameter, longest and shortest
axes), the outline drawn where the crop was cut (``crop_to_working``), and a nodule of 30 mm or more called a mass; the centre stays, so anchors, sides and distances do
not move. ``score_reader_pipeline`` grades it against the truth's diameter.

Density, calcification and cavity stay the findings layer's. Films with coarser pixels (the
phantom's 0.64 mm, PNG exports) keep the lesion map's margin and its honest hedging. Follow-up
turns never call the reader: the facts are made once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from orchestrator.contracts.lesion_reader import (
    MASK_MM_PER_PX,
    MASK_SIZE,
    MASK_STRIDE,
    Frame,
    LesionReading,
    candidate_disc,
    crop_to_working,
)
from orchestrator.facts import Finding, ImageFacts, Notch, PixelSpacing, Spicule
from orchestrator.findings.calibration import held_to_presence
from orchestrator.findings.candidates import MASS_MM, Candidate, measure

READ_KINDS: tuple[str, ...] = ("nodule", "mass", "calcified_nodule", "cavity")  # the reader's training lesions


def reader_applies(original_mm_per_px: tuple[float, float] | None, max_mm_per_px: float) -> bool:
    """Whether the upload's pixels resolve what the reader reads (a known spacing, fine enough)."""
    return original_mm_per_px is not None and max(original_mm_per_px) <= max_mm_per_px


def candidate_masks(facts: ImageFacts, indices: Sequence[int]) -> list[np.ndarray]:
    """The reader's mask channel for each finding read: a disc of its equivalent diameter at its
    centre (``contracts.lesion_reader.candidate_disc``, as in training), never its outline."""
    mm_per_px = math.sqrt(facts.spacing.row_mm * facts.spacing.col_mm)
    return [candidate_disc(facts.findings[i].center_px, max(facts.findings[i].diameter_mm, 2.0), mm_per_px)
            for i in indices]


def to_read(facts: ImageFacts) -> list[int]:
    """Indices of the findings the reader reads (focal lesions, in finding order)."""
    return [i for i, f in enumerate(facts.findings) if f.kind in READ_KINDS]


def _at_clock(f: Finding, hour: int, mm_per_px: float, extra_mm: float = 0.0) -> tuple[float, float]:
    """The point at ``hour`` on the finding's equivalent circle, ``extra_mm`` beyond it (12 up, 3 the
    image's right), in working pixels."""
    r = (f.diameter_mm / 2.0 + extra_mm) / mm_per_px
    a = math.radians(30.0 * (hour % 12))
    return round(f.center_px[0] + r * math.sin(a), 1), round(f.center_px[1] - r * math.cos(a), 1)


def refine(f: Finding, reading: LesionReading, mm_per_px: float, state_spicules: bool = False) -> Finding:
    """One finding with the reader's margin (see the module docstring); ``mm_per_px``: the working
    image's spacing; ``state_spicules``: keep the reader's spicule hours and lengths on the finding."""
    p_irregular = reading.p_irregular
    margin = reading.margin
    if margin == "spiculated" and not reading.spicule_clock:
        margin = "lobulated" if reading.margin_probs["lobulated"] >= reading.margin_probs["smooth"] else "smooth"
    notches = tuple(Notch(h, 0.0, _at_clock(f, h, mm_per_px)) for h in reading.notches_clock) \
        if margin == "lobulated" else ()
    spicules: tuple[Spicule, ...] = ()
    if margin == "spiculated" and state_spicules:
        spicules = tuple(
            Spicule(h, round(float(length), 1), _at_clock(f, h, mm_per_px), _at_clock(f, h, mm_per_px, float(length)))
            for h, length in zip(reading.spicule_clock, reading.spicule_length_mm, strict=True)
        )
    p = p_irregular if margin != "smooth" else 1.0 - p_irregular
    p = round(float(min(max(p, 0.02), 0.98)), 4)
    conf = {**f.attribute_confidence, **held_to_presence({"margin": p}, f.confidence, {"margin": margin != "smooth"})}
    return replace(f, margin=margin, notches=notches, spicules=spicules, attribute_confidence=conf,
                   margin_source="reader")


MASK_CENTRE = (MASK_SIZE - 1) / 2.0  # the crop's centre (the finding's centre) in mask pixels
# P(the reader mask's diameter is within 20% of the truth's), round lesions >= 8 mm: 162 of 165 on validation seeds
# 100-129 (`loadtests.score_reader_pipeline --seeds 100-129`); smaller ones keep the lesion map's calibrated value
READER_SIZE_P = 0.98
READER_SIZE_MIN_MM = 8.0
CENTRE_REACH_MM = 3.0  # the reader's region must reach this close to the centre to be the finding's


def reader_region(reading: LesionReading) -> Candidate | None:
    """The reader's fine mask (P >= 0.5) measured as the findings layer measures a region (mask pixels,
    ``MASK_MM_PER_PX`` mm): the connected part nearest the crop's centre, if it reaches within
    ``CENTRE_REACH_MM`` of it; None when the reader drew nothing there."""
    mask = (np.asarray(reading.mask) >= 0.5).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n < 2:
        return None
    ys, xs = np.nonzero(labels)
    dist = np.hypot(xs - MASK_CENTRE, ys - MASK_CENTRE)
    k = int(np.argmin(dist))
    if dist[k] * MASK_MM_PER_PX > CENTRE_REACH_MM:
        return None
    return measure(labels == labels[ys[k], xs[k]], PixelSpacing(MASK_MM_PER_PX, MASK_MM_PER_PX, "dicom"))


def resize(f: Finding, region: Candidate, original_mm_per_px: tuple[float, float], frame: Frame) -> Finding:
    """``f`` with the reader's size and outline (module docstring), the outline drawn where the crop was cut
    (``contracts.lesion_reader.crop_to_working``); the centre stays. The size's probability becomes the reader's
    own validation rate (``READER_SIZE_P``) from 8 mm up."""
    xs, ys = crop_to_working(region.contour[:, 0], region.contour[:, 1], f.center_px, original_mm_per_px, frame,
                             stride=MASK_STRIDE)
    poly = tuple((round(float(x), 2), round(float(y), 2)) for x, y in zip(xs, ys, strict=True))
    x0, y0, x1, y1 = region.bbox
    (bx0, bx1), (by0, by1) = crop_to_working(np.array([x0, x1]), np.array([y0, y1]), f.center_px, original_mm_per_px,
                                             frame, stride=MASK_STRIDE)
    bbox = (bx0, by0, bx1, by1)
    kind = f.kind
    if kind in ("nodule", "mass"):
        kind = "mass" if region.diameter_mm >= MASS_MM else "nodule"
    conf = dict(f.attribute_confidence)
    if region.diameter_mm >= READER_SIZE_MIN_MM:
        conf["size"] = READER_SIZE_P
    return replace(f, kind=kind, polygon_px=poly, bbox_px=tuple(round(float(v), 2) for v in bbox),
                   attribute_confidence=conf,
                   area_mm2=round(region.area_mm2, 1), diameter_mm=round(region.diameter_mm, 1),
                   longest_mm=round(region.longest_mm, 1), shortest_mm=round(region.shortest_mm, 1))


def refine_facts(facts: ImageFacts, indices: Sequence[int], readings: Sequence[LesionReading],
                 back_smooth: bool = False, state_spicules: bool = False,
                 sizes_from: tuple[tuple[float, float], Frame] | None = None) -> ImageFacts:
    """The facts with ``readings[k]`` applied to ``facts.findings[indices[k]]``; a smooth reading only
    when ``back_smooth``, spicule details only when ``state_spicules``, the reader's size and outline
    when ``sizes_from`` gives the crops' original spacing and frame (module docstring)."""
    if len(indices) != len(readings):
        raise ValueError("one reading per finding read")
    findings = list(facts.findings)
    mm_per_px = math.sqrt(facts.spacing.row_mm * facts.spacing.col_mm)
    for i, reading in zip(indices, readings, strict=True):
        refined = refine(findings[i], reading, mm_per_px, state_spicules)
        if refined.margin != "smooth" or back_smooth:
            findings[i] = refined
        region = reader_region(reading) if sizes_from is not None else None
        if region is not None and sizes_from is not None:
            findings[i] = resize(findings[i], region, *sizes_from)
    return replace(facts, findings=tuple(findings))
