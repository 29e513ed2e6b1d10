"""The two hila against each other (``orchestrator.findings.hila_levels``): a pair that lies as no chest's does is not
given, and the film is still read."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from evaluation.synthetic import disc_mask, synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import PixelSpacing
from orchestrator.findings import analyse
from orchestrator.findings.geometry import build_geometry
from orchestrator.findings.hila_levels import HILA_LEVEL_RANGE, HILA_UNPLACED, hila_level
from orchestrator.findings.plausibility import plausibility

SPACING = PixelSpacing(0.7, 0.7, "dicom")


def with_left_hilum_raised(share: float) -> AnatomyMaps:
    """Synthetic maps with a nodule in the right lung and the left hilum point moved up by ``share`` of the lung
    fields' mean height (down where negative), staying inside its lung's medial part."""
    base = synthetic_maps([disc_mask((512, 512), (140, 250), 9)])
    geom = build_geometry(base, SPACING)
    height = sum(geom.lung(s).bottom - geom.lung(s).top for s in ("right", "left")) / 2.0
    hila = dict(base.hilum_px or {})
    x, _ = hila["left"]
    hila["left"] = (x, hila["right"][1] - share * height)
    return dataclasses.replace(base, hilum_px=hila)


@pytest.mark.parametrize("share", [0.0, 0.08, 0.25, -0.05])
def test_hila_that_lie_as_a_chests_do_are_given(share: float) -> None:
    maps = with_left_hilum_raised(share)
    assert hila_level(build_geometry(maps, SPACING)) == pytest.approx(share, abs=0.01)
    facts = analyse(maps, SPACING)
    assert HILA_UNPLACED not in facts.film_check.warnings
    assert set(facts.anatomy.hilum_px) == {"right", "left"}
    assert {"hilum_right", "hilum_left"} <= set(facts.checked)
    assert all(f.hilum is not None for f in facts.findings)


@pytest.mark.parametrize("share", [0.36, -0.2])
def test_a_pair_no_chest_shows_is_set_aside_and_the_film_still_read(share: float) -> None:
    """Left hilum half a lung's height above the right (the alone reader on another patient's CT and on some real
    films), or well below it: each point still lies in its own lung's medial part, so the maps are a chest; neither
    hilum is given, nor its outline, nor any distance to one; the findings stay."""
    maps = with_left_hilum_raised(share)
    geom = build_geometry(maps, SPACING)
    assert not HILA_LEVEL_RANGE[0] <= hila_level(geom) <= HILA_LEVEL_RANGE[1]  # type: ignore[operator]
    assert plausibility(geom).plausible  # each hilum on its own passes
    facts = analyse(maps, SPACING)
    assert facts.film_check.localisable and HILA_UNPLACED in facts.film_check.warnings
    assert facts.anatomy.hilum_px == {}
    assert not any(r.name.startswith("hilum") for r in facts.anatomy.regions)
    assert not any(item.startswith("hilum") for item in facts.checked)
    assert facts.findings and all(f.hilum is None for f in facts.findings)
    assert facts.anatomy.cardiothoracic_ratio is not None  # the rest of the reading stands


def test_phantom_films_keep_their_hila(encoder: Any) -> None:
    """Validation films read as the service reads them: the phantom's own look by the main weights, every rendering
    family by the alone reader (the main weights withhold most of those). The pair is never set aside (seeds 50-149 as
    served: the left hilum 0.06-0.26 of the lung height above the right, ``hila_levels``)."""
    from encoder.phantom.case import CaseSpec, generate_case
    from evaluation.scoring import case_spacing
    from orchestrator.encoders.factory import build_alone_reader, reading_alone_weights
    from orchestrator.findings.fitted import entropy_limit_for
    from orchestrator.settings import Settings

    settings = Settings()
    alone = build_alone_reader(settings)
    assert alone is not None
    limit = entropy_limit_for(reading_alone_weights(settings))
    try:
        read = []
        for seed, render, reader, entropy_max in ((52, None, encoder, None), (57, None, encoder, None),
                                                  (52, "all,-padding", alone, limit), (60, "all,-padding", alone, limit),
                                                  (64, "all,-padding", alone, limit)):
            case = generate_case(seed, CaseSpec(render=render))
            maps = reader.encode(case.image)
            facts = analyse(maps, case_spacing(case)) if entropy_max is None else \
                analyse(maps, case_spacing(case), entropy_max=entropy_max)
            assert HILA_UNPLACED not in facts.film_check.warnings
            if facts.film_check.localisable:
                read.append(seed)
                assert set(facts.anatomy.hilum_px) == {"right", "left"}
        assert len(read) >= 4
    finally:
        alone.close()
