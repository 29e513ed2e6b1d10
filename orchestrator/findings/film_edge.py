"""Lung fields whose outer border lies at the edge of the exposed film: part of the chest may be off it.

A film collimated through the lungs (a tight shutter, a spine film's strip, a crop) shows the lung fields' inner parts
with blank film, or the image's edge, where the chest wall should be. The encoder draws what it sees and every answer
spoke of "the remaining lung fields" and both costophrenic angles as if the film held them: on a phantom film cut to
its middle half, "the left costophrenic angle is blunted" with the angle off the film.

A lung field is at the film's edge where, on more than ``EDGE_CUT_MIN`` of its rows in the middle ``EDGE_ROWS`` of its
height, the band ``EDGE_BAND_PX`` outside its outer border is mostly blank film (``Geometry.blank``) or off the image.
The film is still read; the film check carries the warning ``lung_at_film_edge`` (``orchestrator.film_gate.WARNINGS``),
which the screening answer states, and no cardiothoracic ratio is given (the chest's full width may be off the film;
"is the heart enlarged?" says so). Measured (``python -m loadtests.lung_blank_share --seeds 200-399 --render all --cut
0.4,0.5,0.6,0.7 --real-dev REAL_DEV_DIR [--onnx ...]``, 2026-12-07, the lung fields as ``Geometry`` takes them):
phantom films of every rendering family at the edge on 3 of 200 with the main weights (collimated tight to the lungs)
and none with the alone reader; phantom films cut to their middle 40 / 50 / 60 / 70% of the width on 20 / 20 / 19 / 1
of 20 each with the main weights and 17 / 13 / 2 / 0 with the alone reader, which stops its lung fields at the cut; the
real checking films on none as the alone reader reads them (the largest share 0.00; checking only).
"""

from __future__ import annotations

import numpy as np

from orchestrator.findings.geometry import Geometry

EDGE_BAND_PX = (3, 15)  # pixels outside the lung's outer border, on the working film (~2-10 mm)
EDGE_ROWS = (0.2, 0.8)  # of the lung field's height: where the chest wall runs beside it
EDGE_CUT_MIN = 0.5
EDGE_WARNING = "lung_at_film_edge"


def cut_share(blank: np.ndarray, mask: np.ndarray, side: str) -> float:
    """The share of the lung field's middle rows whose outer band is mostly blank or off the image (0 when empty).
    ``side``: the patient's; the right lung's outer border is on the image's left."""
    filled = mask.any(axis=1)
    rows = np.nonzero(filled)[0]
    if not len(rows):
        return 0.0
    top, bottom = int(rows.min()), int(rows.max())
    ys = np.arange(int(top + EDGE_ROWS[0] * (bottom - top)), int(top + EDGE_ROWS[1] * (bottom - top)) + 1)
    ys = ys[filled[ys]]
    if not len(ys):
        return 0.0
    width = mask.shape[1]
    near, far = EDGE_BAND_PX
    m = mask[ys]
    if side == "right":  # the band ends `near` before the leftmost lung pixel
        edge = np.argmax(m, axis=1)
        a, b = edge - far, edge - near
    else:
        edge = width - 1 - np.argmax(m[:, ::-1], axis=1)
        a, b = edge + near, edge + far
    off = (a < 0) | (b >= width)
    sums = np.concatenate([np.zeros((len(ys), 1)), np.cumsum(blank[ys], axis=1)], axis=1)
    a_in, b_in = np.clip(a, 0, width - 1), np.clip(b, 0, width - 1)
    band = (sums[np.arange(len(ys)), b_in + 1] - sums[np.arange(len(ys)), a_in]) / (far - near + 1)
    return float(np.mean(off | (band > 0.5)))


def lungs_at_film_edge(geom: Geometry) -> tuple[str, ...]:
    """The sides whose lung field lies at the edge of the exposed film."""
    return tuple(side for side in ("right", "left")
                 if geom.lung(side).present and cut_share(geom.blank, geom.lung(side).mask, side) > EDGE_CUT_MIN)
