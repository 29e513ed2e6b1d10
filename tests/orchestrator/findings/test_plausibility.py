"""Plausible anatomy, or no localisation: the checks on the encoder's maps, one failure at a time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from evaluation.synthetic import disc_mask, synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.contracts.encoder import class_index
from orchestrator.facts import FilmCheck, PixelSpacing
from orchestrator.findings import analyse
from orchestrator.findings.blank_film import blank_pixels, blank_share
from orchestrator.findings.fitted import LIMIT_BESIDE_WEIGHTS, entropy_limit_for, weights_tag
from orchestrator.findings.geometry import build_geometry
from orchestrator.findings.plausibility import (
    ENTROPY_MAX,
    LUNG_AREA,
    LUNG_BLANK_MAX,
    LUNG_WIDTH_HEIGHT_MAX,
    map_entropy,
    plausibility,
    width_height,
)

SPACING = PixelSpacing(0.7, 0.7, "dicom")


def maps_with(**changes: object) -> AnatomyMaps:
    return dataclasses.replace(synthetic_maps([disc_mask((512, 512), (140, 250), 9)]), **changes)


def test_synthetic_chest_is_plausible_and_localised() -> None:
    maps = maps_with()
    assert plausibility(build_geometry(maps, SPACING)).plausible
    facts = analyse(maps, SPACING)
    assert facts.film_check.localisable and facts.findings and facts.anatomy.hilum_px


def test_unsure_maps_withhold_everything() -> None:
    base = maps_with()
    unsure = dataclasses.replace(base, anatomy=np.clip(base.anatomy * 0.6 + 0.2, 0, 1))  # every pixel hedged
    geom = build_geometry(unsure, SPACING)
    assert map_entropy(geom.maps) > ENTROPY_MAX
    facts = analyse(unsure, SPACING)
    assert "anatomy_not_established" in facts.film_check.warnings and not facts.film_check.anatomy_plausible
    assert facts.findings == () and facts.anatomy.hilum_px == {} and facts.anatomy.cardiothoracic_ratio is None
    assert facts.anatomy.regions == () and facts.checked == ()


def test_the_limit_is_the_one_of_the_weights_that_drew_the_maps() -> None:
    """The same hedged maps: withheld under the shipped limit, read under a looser one fitted for other weights."""
    base = maps_with()
    unsure = dataclasses.replace(base, anatomy=np.clip(base.anatomy * 0.9 + 0.05, 0, 1))
    entropy = map_entropy(build_geometry(unsure, SPACING).maps)
    assert entropy > ENTROPY_MAX
    assert not analyse(unsure, SPACING).film_check.localisable
    looser = analyse(unsure, SPACING, entropy_max=entropy + 0.01)
    assert looser.film_check.localisable and looser.findings
    assert not analyse(unsure, SPACING, entropy_max=entropy - 0.001).film_check.localisable


def test_weights_bring_their_own_limit_only_when_it_names_them(tmp_path: Path) -> None:
    onnx = tmp_path / "anatomy_encoder.onnx"
    onnx.write_bytes(b"candidate weights")
    assert entropy_limit_for(onnx) == ENTROPY_MAX  # nothing beside them: the shipped weights' limit
    beside = tmp_path / LIMIT_BESIDE_WEIGHTS
    beside.write_text(json.dumps({"weights": weights_tag(onnx), "entropy_max": 0.081}))
    assert entropy_limit_for(onnx) == 0.081
    onnx.write_bytes(b"other weights, same name")  # the file beside them was fitted for something else
    assert entropy_limit_for(onnx) == ENTROPY_MAX
    assert entropy_limit_for(None) == ENTROPY_MAX


def test_swapped_lungs_are_implausible() -> None:
    base = maps_with()
    anatomy = base.anatomy.copy()
    r, le = class_index("lung_right"), class_index("lung_left")
    anatomy[[r, le]] = anatomy[[le, r]]
    assert "lungs_implausible" in plausibility(build_geometry(dataclasses.replace(base, anatomy=anatomy), SPACING)).warnings


def test_a_lung_field_wider_than_any_real_one_is_implausible() -> None:
    """A map sure of itself and wrong (drawn across a child's arm and abdomen) is wide and squat."""
    base = maps_with()
    geom = build_geometry(base, SPACING)
    assert all(width_height(geom.lung(s).mask) <= LUNG_WIDTH_HEIGHT_MAX[s] for s in ("right", "left"))
    anatomy = base.anatomy.copy()
    r = class_index("lung_right")
    ys, xs = np.nonzero(anatomy[r] > 0.5)
    keep = ys.max() - int((xs.max() - xs.min() + 1) / 1.1)  # the lower rows only: width / height 1.1
    anatomy[r, : max(keep, 0)] = 0.0
    squat = build_geometry(dataclasses.replace(base, anatomy=anatomy), SPACING)
    mask = squat.lung("right").mask
    assert width_height(mask) > LUNG_WIDTH_HEIGHT_MAX["right"]
    assert LUNG_AREA[0] <= mask.sum() / mask.size <= LUNG_AREA[1]  # no other lung check fails
    assert plausibility(squat).warnings == ("lungs_implausible",)


def test_lung_fields_on_blank_film_are_implausible() -> None:
    """Maps that found "lungs" in the unexposed black either side of a bright strip (a lateral film cut to a strip by
    its collimation, read as a normal chest before): a lung field on blank film is no lung field. The same maps on a
    film with the lungs' structure are read; blank parts outside the lungs do not matter."""
    base = maps_with()
    geom = build_geometry(base, SPACING)
    assert max(blank_share(geom.blank, geom.lung(s).mask) for s in ("right", "left")) < 0.2  # the flat heart behind
    rng = np.random.default_rng(1)
    image = base.image.copy()
    right = geom.lung("right").mask
    image[right] = 0.04 + rng.normal(0, 0.002, int(right.sum())).astype(np.float32)  # black, faint noise only
    blank = build_geometry(dataclasses.replace(base, image=image), SPACING)
    assert blank_share(blank_pixels(image), blank.lung("right").mask) > LUNG_BLANK_MAX
    assert plausibility(blank).warnings == ("lungs_on_blank",)
    facts = analyse(dataclasses.replace(base, image=image), SPACING)
    assert not facts.film_check.localisable and facts.findings == ()
    outside = base.image.copy()
    outside[:40] = 0.0  # a blank band across the top, where no lung is
    assert plausibility(build_geometry(dataclasses.replace(base, image=outside), SPACING)).plausible


def test_a_hilum_outside_its_lung_is_implausible() -> None:
    base = maps_with()
    hila = dict(base.hilum_px or {})
    hila["right"] = (20.0, 500.0)  # the bottom corner, as seen on a real film
    warnings = plausibility(build_geometry(dataclasses.replace(base, hilum_px=hila), SPACING)).warnings
    assert warnings == ("hilum_implausible",)


def test_an_implausible_heart_width_is_never_printed() -> None:
    base = maps_with()
    anatomy = base.anatomy.copy()
    anatomy[class_index("heart"), 300:420, 5:507] = 1.0  # a "heart" as wide as the film
    maps = dataclasses.replace(base, anatomy=anatomy)
    assert "ctr_implausible" in plausibility(build_geometry(maps, SPACING)).warnings
    facts = analyse(maps, SPACING, FilmCheck())
    assert facts.anatomy.cardiothoracic_ratio is None and not facts.film_check.localisable
