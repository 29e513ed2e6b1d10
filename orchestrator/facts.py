"""The facts every answer stands on: plain frozen dataclasses, JSON round-trippable.

Produced once per film by the findings layer (``orchestrator.findings.analyse``) from
``AnatomyMaps`` and a ``PixelSpacing``; consumed by the dialogue engine, which never looks
at maps again. Coordinates are pixels ``(x, y)`` = (column, row) in the working image,
standard PA display (the patient's right on the image's left). Clock positions: 12 o'clock
is cranial (up), 3 o'clock the image's right.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

Point = tuple[float, float]
BBox = tuple[float, float, float, float]
Tri = Literal["yes", "no", "uncertain"]


@dataclass(frozen=True)
class PixelSpacing:
    """mm per pixel of the working image. ``source`` says whether it came from DICOM."""

    row_mm: float
    col_mm: float
    source: Literal["dicom", "estimated"]
    note: str = ""

    def __post_init__(self) -> None:
        if not (self.row_mm > 0 and self.col_mm > 0):
            raise ValueError("pixel spacing must be positive")


@dataclass(frozen=True)
class Notch:
    """A concavity of a lobulated margin."""

    clock: int  # 1..12
    depth_mm: float
    point_px: Point


@dataclass(frozen=True)
class Spicule:
    """A thin radial spike of a spiculated margin."""

    clock: int  # 1..12
    length_mm: float
    base_px: Point
    tip_px: Point


@dataclass(frozen=True)
class Density:
    homogeneous: bool
    contrast: float  # mean lesion intensity minus surrounding lung, normalised units
    calcified: bool
    cavity: bool
    bubble_lucency: bool
    air_bronchogram: Tri


@dataclass(frozen=True)
class HilumRelation:
    """The lesion's relation to the same-side hilum."""

    side: Literal["right", "left"]
    hilum_px: Point
    center_distance_mm: float
    gap_mm: float  # lesion edge to the nearest hilar structure
    gap_from_px: Point
    gap_to_px: Point
    connected: Tri  # a continuous soft-tissue band joins lesion and hilum
    bronchus_cut_off: Tri


Overlying = Literal["diaphragm", "heart", "mediastinum"]  # what a finding may be projected over (``Finding.overlies``)
PleuraPart = Literal["chest_wall", "mediastinum", "diaphragm"]  # the part of a lung field's border (``Finding.pleura_part``)


@dataclass(frozen=True)
class Finding:
    id: str  # F1, F2, ... in screening order
    kind: str  # nodule, mass, strand, consolidation, calcified_nodule, cavity, effusion
    shape: str  # round, oval, strand-like, patchy
    center_px: Point
    bbox_px: BBox
    polygon_px: tuple[Point, ...]
    area_mm2: float
    diameter_mm: float  # equivalent-circle diameter
    longest_mm: float
    shortest_mm: float
    orientation_deg: float
    side: Literal["right", "left"]
    lobe: str  # RUL RML RLL LUL LLL
    zone: str  # upper middle lower
    band: str  # inner middle outer
    margin: str  # smooth lobulated spiculated
    notches: tuple[Notch, ...]
    spicules: tuple[Spicule, ...]
    density: Density
    pleural_contact: bool
    distance_to_pleura_mm: float
    distance_to_diaphragm_mm: float
    hilum: HilumRelation | None
    confidence: float
    # other lobes whose projections also cover the centre: on a frontal film the lobe is then an
    # estimate (upper and lower lobes overlap in projection) and the answer says so
    lobe_overlap: tuple[str, ...] = ()
    # the side is the spine line's (the centre's column against the midline); False when the lung
    # maps put the lesion's bulk on the other side: the answer then says the side is uncertain
    side_confirmed: bool = True
    # calibrated probability that each stated attribute is right (presence, margin, size, density,
    # calcification, cavity, lobe), fitted on validation seeds: orchestrator.findings.calibration
    attribute_confidence: dict[str, float] = field(default_factory=dict)
    # where the margin was read: the encoder's lesion map (half the working resolution: a smooth read
    # there cannot exclude 1 mm spicules) or the lesion reader, on the upload's own pixels at 0.25 mm
    # (orchestrator/findings/lesion_reading.py)
    margin_source: Literal["lesion_map", "reader"] = "lesion_map"
    # what most of it is projected over on the frontal film (``relations.projected_over``): a dome ("diaphragm"), the
    # heart or the mediastinum, where readers miss most and where one over the mediastinum may lie in it rather than
    # in the lung; None on the open lung field
    overlies: Overlying | None = None
    # the two ends of ``distance_to_pleura_mm`` and of ``distance_to_diaphragm_mm``: the lesion's pixel nearest that
    # boundary and the boundary's pixel nearest it, drawn with the answer that states the distance (None: facts from
    # before they were kept, or no distance measured)
    pleura_px: tuple[Point, Point] | None = None
    diaphragm_px: tuple[Point, Point] | None = None
    # the part of the lung field's border ``distance_to_pleura_mm`` is measured to (``Lung.border_part``): the chest
    # wall, the mediastinum (its inner border, the heart's included: the mediastinal pleura) or the diaphragm; a finding
    # "touching the pleura" at the inner border abuts the mediastinum, which a reader reads otherwise than one on the
    # chest wall (None: facts from before it was kept)
    pleura_part: PleuraPart | None = None


ObjectLook = Literal["dense", "large", "line"]  # how an object set aside looks (``DenseObject.look``)


@dataclass(frozen=True)
class DenseObject:
    """A region the lesion map marked that is an object over lung of no added density, set aside from the findings
    (``orchestrator.findings.external_objects``): a small dense object with sharp edges (``look`` "dense": metal, an
    ECG electrode's snap, sternotomy wires, a clip), a large one ("large": metal at least 25 mm across, a generator's
    can, a port) or a long, thin band of even width ("line": a catheter, a tube, a lead). Where it lies and how it
    looks, never what it is: Hilum does not identify devices."""

    center_px: Point
    bbox_px: BBox
    diameter_mm: float  # equivalent circle of the region the lesion map marked
    side: Literal["right", "left"]
    zone: str  # upper middle lower
    look: ObjectLook = "dense"  # facts stored before lines were set aside are all dense


@dataclass(frozen=True)
class AnatomyRegion:
    """A named anatomy region or point: hilum_right, lung_left, heart, apex_right, costophrenic_left, ..."""

    name: str
    center_px: Point
    bbox_px: BBox
    polygon_px: tuple[Point, ...] = ()


@dataclass(frozen=True)
class CostophrenicAngle:
    side: Literal["right", "left"]
    point_px: Point
    angle_deg: float
    state: Literal["sharp", "blunted", "not_assessable"]
    # the far ends of the two arms ``angle_deg`` is measured between (from ``point_px``): up the lateral chest wall and
    # medially along the floor; None where the angle was not measured (or facts from before they were kept)
    wall_px: Point | None = None
    floor_px: Point | None = None


@dataclass(frozen=True)
class AnatomyFacts:
    regions: tuple[AnatomyRegion, ...]
    hilum_px: dict[str, Point]
    costophrenic: tuple[CostophrenicAngle, ...]
    cardiothoracic_ratio: float | None
    heart_width_mm: float | None
    thorax_width_mm: float | None
    diaphragm_dome_px: dict[str, Point] = field(default_factory=dict)
    apex_px: dict[str, Point] = field(default_factory=dict)
    # the ends of the two widths the cardiothoracic ratio divides (``heart_width_mm``: the heart's widest horizontal
    # extent, drawn across its middle row; ``thorax_width_mm``: both lung fields' widest outer-to-outer row), at the
    # outer edges of their end pixels; None where the width was not measured (or facts from before they were kept)
    heart_span_px: tuple[Point, Point] | None = None
    thorax_span_px: tuple[Point, Point] | None = None

    def region(self, name: str) -> AnatomyRegion | None:
        return next((r for r in self.regions if r.name == name), None)


Orientation = Literal["upright", "rotated_90", "rotated_180", "flipped_lr"]
AgeGroup = Literal["infant", "child", "adult"]  # the patient's, from the file's header (orchestrator.patient_age)


@dataclass(frozen=True)
class FilmCheck:
    """What the film gate (``orchestrator.film_gate``) established about an accepted upload.

    ``orientation`` is how the film is shown relative to the standard PA display; ``warnings``
    are codes (``orchestrator.film_gate.WARNINGS`` says what each means). ``localisable`` is
    the one switch the findings layer and the composer read: only then are findings, sides,
    lobes, zones, distances, hila and the cardiothoracic ratio stated."""

    is_chest: bool = True
    view: str = "unknown"  # PA, AP (from the file), or frontal (from the image alone)
    orientation: Orientation = "upright"
    anatomy_plausible: bool = True
    warnings: tuple[str, ...] = ()
    age_group: AgeGroup | None = None  # from the file's header only (orchestrator.patient_age); None: not said

    @property
    def localisable(self) -> bool:
        return self.is_chest and self.anatomy_plausible and self.orientation == "upright" \
            and "sides_unconfirmed" not in self.warnings

    def to_dict(self) -> dict[str, Any]:
        return {"is_chest": self.is_chest, "view": self.view, "orientation": self.orientation,
                "anatomy_plausible": self.anatomy_plausible, "warnings": list(self.warnings),
                **({"age_group": self.age_group} if self.age_group is not None else {})}


@dataclass(frozen=True)
class ImageFacts:
    image_size: tuple[int, int]  # (H, W) of the working image
    spacing: PixelSpacing
    anatomy: AnatomyFacts
    findings: tuple[Finding, ...]
    checked: tuple[str, ...] = ()  # what the findings layer actually assessed (for "normal" statements)
    film_check: FilmCheck = field(default_factory=FilmCheck)
    objects: tuple[DenseObject, ...] = ()  # dense objects set aside from the findings, in screening order

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)


# --- JSON round trip -------------------------------------------------------------------------


def to_jsonable(obj: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, recursively."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


def from_jsonable(cls: Any, data: Any) -> Any:
    """Inverse of ``to_jsonable`` for the annotated dataclasses of this package."""
    return _build(cls, data)


@functools.cache
def _type_hints(tp: type) -> dict[str, Any]:
    """Resolved field annotations of a dataclass; resolving them is the slow part of a load."""
    return typing.get_type_hints(tp)


def _build(tp: Any, data: Any) -> Any:  # noqa: C901 - a type dispatcher
    origin = typing.get_origin(tp)
    if data is None:
        return None
    if dataclasses.is_dataclass(tp):
        hints = _type_hints(tp)
        kwargs = {f.name: _build(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data}
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for a in args:
            try:
                return _build(a, data)
            except (TypeError, KeyError, ValueError):
                continue
        return data
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v) for v in data)
        return tuple(_build(a, v) for a, v in zip(args, data, strict=False))
    if origin is list:
        (a,) = typing.get_args(tp)
        return [_build(a, v) for v in data]
    if origin is dict:
        _, vt = typing.get_args(tp)
        return {k: _build(vt, v) for k, v in data.items()}
    if origin is Literal:
        return data
    if tp is float and isinstance(data, int | float):
        return float(data)
    return data
