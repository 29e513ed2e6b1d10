"""The two hila against each other: whether a film's hilum points may be given at all.

``plausibility.hila_ok`` holds each hilum point to its own lung (inside the field's height, in its medial part); a film
that breaks it has maps that form no chest and is withheld. This check is softer and looks at the pair: in a chest the
left hilum lies a little higher than the right (the left pulmonary artery arches over the left main bronchus), and
volume loss moves one up or down by a centimetre or two. Weights reading a film unlike their training films can put
one hilum at another structure while its lung field and everything else stay where they belong: the alone reader put
the left hilum on the aortic knob of another patient's CT (``encoder/phantom/other_ct.py``'s ``lung1``, every film,
every rendering) and high in the upper mediastinum of some real films, half a lung's height above the right one,
and a screening answer then gave distances to it and said the left hilum "lies 5.6 cm higher than the right: a
reader may want to see why".

Where the left hilum lies higher than the right by more than ``HILA_LEVEL_RANGE[1]`` of the lung fields' mean height,
or lower than it by more than ``-HILA_LEVEL_RANGE[0]``, neither point can be trusted (which one moved cannot be told
from the pair), so neither is given: the film is read, its hilum points and outlines are dropped, nothing is measured
to a hilum, and its warnings say why (``HILA_UNPLACED``). The range: phantom validation films (seeds 50-149) as the
service reads them, every rendering family, both readers, have the left hilum 0.06-0.26 of the lung height above the
right (the phantom's truth, its anatomy deformed, 0.04-0.18 of its fuller fields); the upper limit stands above all of
them, the lower one lets the right hilum rise a little above the left, as volume loss of the left lower lobe may
make it. Numbers: ``encoder/weights/TRAINING.md``, "The hila against each other".
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from orchestrator.findings.geometry import Geometry

HILA_UNPLACED = "hila_unplaced"  # the warning code (``orchestrator.film_gate.WARNINGS`` words it)
# the warning of a film read by the second reader alone, whose hilum points are never given: on every chest not the
# phantom's that was looked at (the eight real checking films, the two other patients' CTs) it put the right hilum
# just above the right dome at the heart's border, where the phantom's one patient, whose dome rides high, has it
# (``encoder/weights/TRAINING.md``, "The hila against each other")
HILA_READ_ALONE = "hila_read_alone"
HILA_LEVEL_RANGE = (-0.10, 0.30)  # how far the left hilum may lie above the right, a share of the lung fields' height


def hila_level(geom: Geometry) -> float | None:
    """How far the left hilum point lies above the right one, as a share of the two lung fields' mean height (image
    rows grow downwards); None where a point or a lung field is missing."""
    right, left = geom.hilum_px.get("right"), geom.hilum_px.get("left")
    lungs = [geom.lung(side) for side in ("right", "left")]
    if right is None or left is None or not all(lung.present for lung in lungs):
        return None
    height = sum(lung.bottom - lung.top for lung in lungs) / 2.0
    return (right[1] - left[1]) / height


def hila_levels_ok(geom: Geometry) -> bool:
    """The pair lies as hila of one chest do (``HILA_LEVEL_RANGE``); a film without both points has nothing to hold."""
    level = hila_level(geom)
    return level is None or HILA_LEVEL_RANGE[0] <= level <= HILA_LEVEL_RANGE[1]


def without_hila(geom: Geometry) -> Geometry:
    """The film's geometry with no hilum point: nothing rests on one (``analyse._regions`` then drops the hila's
    outlines too). What the geometry has already made of the film (its blank pixels, its diaphragm band: the
    ``cached_property`` values the checks computed) goes with it, not made again."""
    kept = replace(geom, hilum_px={})
    fields = {f.name for f in dataclasses.fields(geom)}
    kept.__dict__.update({k: v for k, v in geom.__dict__.items() if k not in fields})
    return kept
