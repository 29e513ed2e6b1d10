"""This film against an earlier film of the same chest: which finding is which, and what changed.

A radiologist's first question of a nodule is whether it has changed. Hilum reads both films the same way
(``ImageFacts`` each) and pairs their findings here; the dialogue says what the pairs show. Plain functions over
frozen dataclasses, no I/O.

- **Pairing.** A finding is placed within its own lung field: its centre as a share of that side's lung field box
  (``lung_right`` / ``lung_left``), so that another positioning, inspiration or magnification of the same chest moves
  it little. Two findings pair when they are on the same side and lie within ``MATCH_DISTANCE`` of each other; closest
  pairs first (a pair of another family counts ``FAMILY_PENALTY`` farther), each finding in one pair at most. The kind
  is not required to agree: the same lesion is often read as another kind on another film (on the phantom's films of
  one chest taken twice, a mass read as a consolidation, a cavity as a strand, a strand as a nodule), and the answer
  says what the earlier film read it as. The round kinds (nodule, mass, calcified nodule, cavity) are one family: a
  nodule that has grown past 30 mm is called a mass. An effusion pairs only with an effusion. What pairs with nothing
  is new (found on this film only: "not found on the earlier film") or not seen now (on the earlier film only).
- **Change.** Sizes are each film's own (its pixel spacing: from the file, or estimated from the thorax's width, in
  which case both are relative to the thorax and the answer says so). Only a pair read as round lesions on both
  films is measured against itself: a strand's or a consolidation's outline on a radiograph changes with positioning,
  exposure and what the lesion map takes in (a phantom strand of one length read 21 mm on one film and 31 mm on
  another), so such pairs are ``seen_on_both``, sizes given, no change called. A difference is called a change only
  when it is at least ``CHANGE_MM`` and ``CHANGE_SHARE`` of the earlier size: on this pipeline's own test films the
  stated diameter of a round lesion is within 15% of the truth's for 86-96% of them (README, the lesion reader), so
  smaller differences are within what one measurement can be off by (measured: README, "An earlier film"). A round lesion that grew, with the interval known, gets
  its volume doubling time as a sphere would give it (``days x ln 2 / (3 ln(d_now / d_then))``), with the range it
  spans were either diameter ``SIZE_ERROR`` off (a small error in a small diameter moves it a lot). On films too
  coarse for the lesion reader (``coarse``) sizes can be off by a third, which spans everything from fast growth to
  none, so no doubling time is given there. A pair whose earlier reading was below the confidence threshold (a
  "possibly" on that film) carries ``earlier_uncertain``, and the answer says so.
- **Nothing compared** when either film cannot be localised (refused sides, anatomy withheld, mirrored or turned):
  ``comparable`` is false and ``reason`` says which film.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.facts import Finding, ImageFacts
from orchestrator.findings.calibration import is_confident, stated_kind

ROUND_KINDS = frozenset({"nodule", "mass", "calcified_nodule", "cavity"})
MATCH_DISTANCE = 0.15  # in shares of the lung field box (about 3 cm on an adult film)
FAMILY_PENALTY = 0.05  # a pair of another family (a mass on one film, a consolidation on the other) ranks this farther
CHANGE_MM = 2.0
CHANGE_SHARE = 0.15
SIZE_ERROR = 0.10  # the doubling time's range: either diameter off by this share (p10-p90 of the stated diameters
#                    of round lesions >= 8 mm against the truth: 0.94-1.06 with the lesion reader, 0.94-1.13 without)
MIN_INTERVAL_DAYS = 1

Status = Literal["larger", "smaller", "no_measurable_change", "seen_on_both", "new", "not_seen_now"]
Reason = Literal["", "current_unreadable", "earlier_unreadable"]


@dataclass(frozen=True)
class FindingChange:
    """One finding across the two films. ``finding_id``: this film's (None: seen only on the earlier film);
    ``earlier_id``: the earlier film's (None: new). Sizes in mm: the diameter of a round lesion, the longest
    axis of any other."""

    finding_id: str | None
    earlier_id: str | None
    kind: str  # as the answers name it (``calibration.stated_kind``: a calcification or cavity only where stated)
    side: str
    lobe: str
    now_mm: float | None
    then_mm: float | None
    status: Status
    doubling_days: float | None = None
    earlier_kind: str | None = None  # what the earlier film read it as, where that differs from ``kind``
    # the doubling time with either diameter off by SIZE_ERROR: (fastest, slowest); slowest None: maybe no growth
    doubling_range: tuple[float, float | None] | None = None
    # where it is on the earlier film (its working frame); for a new finding, where it would be (carried over by its
    # place in the lung field: where to look on the earlier film)
    earlier_bbox_px: tuple[float, float, float, float] | None = None
    zone: str = ""  # upper / middle / lower: tells a finding no longer seen from one of its lobe still there
    earlier_uncertain: bool = False  # the earlier film's reading of it was below the confidence threshold ("possibly")
    # the earlier film's finding carried onto this film's working frame by its place in its lung field (the pairing's
    # own measure of place; the films are not registered point to point): where it was, drawn on this film (None: not
    # seen on the earlier film, no lung field to carry it by, or a comparison stored before this was kept)
    earlier_bbox_here_px: tuple[float, float, float, float] | None = None

    @property
    def change_mm(self) -> float | None:
        if self.now_mm is None or self.then_mm is None:
            return None
        return round(self.now_mm - self.then_mm, 1)

    @property
    def change_share(self) -> float | None:
        if self.now_mm is None or not self.then_mm:
            return None
        return round((self.now_mm - self.then_mm) / self.then_mm, 3)

    def to_dict(self) -> dict[str, Any]:
        return {"finding_id": self.finding_id, "earlier_id": self.earlier_id, "kind": self.kind, "side": self.side,
                "lobe": self.lobe, "now_mm": self.now_mm, "then_mm": self.then_mm, "change_mm": self.change_mm,
                "change_share": self.change_share, "status": self.status, "doubling_days": self.doubling_days,
                "earlier_kind": self.earlier_kind,
                "doubling_days_range": list(self.doubling_range) if self.doubling_range is not None else None,
                "earlier_bbox_px": list(self.earlier_bbox_px) if self.earlier_bbox_px is not None else None,
                "zone": self.zone, "earlier_uncertain": self.earlier_uncertain,
                "earlier_bbox_here_px": list(self.earlier_bbox_here_px) if self.earlier_bbox_here_px is not None else None}


@dataclass(frozen=True)
class IntervalComparison:
    """The two films compared. ``interval_days``: None when a date is unknown (no doubling time then);
    ``sizes_from_file``: both films' pixel spacing from their files (else sizes are relative to each thorax)."""

    comparable: bool
    reason: Reason
    interval_days: int | None
    sizes_from_file: bool
    changes: tuple[FindingChange, ...] = ()
    coarse: bool = False  # either film's pixels too coarse for the lesion reader: sizes from the lesion map
    identity_checked: bool = True  # both files named a patient, and the same one (else the caller's word)
    names_differ: bool = False  # both files name the patient, with no word of the name in common (said, not refused)

    def change_of(self, finding_id: str) -> FindingChange | None:
        return next((c for c in self.changes if c.finding_id == finding_id), None)

    def not_seen_now(self) -> tuple[FindingChange, ...]:
        return tuple(c for c in self.changes if c.status == "not_seen_now")

    def to_dict(self) -> dict[str, Any]:
        return {"comparable": self.comparable, "reason": self.reason or None, "interval_days": self.interval_days,
                "sizes_from_file": self.sizes_from_file, "coarse": self.coarse, "identity_checked": self.identity_checked,
                "names_differ": self.names_differ,
                "changes": [c.to_dict() for c in self.changes]}


def size_mm(f: Finding) -> float:
    """The size compared: a round lesion's diameter, any other finding's longest axis."""
    return round(float(f.diameter_mm if f.kind in ROUND_KINDS else max(f.longest_mm, f.diameter_mm)), 1)


def _family(kind: str) -> str:
    return "round" if kind in ROUND_KINDS else kind


def _lung_box(facts: ImageFacts, side: str) -> tuple[float, float, float, float] | None:
    box = next((r.bbox_px for r in facts.anatomy.regions if r.name == f"lung_{side}"), None)
    return None if box is None or box[2] - box[0] < 1 or box[3] - box[1] < 1 else box


def _place(facts: ImageFacts, f: Finding) -> tuple[float, float] | None:
    """The finding's centre as shares (across, down) of its side's lung field box; None without that field."""
    box = _lung_box(facts, f.side)
    if box is None:
        return None
    x, y = f.center_px
    return (x - box[0]) / (box[2] - box[0]), (y - box[1]) / (box[3] - box[1])


def _where_on(current: ImageFacts, f: Finding, earlier: ImageFacts) -> tuple[float, float, float, float] | None:
    """Where a finding of this film lies on the earlier film, carried over by its place in the lung field (for a finding
    the earlier film's reading did not find: where the reader should look on it); the other way round, where a finding
    of the earlier film lay, on this film."""
    p, now, then = _place(current, f), _lung_box(current, f.side), _lung_box(earlier, f.side)
    if p is None or now is None or then is None:
        return None
    sx, sy = (then[2] - then[0]) / (now[2] - now[0]), (then[3] - then[1]) / (now[3] - now[1])
    cx, cy = then[0] + p[0] * (then[2] - then[0]), then[1] + p[1] * (then[3] - then[1])
    hw, hh = (f.bbox_px[2] - f.bbox_px[0]) / 2 * sx, (f.bbox_px[3] - f.bbox_px[1]) / 2 * sy
    return round(cx - hw, 1), round(cy - hh, 1), round(cx + hw, 1), round(cy + hh, 1)


def doubling_days(days: int | None, now_mm: float, then_mm: float) -> float | None:
    """A growing sphere's volume doubling time; None without an interval or growth."""
    if days is None or days < MIN_INTERVAL_DAYS or now_mm <= then_mm or then_mm <= 0:
        return None
    return round(days * math.log(2) / (3 * math.log(now_mm / then_mm)))


def doubling_range(days: int | None, now_mm: float, then_mm: float) -> tuple[float, float | None] | None:
    """The doubling time were either diameter ``SIZE_ERROR`` off, each way: (fastest, slowest); slowest None when
    the sizes so read would show no growth at all."""
    fast = doubling_days(days, now_mm * (1 + SIZE_ERROR), then_mm * (1 - SIZE_ERROR))
    if fast is None:
        return None
    return fast, doubling_days(days, now_mm * (1 - SIZE_ERROR), then_mm * (1 + SIZE_ERROR))


def _status(now: float, then: float) -> Status:
    """A change is called only past ``CHANGE_MM`` and ``CHANGE_SHARE``, and only where it survives either diameter
    being ``SIZE_ERROR`` off the other way (the error the doubling time's range allows for), so that a change is never
    called while its own range says there may be none."""
    diff = now - then
    big = abs(diff) >= CHANGE_MM and abs(diff) >= CHANGE_SHARE * then
    if big and diff > 0 and now * (1 - SIZE_ERROR) > then * (1 + SIZE_ERROR):
        return "larger"
    if big and diff < 0 and now * (1 + SIZE_ERROR) < then * (1 - SIZE_ERROR):
        return "smaller"
    return "no_measurable_change"


def _pairs(current: ImageFacts, earlier: ImageFacts) -> dict[int, int]:
    """This film's finding index -> the earlier film's it pairs with (closest first, each in one pair at most)."""
    pairs: list[tuple[float, int, int]] = []
    for i, f in enumerate(current.findings):
        p = _place(current, f)
        for j, g in enumerate(earlier.findings):
            q = _place(earlier, g)
            if p is None or q is None or f.side != g.side or (f.kind == "effusion") != (g.kind == "effusion"):
                continue
            d = math.hypot(p[0] - q[0], p[1] - q[1])
            if d <= MATCH_DISTANCE:
                pairs.append((d + (0.0 if _family(f.kind) == _family(g.kind) else FAMILY_PENALTY), i, j))
    now_of: dict[int, int] = {}
    for _, i, j in sorted(pairs):
        if i not in now_of and j not in now_of.values():
            now_of[i] = j
    return now_of


def compare_films(current: ImageFacts, earlier: ImageFacts, interval_days: int | None, *, coarse: bool = False,
                  identity_checked: bool = True, names_differ: bool = False) -> IntervalComparison:
    """Pair ``current``'s findings with ``earlier``'s and say what changed (module docstring). ``coarse``: either
    film's pixels too coarse for the lesion reader; ``identity_checked``: both files named the same patient."""
    from_file = current.spacing.source == "dicom" and earlier.spacing.source == "dicom"
    if not current.film_check.localisable:
        return IntervalComparison(False, "current_unreadable", interval_days, from_file, (), coarse, identity_checked,
                                  names_differ)
    if not earlier.film_check.localisable:
        return IntervalComparison(False, "earlier_unreadable", interval_days, from_file, (), coarse, identity_checked,
                                  names_differ)
    now_of = _pairs(current, earlier)
    changes: list[FindingChange] = []
    for i, f in enumerate(current.findings):
        now = size_mm(f)
        if i not in now_of:
            changes.append(FindingChange(f.id, None, stated_kind(f), f.side, f.lobe, now, None, "new",
                                         earlier_bbox_px=_where_on(current, f, earlier)))
            continue
        g = earlier.findings[now_of[i]]
        then = size_mm(g)
        both_round = f.kind in ROUND_KINDS and g.kind in ROUND_KINDS
        status = _status(now, then) if both_round else "seen_on_both"
        vdt = doubling_days(interval_days, now, then) if status == "larger" and not coarse else None
        spread = doubling_range(interval_days, now, then) if vdt is not None else None
        said_now, said_then = stated_kind(f), stated_kind(g)  # each named as its own film's answers name it
        changes.append(FindingChange(f.id, g.id, said_now, f.side, f.lobe, now, then, status, vdt,
                                     said_then if said_then != said_now else None, spread, _box(g),
                                     earlier_uncertain=not is_confident(g.confidence),
                                     earlier_bbox_here_px=_where_on(earlier, g, current)))
    taken = set(now_of.values())
    for j, g in enumerate(earlier.findings):
        if j not in taken:
            changes.append(FindingChange(None, g.id, stated_kind(g), g.side, g.lobe, None, size_mm(g), "not_seen_now",
                                         earlier_bbox_px=_box(g), zone=g.zone,
                                         earlier_bbox_here_px=_where_on(earlier, g, current)))
    return IntervalComparison(True, "", interval_days, from_file, tuple(changes), coarse, identity_checked, names_differ)


def _box(f: Finding) -> tuple[float, float, float, float]:
    return (round(float(f.bbox_px[0]), 1), round(float(f.bbox_px[1]), 1), round(float(f.bbox_px[2]), 1),
            round(float(f.bbox_px[3]), 1))


def _range(v: list[float | None] | None) -> tuple[float, float | None] | None:
    return (float(v[0]), None if v[1] is None else float(v[1])) if v else None  # type: ignore[arg-type]


def comparison_from_dict(d: dict[str, Any] | None) -> IntervalComparison | None:
    """``IntervalComparison.to_dict`` read back (None: no earlier film)."""
    if not d:
        return None
    changes = tuple(
        FindingChange(c.get("finding_id"), c.get("earlier_id"), str(c["kind"]), str(c["side"]), str(c["lobe"]),
                      c.get("now_mm"), c.get("then_mm"), c["status"], c.get("doubling_days"), c.get("earlier_kind"),
                      _range(c.get("doubling_days_range")),
                      tuple(float(v) for v in c["earlier_bbox_px"]) if c.get("earlier_bbox_px") else None,  # type: ignore[arg-type]
                      str(c.get("zone") or ""), bool(c.get("earlier_uncertain")),
                      tuple(float(v) for v in c["earlier_bbox_here_px"]) if c.get("earlier_bbox_here_px") else None)  # type: ignore[arg-type]
        for c in d.get("changes") or ())
    days = d.get("interval_days")
    return IntervalComparison(bool(d["comparable"]), d.get("reason") or "", int(days) if days is not None else None,
                              bool(d.get("sizes_from_file")), changes, bool(d.get("coarse")),
                              bool(d.get("identity_checked", True)), bool(d.get("names_differ")))
