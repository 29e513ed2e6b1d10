"""Regions of the lesion map that are dense objects over the chest, not lesions: an ECG electrode's snap, sternotomy
wires, a clip, a generator's can, a catheter or tube. Real films carry them far more often than lesions, and the
lesion map marks many of them (``loadtests/score_devices.py``). Such a region is set aside from the findings (``ImageFacts.objects``, with its
look: ``dense``, ``large`` or ``line``) and the answer says so.

Read from the working image's [0, 1] values (brighter = denser), in the region's mask:

- metal is bright structure with sharp edges, whiter than most of the film. Small: a white top-hat over
  ``TOPHAT_MM`` (the image minus its opening by a disc of that radius) above ``METAL_EXCESS``. Large (a generator's
  can): a piece of the top-hat over ``LARGE_TOPHAT_MM`` above it whose outline is a sharp step (``EDGE_GRADIENT``),
  where a mass's edge fades, judged as found and again with its thin attachments cut off (an opening by a disc of
  ``LEAD_CUT_MM``): a can's leads join it to the mediastinum's bright structure, whose outline fades, and hid a
  sharp can in that piece. Grown by ``MARGIN_MM`` to take in its blurred rim; its whitest pixel in the region at
  least as white as the film's ``WHITER_THAN`` percentile (the soft tissue and mediastinum: a lesion over lung is not
  denser than they are);
- a line is a long, thin band of even width, whatever its density (a catheter, a tube, a lead: radio-opaque plastic is
  as faint as a lesion, and no lesion is shaped so): a piece of the white top-hat over ``LINE_TOPHAT_MM`` (bright
  structure under about twice that wide) above ``LINE_EXCESS`` whose length (the long side of its smallest enclosing
  rectangle) is at least ``LINE_MIN_MM`` and whose mean width (area over length) is at most ``LINE_MAX_WIDTH_MM``; a
  branching vessel tree or a rounded opacity is wider for its length. Grown by ``MARGIN_MM``, as metal is;
- a region is an object when that structure (metal, or else a line) covers at least ``MIN_METAL_SHARE`` of it and,
  with it set aside, the rest of the region lies no brighter than the lung round it (median excess over the
  surrounding ring at most ``MAX_REST_EXCESS``): nothing of a lesion's own density is left. A lesion with a device
  over it keeps its density and stays a finding, down to that limit: a faint lesion under metal or along a line
  (ground glass, a plate atelectasis) is set aside with it, which the answer allows for (a film taken with external
  objects removed, or a lateral view, settles whether a lesion lies beneath);
- the look is ``large`` where the metal in the region is at least ``LARGE_OBJECT_MM`` across (its equivalent
  circle): a generator's can or a port, not a snap, a clip or a button (on validation films the metal of every
  electrode, wire and button set aside is at most 20 mm across, a pacemaker's up to 55 mm);
- a generator's can is an object though the rest of its region is denser than the lung: where the region's metal is
  large (at least ``LARGE_OBJECT_MM``: a battery, not a snap or a clip) and the bright object that holds it
  (``read_housing``: what lies at least half-way from the lung round the region to the region's rest) is a housing, a
  plateau (its excess 1-2 mm inside its outline at least ``HOUSING_PLATEAU`` of its excess deeper in) ending in a step
  (its outline's gradient at least ``HOUSING_SHARPNESS`` of its height per pixel). A projected sphere (a mass beneath a
  battery-sized plate) is as sharp at its rim but rises on inward, and stays a finding;
- but never where the metal is a wall: a curved piece at least ``WALL_MM`` thick whose solidity (area over its convex
  hull's) is at most ``WALL_SOLIDITY``. Metal over the chest is thin (a wire, a ring: 2 mm or less) or solid (a snap,
  a can); a thick-walled cavity on a high-contrast film passes every metal test with its bright wall, and its lucent
  centre reads no denser than the lung round it.

Chosen on validation films only (seeds 50-109, read as served and read alone, the phantom's own look and every
rendering family, devices drawn by ``encoder/phantom/devices.py``): the rule sets aside 344 of 786 device regions
(ECG electrodes 214 of 325, wires 12 of 13, pacemakers 92 of 256, buttons 26 of 150, lines 0 of 42: a plastic line or
button is too faint for the metal test) and none of 580 lesion regions nor of 55 other false findings. It sits
at an edge there: a rest excess of 0.09 would set aside 3 lesions with a pacemaker over them, a metal share of 0.05
seven (swept with the large opening at full resolution, 341 device regions). The line test, chosen the same way
later (validation seeds 50-109 with lines, with every device kind, with the varied lesion mix through the families,
served and read alone; 80 more films, seeds 150-229, each with a strand, of which 200-229 are test-range seeds drawn
otherwise and decided nothing; seeds 110-149 with a line and the default lesions): 57 of the 104 device regions the metal test leaves (lines 40 of 52, electrodes' leads among the rest),
none of 343 lesion regions (148 of them strands) nor of 20 other false findings; an excess limit of 0.05 or a length
of 30 mm would take a strand lying along a catheter with it. The wall test, added after: none of 152 device metal
regions refused (the thickest curved device piece 3.6 mm), one cavity kept. The lead cut, added after (validation
seeds 50-109 with each device kind alone, 110-139 with each kind and the default lesions, 50-149 the own look and the
varied mix through the families, 50-89 hidden lesions, 50-109 the families at physical contrast; served and read
alone): 45 more of 555 device regions (pacemakers 56 -> 97 of 175, buttons 23 -> 27 of 101), none of 757 lesion
regions nor of 15 other false findings changed. The housing, added after (validation seeds 50-109 with a pacemaker,
110-139 with a pacemaker, with electrodes and with every kind beside the default lesions, 50-109 every kind through the
families, 50-149 the own look and the varied mix through the families, 150-199 the varied mix through every family
and the own look, 50-149 the `processing` family, 50-89 hidden lesions, 50-109 physical contrast; served and read
alone): 26 more device regions set aside (24 of them on a pacemaker's can), none of 1,034 lesion regions. Test-seed
figures and the commands: ``encoder/weights/TRAINING.md``, "Dense objects set aside", "Lines set aside", "Found while
measuring", "A can cut from its leads" and "A can's housing".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from orchestrator.facts import ObjectLook, PixelSpacing
from orchestrator.findings.candidates import Candidate, equivalent_diameter_mm, measure
from orchestrator.findings.density import ring_mask
from orchestrator.findings.geometry import disc

TOPHAT_MM = 4.0
LARGE_TOPHAT_MM = 25.0
LARGE_STEP = 4
LEAD_CUT_MM = 2.0  # radius: a lead (1.5-2.5 mm wide) or a wire is cut off a can before its outline is judged
METAL_EXCESS = 0.2
EDGE_GRADIENT = 0.08  # a large bright piece's median gradient along its outline, per working pixel
MIN_EDGE_PIXELS = 8
WHITER_THAN = 80.0  # percentile of the whole working image
MARGIN_MM = 1.5
MIN_METAL_SHARE = 0.1
WALL_MM = 4.0  # a curved piece of "metal" this thick is a wall of tissue (a cavity's): wires and rings are thinner
WALL_SOLIDITY = 0.5
MAX_REST_EXCESS = 0.06
SMOOTH_SIGMA_PX = 0.8
LARGE_OBJECT_MM = 25.0
HOUSING_SHARPNESS = 0.3  # a housing's outline: median gradient per working pixel over its height above the lung round it
HOUSING_REACH_MM = 4.0  # how far beyond the region the housing's outline is looked for
HOUSING_PLATEAU = 0.8  # a housing's excess just inside its outline over its excess deeper in: a plateau, not a dome
LINE_TOPHAT_MM = 2.5
LINE_EXCESS = 0.06
LINE_MIN_MM = 40.0
LINE_MAX_WIDTH_MM = 4.5


@dataclass(frozen=True)
class Housing:
    """The bright object that holds a region's metal (``read_housing``): how sharp its outline is (the median gradient
    along it, per working pixel, over its height above the lung round it) and how flat it is (its excess 1-2 mm inside
    the outline over its excess 3 mm or more inside, both outside the metal): a can's housing is a plateau ending in a
    step, where a projected sphere (a mass) rises on inward from its rim."""

    sharpness: float = 0.0
    plateau: float = 0.0

    @property
    def can(self) -> bool:
        return self.sharpness >= HOUSING_SHARPNESS and self.plateau >= HOUSING_PLATEAU


@dataclass(frozen=True)
class ObjectRead:
    """One region's metal share, whether its whitest metal is as white as the film's soft tissue, and the rest's
    median excess over the surrounding lung; the same of the long thin lines over it (``line_share``,
    ``line_rest_excess``: 1.0 where no line crosses it)."""

    metal_share: float
    metal_white: bool
    rest_excess: float
    line_share: float = 0.0
    line_rest_excess: float = 1.0
    wall: bool = False  # the "metal" includes a thick curved wall: a cavity's, not a device's
    metal_mm: float = 0.0  # the equivalent circle of the region's metal (its core): how large the object is
    # the bright object holding the metal (``read_housing``; not read: zeros): a can's housing round its battery,
    # denser than the lung, is a plateau ending in a step
    housing: Housing = field(default_factory=Housing)

    @property
    def metal(self) -> bool:
        return (self.metal_share >= MIN_METAL_SHARE and self.metal_white and not self.wall
                and (self.rest_excess <= MAX_REST_EXCESS or self.housed))

    @property
    def housed(self) -> bool:
        """Large metal (a generator's battery, ``LARGE_OBJECT_MM``) in a housing denser than the lung that is a plateau
        ending in a step (``Housing.can``): a can, though its rest is dense. A snap or a clip over a nodule is small
        metal, and a mass beneath a battery-sized plate rises inward from its rim: each keeps its place as a finding."""
        return self.metal_mm >= LARGE_OBJECT_MM and self.housing.can

    @property
    def line(self) -> bool:
        return self.line_share >= MIN_METAL_SHARE and self.line_rest_excess <= MAX_REST_EXCESS

    @property
    def external(self) -> bool:
        return self.metal or self.line

    @property
    def look(self) -> ObjectLook:
        """How the answer describes it: a small dense object, a large one (a generator's can), or a long thin band
        (``DenseObject.look``)."""
        if not self.metal:
            return "line"
        return "large" if self.metal_mm >= LARGE_OBJECT_MM else "dense"


@dataclass(frozen=True)
class MetalMap:
    """Where a film shows metal-like structure, and long thin lines, read once per film."""

    smooth: np.ndarray  # the working image, lightly smoothed
    core: np.ndarray  # bool: top-hat above METAL_EXCESS
    grown: np.ndarray  # bool: the core grown by MARGIN_MM
    white_level: float  # the film's WHITER_THAN percentile
    lines: np.ndarray  # bool: the long thin pieces (``long_thin_pieces``), grown by MARGIN_MM


@dataclass(frozen=True)
class SetAside:
    """A region set aside from the findings, and its look."""

    region: Candidate
    look: ObjectLook


def _tophat(smooth: np.ndarray, radius_mm: float, px: float) -> np.ndarray:
    return smooth - cv2.morphologyEx(smooth, cv2.MORPH_OPEN, disc(max(3, round(radius_mm / px))))


def _large_tophat(smooth: np.ndarray, px: float) -> np.ndarray:
    """The top-hat over ``LARGE_TOPHAT_MM``, its opening taken at a ``LARGE_STEP``-th of the resolution (an opening by
    a disc that size costs a hundred times more at full resolution) and brought back."""
    h, w = smooth.shape
    small = cv2.resize(smooth, (max(1, w // LARGE_STEP), max(1, h // LARGE_STEP)), interpolation=cv2.INTER_AREA)
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, disc(max(3, round(LARGE_TOPHAT_MM / (px * LARGE_STEP)))))
    return smooth - cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR)


def sharp_pieces(bright: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """The connected pieces of ``bright`` whose outline is a sharp step (median gradient at least ``EDGE_GRADIENT``):
    a generator's can, not a mass, whose edge fades."""
    n, labels = cv2.connectedComponents(bright.astype(np.uint8))
    if n <= 1:
        return np.zeros_like(bright)
    gy, gx = np.gradient(smooth)
    outline = bright & ~cv2.erode(bright.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    at = np.flatnonzero(outline)
    piece = labels.ravel()[at]
    grad = np.hypot(gx.ravel()[at], gy.ravel()[at])
    order = np.lexsort((grad, piece))  # by piece, then by gradient: each piece's median read off its run
    piece, grad = piece[order], grad[order]
    ids = np.arange(1, n)
    start, stop = np.searchsorted(piece, ids), np.searchsorted(piece, ids, side="right")
    count = stop - start
    big = count >= MIN_EDGE_PIXELS
    median = np.zeros(len(ids))
    median[big] = (grad[start[big] + (count[big] - 1) // 2] + grad[start[big] + count[big] // 2]) / 2
    keep = ids[big & (median >= EDGE_GRADIENT)]
    return np.isin(labels, keep) if keep.size else np.zeros_like(bright)


def long_thin_pieces(bright: np.ndarray, px: float) -> np.ndarray:
    """The connected pieces of ``bright`` at least ``LINE_MIN_MM`` long (the long side of the smallest rectangle
    round them) and at most ``LINE_MAX_WIDTH_MM`` wide on average (area over that length): a catheter, a tube, a
    lead, not a vessel tree or a rounded opacity."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    reach = LINE_MIN_MM / px
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if np.hypot(w, h) < reach:  # too short whichever way it runs
            continue
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == i)
        _, sides, _ = cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32))
        length = max(sides) * px
        keep[i] = length >= LINE_MIN_MM and area * px * px / length <= LINE_MAX_WIDTH_MM
    return keep[labels]


def metal_map(image: np.ndarray, spacing: PixelSpacing) -> MetalMap:
    px = min(spacing.row_mm, spacing.col_mm)
    smooth = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), SMOOTH_SIGMA_PX)
    core = _tophat(smooth, TOPHAT_MM, px) > METAL_EXCESS
    large = _large_tophat(smooth, px) > METAL_EXCESS
    cut = cv2.morphologyEx(large.astype(np.uint8), cv2.MORPH_OPEN, disc(max(1, round(LEAD_CUT_MM / px)))).astype(bool)
    core |= sharp_pieces(large, smooth) | sharp_pieces(cut, smooth)
    grow = disc(max(1, round(MARGIN_MM / px)))
    grown = cv2.dilate(core.astype(np.uint8), grow).astype(bool)
    lines = long_thin_pieces(_tophat(smooth, LINE_TOPHAT_MM, px) > LINE_EXCESS, px)
    return MetalMap(smooth, core, grown, float(np.percentile(smooth, WHITER_THAN)),
                    cv2.dilate(lines.astype(np.uint8), grow).astype(bool))


def _levels(mask: np.ndarray, covered: np.ndarray, smooth: np.ndarray, spacing: PixelSpacing
            ) -> tuple[float, float] | None:
    """(the lung round the region, the region outside ``covered``): their medians (the ring: ``density.ring_mask``,
    with ``covered`` as the "not lung"); None where the region is all covered."""
    rest = mask & ~covered
    if rest.sum() < 5:
        return None
    around = ring_mask(mask, ~covered, spacing, None)
    return float(np.median(smooth[around])), float(np.median(smooth[rest]))


def _excess(levels: tuple[float, float] | None) -> float:
    """The rest's median excess over the lung round it; 0 where the region is all covered."""
    return 0.0 if levels is None else levels[1] - levels[0]


def has_wall(core: np.ndarray, spacing: PixelSpacing) -> bool:
    """Whether ``core`` (a region's metal-like pixels) has a piece at least ``WALL_MM`` thick whose solidity is at
    most ``WALL_SOLIDITY`` (``candidates.measure``'s ``thickness_mm`` and ``solidity``): a curved wall, not a wire, a
    ring or a snap."""
    n, labels = cv2.connectedComponents(core.astype(np.uint8))
    for i in range(1, n):
        piece = measure(labels == i, spacing)
        if piece is not None and piece.thickness_mm >= WALL_MM and piece.solidity <= WALL_SOLIDITY:
            return True
    return False


def read_housing(mask: np.ndarray, metal: MetalMap, spacing: PixelSpacing, levels: tuple[float, float]) -> Housing:
    """The object is what round the region (within ``HOUSING_REACH_MM``) lies at least half-way from the lung round it
    to the region's rest (``levels``: their medians, as the rest test read them): the pieces of that which hold the
    region's metal. Nothing read (``Housing()``) where the rest is no denser than the lung, or there is no outline."""
    bg, height = levels[0], levels[1] - levels[0]
    ys, xs = np.nonzero(mask)
    if height <= 0 or not len(ys):
        return Housing()
    px = min(spacing.row_mm, spacing.col_mm)
    reach = max(1, round(HOUSING_REACH_MM / px))
    h, w = mask.shape
    pad = reach + 2  # the box holds the reach round the region and the outline's neighbours
    box = (slice(max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, h)),
           slice(max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, w)))
    m, grown, smooth, core = mask[box], metal.grown[box], metal.smooth[box], metal.core[box] & mask[box]
    near = cv2.dilate(m.astype(np.uint8), disc(reach))
    _, labels = cv2.connectedComponents(((smooth >= bg + 0.5 * height) & near.astype(bool)).astype(np.uint8))
    held = np.unique(labels[core])
    piece = np.isin(labels, held[held > 0])
    edge = piece & ~cv2.erode(piece.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    edge &= cv2.erode(near, np.ones((3, 3), np.uint8)).astype(bool)  # the object's own outline, not where the reach cut it
    if int(edge.sum()) < MIN_EDGE_PIXELS:
        return Housing()
    gy, gx = np.gradient(smooth)
    sharpness = float(np.median(np.hypot(gx[edge], gy[edge]))) / height
    depth = cv2.distanceTransform(piece.astype(np.uint8), cv2.DIST_L2, 5) * px  # mm inside the object's outline
    body = piece & ~grown
    rim, inner = body & (depth >= 1.0) & (depth < 2.0), body & (depth >= 3.0)
    if rim.sum() < 5 or inner.sum() < 5:
        return Housing(sharpness)
    plateau = (float(np.median(smooth[rim])) - bg) / max(float(np.median(smooth[inner])) - bg, 1e-3)
    return Housing(sharpness, plateau)


def read_object(mask: np.ndarray, metal: MetalMap, spacing: PixelSpacing) -> ObjectRead:
    """``mask``: the region; ``metal``: its film's ``metal_map``."""
    size = max(int(mask.sum()), 1)
    share = float((metal.grown & mask).sum()) / size
    core = metal.core & mask
    white = bool(core.any() and metal.smooth[core].max() >= metal.white_level)
    levels = _levels(mask, metal.grown, metal.smooth, spacing) if core.any() else None
    rest = _excess(levels) if core.any() else 1.0
    line_share, line_rest = 0.0, 1.0
    if (on_line := metal.lines & mask).any():
        line_share = float(on_line.sum()) / size
        line_rest = _excess(_levels(mask, metal.lines, metal.smooth, spacing))
    wall = has_wall(core, spacing) if white else False
    metal_mm = equivalent_diameter_mm(int(core.sum()), spacing)
    # the housing is read only where it decides: large metal, enough of it, white, no wall, the rest denser than the lung
    housing = (read_housing(mask, metal, spacing, levels) if levels is not None and metal_mm >= LARGE_OBJECT_MM
               and share >= MIN_METAL_SHARE and white and not wall and rest > MAX_REST_EXCESS else Housing())
    return ObjectRead(share, white, rest, line_share, line_rest, wall, metal_mm, housing)


def split_objects(regions: Sequence[Candidate], image: np.ndarray, spacing: PixelSpacing,
                  metal: MetalMap | None = None) -> tuple[list[Candidate], list[SetAside]]:
    """``regions`` -> (lesion regions, the regions set aside with their looks), each in the order given; ``metal``:
    the film's ``metal_map`` where the caller reads several sets of regions on one film."""
    if not regions:
        return [], []
    metal = metal or metal_map(image, spacing)
    lesions: list[Candidate] = []
    objects: list[SetAside] = []
    for c in regions:
        read = read_object(c.mask, metal, spacing)
        if read.external:
            objects.append(SetAside(c, read.look))
        else:
            lesions.append(c)
    return lesions, objects
