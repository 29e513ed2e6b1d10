"""Findings refined by the lesion reader's readings (orchestrator/findings/lesion_reading.py), and
what the dialogue then says about a margin read at full resolution."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from orchestrator.contracts.lesion_reader import Frame, LesionReading
from orchestrator.dialogue.checklists import smooth_unbacked
from orchestrator.dialogue.composer import confident, margin_text
from orchestrator.facts import Density, Finding, ImageFacts, PixelSpacing
from orchestrator.findings.lesion_reading import (
    READ_KINDS,
    READER_SIZE_P,
    reader_applies,
    refine,
    refine_facts,
    to_read,
)

MARGIN_RULE = {"fact": "margin", "op": "in", "value": ["lobulated", "spiculated"]}


def _finding(kind: str = "nodule", margin: str = "smooth") -> Finding:
    return Finding(
        id="F1", kind=kind, shape="round", center_px=(200.0, 150.0), bbox_px=(190.0, 140.0, 210.0, 160.0),
        polygon_px=(), area_mm2=113.1, diameter_mm=12.0, longest_mm=12.0, shortest_mm=12.0, orientation_deg=0.0,
        side="right", lobe="RLL", zone="lower", band="outer", margin=margin, notches=(), spicules=(),
        density=Density("homogeneous", 0.2, False, False, False, "no"), pleural_contact=False,
        distance_to_pleura_mm=10.0, distance_to_diaphragm_mm=30.0, hilum=None, confidence=0.9,
        attribute_confidence={"presence": 0.9, "margin": 0.5},
    )


def _reading(margin: str, p: dict[str, float], spicules: list[int] = (), notches: list[int] = ()) -> LesionReading:
    spicules, notches = list(spicules), list(notches)
    return LesionReading(margin=margin, margin_probs=p, notches_clock=notches, notch_probs=[0.0] * 12,
                         spicules=len(spicules), spicule_clock=spicules, spicule_probs=[0.0] * 12,
                         spicule_length_mm=[4.0] * len(spicules), spicule_count_raw=float(len(spicules)),
                         calcified=False, p_calcified=0.1, cavitation=False, p_cavity=0.1, diameter_mm=12.0,
                         mask=np.zeros((128, 128), np.float32))


def test_a_confident_smooth_reading_is_backed_and_stated() -> None:
    f = refine(_finding(), _reading("smooth", {"smooth": 0.93, "lobulated": 0.05, "spiculated": 0.02}), 0.6)
    assert (f.margin, f.margin_source) == ("smooth", "reader")
    assert f.attribute_confidence["margin"] == pytest.approx(0.93) and f.attribute_confidence["presence"] == 0.9
    assert not smooth_unbacked(MARGIN_RULE, f)  # the checklist may now say "no"
    assert "smooth at the film's full resolution" in margin_text(_anchor(), f, "en")
    assert "原片分辨率下边缘光滑" in margin_text(_anchor(), f, "zh")


def test_an_unsure_smooth_reading_stays_hedged() -> None:
    f = refine(_finding(), _reading("smooth", {"smooth": 0.55, "lobulated": 0.3, "spiculated": 0.15}), 0.6)
    assert f.margin_source == "reader" and smooth_unbacked(MARGIN_RULE, f)
    assert "no irregularity seen at this resolution" in margin_text(_anchor(), f, "en")
    # a smooth read off the lesion map is never backed, whatever its number
    assert smooth_unbacked(MARGIN_RULE, replace(_finding(), attribute_confidence={"margin": 0.99}))


def test_spicules_and_notches_land_at_their_clock_hours() -> None:
    mm = 0.6
    f = refine(_finding(), _reading("spiculated", {"smooth": 0.1, "lobulated": 0.2, "spiculated": 0.7}, [3, 12]), mm,
               state_spicules=True)
    assert f.margin == "spiculated" and [s.clock for s in f.spicules] == [3, 12]
    three, twelve = f.spicules
    r = 6.0 / mm  # the 12 mm finding's radius in working pixels
    assert three.base_px == pytest.approx((200.0 + r, 150.0)) and three.tip_px[0] > three.base_px[0]
    assert twelve.base_px == pytest.approx((200.0, 150.0 - r)) and twelve.tip_px[1] < twelve.base_px[1]
    assert f.attribute_confidence["margin"] == pytest.approx(0.81)  # P(irregular) 0.9, held to the presence 0.9
    lob = refine(_finding(), _reading("lobulated", {"smooth": 0.2, "lobulated": 0.7, "spiculated": 0.1},
                                      notches=[9]), mm)
    assert [n.clock for n in lob.notches] == [9] and lob.notches[0].point_px[0] < 200.0


def test_an_irregular_reading_is_held_to_the_findings_presence() -> None:
    """An irregular margin is a claim about a lesion: on a finding that may be none (a film read alone: presence 0.62)
    the reader's sure call is not stated flatly; a smooth call is not held (it claims nothing of a lesion)."""
    unsure = replace(_finding(), confidence=0.62)
    f = refine(unsure, _reading("lobulated", {"smooth": 0.02, "lobulated": 0.9, "spiculated": 0.08}, notches=[9]), 0.6)
    assert f.margin == "lobulated" and f.attribute_confidence["margin"] == pytest.approx(0.98 * 0.62, abs=1e-3)
    assert not confident(f, "margin")
    smooth = refine(unsure, _reading("smooth", {"smooth": 0.93, "lobulated": 0.05, "spiculated": 0.02}), 0.6)
    assert smooth.attribute_confidence["margin"] == pytest.approx(0.93)


def test_by_default_a_spiculated_reading_names_no_spicule() -> None:
    """The spicule heads are at chance on held-out crops (``Settings.lesion_reader_states_spicules``): the
    class and its probability are stated, no count, length or hour, and nothing is drawn for them."""
    reading = _reading("spiculated", {"smooth": 0.1, "lobulated": 0.2, "spiculated": 0.7}, [3, 12])
    f = refine(_finding(), reading, 0.6)
    assert f.margin == "spiculated" and f.spicules == ()
    assert f.attribute_confidence["margin"] == pytest.approx(0.81) and confident(f, "margin")  # 0.9 x presence 0.9
    for lang, word in (("en", "spicule"), ("zh", "毛刺,长")):
        assert word not in margin_text(_anchor(), f, lang)
    assert "spicule" in margin_text(_anchor(), refine(_finding(), reading, 0.6, state_spicules=True), "en")
    facts = ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.6, 0.6, "dicom"), anatomy=None,
                       findings=(_finding(),), checked=())
    assert refine_facts(facts, [0], [reading]).findings[0].spicules == ()
    assert len(refine_facts(facts, [0], [reading], state_spicules=True).findings[0].spicules) == 2


def test_spiculated_without_a_spicule_hour_is_not_stated_spiculated() -> None:
    f = refine(_finding(), _reading("spiculated", {"smooth": 0.2, "lobulated": 0.35, "spiculated": 0.45}), 0.6)
    assert f.margin == "lobulated" and not f.spicules


def test_which_films_and_findings_are_read() -> None:
    assert reader_applies((0.15, 0.15), 0.3) and not reader_applies((0.32, 0.32), 0.3)
    assert not reader_applies(None, 0.3)  # no known spacing: a crop in mm cannot be cut
    findings = (_finding("nodule"), _finding("strand"), _finding("mass"), _finding("effusion"))
    facts = ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.6, 0.6, "dicom"), anatomy=None,
                       findings=findings, checked=())
    assert to_read(facts) == [0, 2] and {"nodule", "mass"} <= set(READ_KINDS)
    with pytest.raises(ValueError):
        refine_facts(facts, [0, 2], [])
    out = refine_facts(facts, [2], [_reading("lobulated", {"smooth": 0.1, "lobulated": 0.8, "spiculated": 0.1})])
    assert [f.margin_source for f in out.findings] == ["lesion_map", "lesion_map", "reader", "lesion_map"]


def _anchor():  # noqa: ANN202 - the composer reads only the id
    class _A:
        id = "A1"
    return _A()


def test_each_candidate_gets_a_disc_of_its_own_size_never_its_outline() -> None:
    from orchestrator.contracts.lesion_reader import CROP_MM_PER_PX, Frame, cut_crops
    from orchestrator.findings.lesion_reading import candidate_masks

    notched = ((190.0, 140.0), (210.0, 140.0), (200.0, 150.0), (210.0, 160.0), (190.0, 160.0))
    a = replace(_finding(), center_px=(200.0, 150.0), diameter_mm=12.0, polygon_px=notched)
    b = replace(_finding(), center_px=(216.0, 148.0), diameter_mm=4.0)
    facts = ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.6, 0.6, "dicom"), anatomy=None,
                       findings=(a, b), checked=())
    ma, mb = candidate_masks(facts, [0, 1])
    mm = math.sqrt(facts.spacing.row_mm * facts.spacing.col_mm)
    # a's notched outline (its notch reaches the centre) leaves no trace; b's small disc stays off a
    assert ma[75, 102] == 1.0 and ma[74, 100] == 1.0 and mb[75, 100] == 0.0
    area_a = float(ma.sum()) * (2 * mm) ** 2
    assert abs(area_a - math.pi * 36.0) / (math.pi * 36.0) < 0.1
    film = np.random.default_rng(0).random((1024, 1024)).astype(np.float32)
    frame = Frame((1024, 1024), (512, 512), 2.0, (0.0, 0.0))
    spacing = (mm / 2.0, mm / 2.0)
    crops = cut_crops(film, spacing, [a.center_px, b.center_px], [ma, mb], frame)
    assert crops.shape == (2, 2, 256, 256)
    assert crops[0, 1, 128, 128] > 0.9 and crops[1, 1, 128, 128] > 0.9
    # each crop's disc is its candidate's size (area in mm² at the crop's 0.25 mm)
    for crop, d in ((crops[0], 12.0), (crops[1], 4.0)):
        area = float(crop[1].sum()) * CROP_MM_PER_PX**2
        assert abs(area - math.pi * d * d / 4) / (math.pi * d * d / 4) < 0.15
    with pytest.raises(Exception, match="one coarse mask per candidate"):
        cut_crops(film, (0.2, 0.2), [a.center_px, b.center_px], [ma], frame)


def test_a_smooth_reading_changes_a_finding_only_when_the_reader_backs_smooth() -> None:
    """Off by default (``Settings.lesion_reader_backs_smooth``): the phantom's spicules are below the
    detector's noise, so the reader's "smooth" leaves the lesion map's hedged reading; an irregular
    reading is applied either way."""
    lobulated_map = replace(_finding(margin="lobulated"), attribute_confidence={"presence": 0.9, "margin": 0.6})
    facts = ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.6, 0.6, "dicom"), anatomy=None,
                       findings=(lobulated_map, _finding()), checked=())
    smooth = _reading("smooth", {"smooth": 0.95, "lobulated": 0.04, "spiculated": 0.01})
    spiculated = _reading("spiculated", {"smooth": 0.05, "lobulated": 0.15, "spiculated": 0.8}, [2, 7])
    out = refine_facts(facts, [0, 1], [smooth, spiculated])
    assert out.findings[0] == lobulated_map  # untouched: the lesion map's margin and its hedging
    assert (out.findings[1].margin, out.findings[1].margin_source) == ("spiculated", "reader")
    backed = refine_facts(facts, [0, 1], [smooth, spiculated], back_smooth=True)
    assert (backed.findings[0].margin, backed.findings[0].margin_source) == ("smooth", "reader")
    assert not smooth_unbacked(MARGIN_RULE, backed.findings[0])  # a backed smooth read decides the item


# the crops' original spacing and frame: a 2048² film at 0.15 mm, resampled 4:1 to the 512² working film at 0.6 mm
SIZES_FROM = ((0.15, 0.15), Frame((2048, 2048), (512, 512), 4.0, (0.0, 0.0)))


def _disc_mask(diameter_mm: float, offset_mm: tuple[float, float] = (0.0, 0.0), stretch: float = 1.0) -> np.ndarray:
    """The reader's fine mask (0.5 mm pixels): an ellipse of ``diameter_mm`` across (``stretch`` times that
    along x), centred ``offset_mm`` from the crop's centre."""
    yy, xx = np.mgrid[:128, :128].astype(np.float64)
    x, y = (xx - 63.5) * 0.5 - offset_mm[0], (yy - 63.5) * 0.5 - offset_mm[1]
    r = diameter_mm / 2.0
    return (((x / (r * stretch)) ** 2 + (y / r) ** 2) <= 1.0).astype(np.float32)


def test_with_sizes_a_finding_takes_the_size_and_outline_of_the_readers_mask() -> None:
    """``Settings.lesion_reader_sizes``: the 0.5 mm mask measured as the findings layer measures regions,
    the outline drawn where the mask lies, the centre (and so every anchor and distance) unmoved."""
    facts = ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.6, 0.6, "dicom"), anatomy=None,
                       findings=(_finding(),), checked=())
    reading = replace(_reading("smooth", {"smooth": 0.5, "lobulated": 0.3, "spiculated": 0.2}), mask=_disc_mask(16.0))
    assert refine_facts(facts, [0], [reading]).findings[0] == facts.findings[0]  # off: the lesion map's size
    f = refine_facts(facts, [0], [reading], sizes_from=SIZES_FROM).findings[0]
    assert f.diameter_mm == pytest.approx(16.0, abs=0.4) and f.longest_mm == pytest.approx(16.0, abs=1.0)
    assert f.area_mm2 == pytest.approx(math.pi * 64.0, rel=0.05)
    assert f.center_px == (200.0, 150.0) and f.kind == "nodule" and f.margin == "smooth"  # the smooth rule holds
    xs = [x for x, _ in f.polygon_px]
    assert (max(xs) - min(xs)) * 0.6 == pytest.approx(16.0, abs=1.5)  # drawn at the working spacing
    assert f.bbox_px[0] == pytest.approx(200.0 - 8.0 / 0.6, abs=1.5)
    assert f.attribute_confidence["size"] == READER_SIZE_P  # the reader's validation rate, not the lesion map's
    small = replace(reading, mask=_disc_mask(6.0))
    assert refine_facts(facts, [0], [small], sizes_from=SIZES_FROM).findings[0].attribute_confidence == facts.findings[0].attribute_confidence


def test_a_reader_mask_of_30_mm_makes_a_nodule_a_mass_and_one_off_centre_is_not_the_findings() -> None:
    facts = ImageFacts(image_size=(512, 512), spacing=PixelSpacing(0.6, 0.6, "dicom"), anatomy=None,
                       findings=(_finding(), _finding(kind="calcified_nodule")), checked=())
    probs = {"smooth": 0.5, "lobulated": 0.3, "spiculated": 0.2}
    big = replace(_reading("smooth", probs), mask=_disc_mask(32.0))
    aside = replace(_reading("smooth", probs), mask=_disc_mask(6.0, offset_mm=(15.0, 0.0)))  # 12 mm from the centre
    out = refine_facts(facts, [0, 1], [big, aside], sizes_from=SIZES_FROM)
    assert (out.findings[0].kind, out.findings[0].diameter_mm >= 30.0) == ("mass", True)
    assert out.findings[1] == facts.findings[1]  # nothing of the reader's there: the lesion map's size stays
    empty = replace(_reading("smooth", probs), mask=np.zeros((128, 128), np.float32))
    assert refine_facts(facts, [1], [empty], sizes_from=SIZES_FROM).findings[1] == facts.findings[1]
