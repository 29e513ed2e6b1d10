"""A dome on the floor of its lung field, or no dome (``orchestrator.findings.dome_floor``): on a film read alone a dome
its field runs on below is not given; the main weights' fields run on behind the dome and keep theirs."""

from __future__ import annotations

import dataclasses

from evaluation.synthetic import synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import class_index
from orchestrator.facts import PixelSpacing
from orchestrator.findings import analyse
from orchestrator.findings.dome_floor import DOME_UNPLACED, FLOOR_BELOW_MAX, floor_below
from orchestrator.findings.geometry import build_geometry, diaphragm_dome

SPACING = PixelSpacing(0.7, 0.7, "dicom")


def with_diaphragm_rising_into_the_right_lung() -> AnatomyMaps:
    """The synthetic chest with its diaphragm map rising in a strip up into the right lung field beside the heart (as
    the alone reader's did on another patient's CT), joined to the band below the lungs."""
    base = synthetic_maps()
    anatomy = base.anatomy.copy()
    anatomy[class_index("diaphragm"), 250:400, 200:215] = 1.0
    return dataclasses.replace(base, anatomy=anatomy)


def test_a_dome_on_its_fields_floor_is_given_either_way() -> None:
    maps = synthetic_maps()
    geom = build_geometry(maps, SPACING)
    for side in ("right", "left"):
        assert floor_below(geom.lung(side), diaphragm_dome(geom, side)) <= 0.02  # type: ignore[arg-type]
    for read_alone in (False, True):
        facts = analyse(maps, SPACING, read_alone=read_alone)
        assert set(facts.anatomy.diaphragm_dome_px) == {"right", "left"}
        assert DOME_UNPLACED not in facts.film_check.warnings


def test_a_dome_inside_its_field_is_not_given_on_a_film_read_alone() -> None:
    maps = with_diaphragm_rising_into_the_right_lung()
    geom = build_geometry(maps, SPACING)
    dome = diaphragm_dome(geom, "right")
    assert dome is not None and dome[1] < 300 and floor_below(geom.lung("right"), dome) > FLOOR_BELOW_MAX
    alone = analyse(maps, SPACING, read_alone=True)
    assert alone.film_check.localisable and DOME_UNPLACED in alone.film_check.warnings
    assert set(alone.anatomy.diaphragm_dome_px) == {"left"}  # the other stays
    assert not any(r.name == "diaphragm_dome_right" for r in alone.anatomy.regions)
    main = analyse(maps, SPACING)  # the main weights' fields run on behind the dome: theirs is kept
    assert DOME_UNPLACED not in main.film_check.warnings and "right" in main.anatomy.diaphragm_dome_px
