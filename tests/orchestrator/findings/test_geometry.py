"""orchestrator/findings/geometry.py's mask operations."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orchestrator.findings.geometry import (
    CP_BLUNT_DEG,
    CP_MIN_DEG,
    CP_REACH_MM,
    Lung,
    _cp_point,
    cp_state,
    dilate,
    erode,
)


def test_opencv_erode_and_dilate_are_scipys_binary_morphology() -> None:
    """The fast masks ops (geometry.erode / dilate) give scipy.ndimage's answers, borders included."""
    rng = np.random.default_rng(1)
    for _ in range(30):
        m = rng.random((64, 80)) < rng.uniform(0.2, 0.9)
        m[0, :] = True  # a full edge row: the outside of the image counts as False for both
        assert (erode(m) == ndimage.binary_erosion(m)).all()
        for k in (1, 2, 8):
            assert (dilate(m, k) == ndimage.binary_dilation(m, iterations=k)).all()


def _left_lung_over_a_recess(stop_row: int) -> tuple[Lung, dict[int, int]]:
    """A left lung field (image right, lateral wall at column 300) over a floor that is flat medially and
    dips at 45 degrees into a lateral recess whose tip is at row 300, column 300; the field follows the
    floor but ends at ``stop_row`` (as a field drawn to the dome ends short of the recess's tip)."""
    size = 400
    top = {c: 260 + max(0, c - 260) for c in range(150, 301)}
    ys, xs = np.mgrid[:size, :size]
    floor = np.array([top.get(c, 0) for c in range(size)])
    mask = (ys >= 100) & (xs >= 150) & (xs <= 300) & (ys < floor[None, :]) & (ys < stop_row)
    return Lung("left", mask, 100, int(np.nonzero(mask.any(axis=1))[0].max())), top


def test_the_recess_is_found_when_the_field_stops_just_short_of_its_tip() -> None:
    """A field drawn to the dome (visible-field weights) can end a few pixels above the recess's tip; the
    costophrenic point is still the tip, not a point further up the floor towards its flat part (where
    the angle opens and a sharp recess reads as blunt)."""
    reach = round(CP_REACH_MM / 0.7)  # 6 px
    lung, top = _left_lung_over_a_recess(stop_row=296)  # 4 px short of the tip
    assert _cp_point(lung, top, reach) == (300, 300)
    assert _cp_point(lung, top, 0) == (296, 296)  # the row just above the floor alone slides up the slope
    lung, top = _left_lung_over_a_recess(stop_row=290)  # 10 px short: the reach goes 6 px down, not to the tip
    assert _cp_point(lung, top, reach) == (296, 296) and _cp_point(lung, top, 0) == (290, 290)
    lung, top = _left_lung_over_a_recess(stop_row=400)  # a field that runs on to the floor: unchanged
    assert _cp_point(lung, top, reach) == _cp_point(lung, top, 0) == (300, 300)


def test_fields_that_stop_at_the_dome_take_the_recess_from_their_lobes() -> None:
    """Visible-field weights (``encoder/visible_lungs.py``) stop each lung field at the dome and draw the lobes
    whole: the costophrenic angle is read on the field joined with its lobes, so it is the angle the whole
    projected lung gives, where a field alone whose narrow recess tip the network rounds off (as its maps do,
    drawn at a quarter of the working resolution) reads a sharp angle as wider. The phantom's own truth maps
    stand in for the encoder's, the field's tip rounded off by an opening (the layer after it is tested)."""
    from dataclasses import replace

    import cv2

    from encoder.phantom import generate_case, scenario_spec
    from evaluation.scoring import truth_maps
    from orchestrator.contracts.encoder import ANATOMY_CLASSES
    from orchestrator.facts import PixelSpacing
    from orchestrator.findings.geometry import build_geometry, costophrenic
    from orchestrator.settings import Settings

    case = generate_case(61, scenario_spec(), cache_dir=Settings().cache_dir)
    whole = truth_maps(case)
    names = list(ANATOMY_CLASSES)
    anatomy = whole.anatomy.copy()
    below = anatomy[names.index("diaphragm")] >= 0.5
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21))
    for lung in ("lung_right", "lung_left"):
        field = ((anatomy[names.index(lung)] >= 0.5) & ~below).astype(np.uint8)
        anatomy[names.index(lung)] = cv2.morphologyEx(field, cv2.MORPH_OPEN, disc).astype(np.float32)
    visible = replace(whole, anatomy=anatomy)
    spacing = PixelSpacing(0.7, 0.7, "dicom")
    g_whole, g_visible = build_geometry(whole, spacing), build_geometry(visible, spacing)
    for side in ("right", "left"):
        a_whole, a_visible = costophrenic(g_whole, side), costophrenic(g_visible, side)
        assert a_whole.state == a_visible.state == "sharp"
        assert abs(a_whole.angle_deg - a_visible.angle_deg) < 3.0
    field_alone = replace(g_visible, lungs=g_visible.lungs)
    field_alone.__dict__["recess_lungs"] = g_visible.lungs  # what the angle read before: the field alone
    assert costophrenic(field_alone, "left").angle_deg > costophrenic(g_visible, "left").angle_deg + 10.0


def test_a_stray_patch_of_the_diaphragm_map_is_no_diaphragm() -> None:
    """The second reader drew a patch of "diaphragm" over a real child's right axilla, detached from the band below the
    lungs: as the diaphragm it set the floor of the costophrenic recess at the shoulder (angles of 3° and 152° on a
    normal film, the left one called blunted) and put an upper-zone finding "1.6 mm above the diaphragm". A part under
    a fifth of the largest is dropped; the band below the lungs is kept whole. The phantom's truth maps stand in."""
    from dataclasses import replace

    from encoder.phantom import generate_case, scenario_spec
    from evaluation.scoring import truth_maps
    from orchestrator.contracts.encoder import ANATOMY_CLASSES
    from orchestrator.facts import PixelSpacing
    from orchestrator.findings.geometry import build_geometry, costophrenic, diaphragm_dome
    from orchestrator.findings.relations import distance_to_mask_mm
    from orchestrator.settings import Settings

    case = generate_case(61, scenario_spec(), cache_dir=Settings().cache_dir)
    maps = truth_maps(case)
    k = list(ANATOMY_CLASSES).index("diaphragm")
    spacing = PixelSpacing(0.7, 0.7, "dicom")
    clean = build_geometry(maps, spacing)
    lung = clean.lung("right").mask
    ys, xs = np.nonzero(lung)
    top, lateral = int(ys.min()), int(xs.min())  # the right lung's apex row and lateral wall (image left)
    anatomy = maps.anatomy.copy()
    anatomy[k, top + 40:top + 90, max(lateral - 12, 0):lateral + 14] = 1.0  # a patch over the lateral upper zone
    stray = build_geometry(replace(maps, anatomy=anatomy), spacing)
    assert stray.maps.mask("diaphragm").sum() > clean.mask("diaphragm").sum()  # the raw map holds the patch
    assert (stray.mask("diaphragm") == clean.mask("diaphragm")).all()  # the geometry's diaphragm does not
    for side in ("right", "left"):
        assert costophrenic(stray, side) == costophrenic(clean, side)
        assert diaphragm_dome(stray, side) == diaphragm_dome(clean, side)
    finding = np.zeros_like(lung)
    finding[top + 60:top + 70, lateral + 16:lateral + 26] = True  # beside the patch, in the upper zone
    assert distance_to_mask_mm(finding, stray.mask("diaphragm"), spacing) > 100.0
    assert distance_to_mask_mm(finding, stray.maps.mask("diaphragm"), spacing) < 5.0


def test_an_angle_whose_arms_nearly_coincide_is_not_assessable() -> None:
    """The real checking films' angles lie at 10-79 degrees; arms a few degrees apart measure no recess (a stray patch
    of diaphragm once gave 3 degrees, read as sharp), so such an angle is not assessable, not sharp."""
    assert cp_state(CP_MIN_DEG - 0.1) == cp_state(3.0) == cp_state(0.0) == "not_assessable"
    assert cp_state(CP_MIN_DEG) == cp_state(10.0) == cp_state(CP_BLUNT_DEG) == "sharp"
    assert cp_state(CP_BLUNT_DEG + 0.1) == cp_state(150.0) == "blunted"


def test_fluid_blunts_an_angle_measured_too_narrow_but_not_one_never_measured() -> None:
    """An effusion-like opacity on the side blunts a sharp angle, and one measured too narrow to assess (its outline
    says nothing, the fluid does), as it did before such angles were not assessable; an angle never measured stays
    not assessable."""
    from orchestrator.facts import CostophrenicAngle
    from orchestrator.findings.analyse import _with_fluid

    narrow = CostophrenicAngle("left", (430.0, 425.0), 3.0, "not_assessable")
    never = CostophrenicAngle("left", (0.0, 0.0), 0.0, "not_assessable")
    sharp = CostophrenicAngle("left", (430.0, 425.0), 40.0, "sharp")
    assert _with_fluid(narrow, True).state == _with_fluid(sharp, True).state == "blunted"
    assert _with_fluid(never, True).state == "not_assessable"
    assert _with_fluid(narrow, False) == narrow and _with_fluid(sharp, False) == sharp


def test_which_part_of_the_pleura_a_finding_lies_against() -> None:
    """``Finding.pleura_part``: the part of the lung field's border its pleural distance is measured to. On the
    synthetic chest the right field's outer edge is at x 65, its inner edge at x 255 and its floor at y 399 (row 250):
    a nodule against each is told apart, on both sides of the film."""
    from evaluation.synthetic import disc_mask, synthetic_maps
    from orchestrator.facts import PixelSpacing
    from orchestrator.findings import analyse

    spacing = PixelSpacing(0.7, 0.7, "dicom")
    for centre, part in (((78, 250), "chest_wall"), ((242, 300), "mediastinum"), ((160, 388), "diaphragm"),
                         ((440, 250), "chest_wall"), ((272, 260), "mediastinum")):
        facts = analyse(synthetic_maps([disc_mask((512, 512), centre, 10)]), spacing)
        assert len(facts.findings) == 1, centre
        assert facts.findings[0].pleura_part == part, centre
