"""A second look: a lesion is reported only if the encoder finds it again at two other scales.

Weights that have seen more than one chest read a chest they have never seen with false findings
while their anatomy maps are sure of it (``encoder/weights/TRAINING.md``, stages K and L: 3-5 per film
of an unseen patient's CT, 4-12 lesion regions on a normal real child's film). Those regions come from
an unfamiliar look, not from an opacity, and most do not survive the same film encoded again a little
smaller and a little larger; a real opacity does. Measured by ``loadtests/scale_agreement.py``.

``second_look`` encodes the film twice more, scaled about its centre by each of ``SCALES`` (shrunk
into the frame with its edges continued, or enlarged and cropped), finds the lesion regions of every
encoding as the findings layer does (``lesion_regions``), maps the others' centres back to the film,
and clears from the first lesion map every region that the other encodings do not both place within
``AGREE_MM``. The findings layer then describes what is left, unchanged. It costs two more encoder
passes per first turn, and only when the first found something (an encoder too busy for them fails the
turn with 429 ``encoder_overloaded``, as the first pass would: no film is read without its second look); off by default
(``HILUM_SECOND_LOOK``): the shipped weights lose phantom recall to it (they were never trained on
scaled films) and withhold the unseen patient's films on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import cv2
import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.encoders.base import AnatomyEncoder
from orchestrator.facts import PixelSpacing

Point = tuple[float, float]
SCALES: tuple[float, ...] = (0.85, 1.15)
AGREE_MM = 6.0


def rescaled(film: np.ndarray, scale: float) -> tuple[np.ndarray, Callable[[Point], Point]]:
    """The square film scaled about its centre into the same frame (edges continued when shrunk,
    cropped when enlarged), and the map from a point of the result back to the film."""
    n = film.shape[0]
    m = int(round(n * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(film.astype(np.float32), (m, m), interpolation=interp)
    if m <= n:
        off = (n - m) // 2
        out = cv2.copyMakeBorder(small, off, n - m - off, off, n - m - off, cv2.BORDER_REPLICATE)
        shift = -off
    else:
        off = (m - n) // 2
        out = small[off:off + n, off:off + n]
        shift = off
    f = m / n

    def back(p: Point) -> Point:
        return ((p[0] + shift) / f, (p[1] + shift) / f)

    return out, back


def agreed(first: Sequence[Point], others: Sequence[Sequence[Point]], px_per_mm: float) -> list[int]:
    """Indices of the points of ``first`` that every list in ``others`` has a point within ``AGREE_MM`` of."""
    tol = AGREE_MM * px_per_mm
    return [i for i, p in enumerate(first)
            if all(any(np.hypot(p[0] - q[0], p[1] - q[1]) <= tol for q in other) for other in others)]


def centres_at(encoder: AnatomyEncoder, film: np.ndarray, scale: float, mm_per_px: float) -> list[Point]:
    """The lesion regions' centres of the film encoded at ``scale``, in the film's pixels."""
    from orchestrator.findings.candidates import lesion_regions

    image, back = rescaled(film, scale)
    maps = encoder.encode(image)
    sp = mm_per_px / scale
    return [back(c.center) for c in lesion_regions(maps.lesion, maps.image, PixelSpacing(sp, sp, "estimated"))]


def second_look(encoder: AnatomyEncoder, film: np.ndarray, maps: AnatomyMaps, spacing: PixelSpacing) -> AnatomyMaps:
    """``maps`` with every lesion region the film's rescaled encodings do not both find cleared."""
    from orchestrator.findings.candidates import lesion_regions

    regions = lesion_regions(maps.lesion, maps.image, spacing)
    if not regions:
        return maps
    mm = (spacing.row_mm + spacing.col_mm) / 2.0
    # both rescaled films at once: the encoders take concurrent calls (the embedded one runs them on its own
    # runner threads, Triton batches them), so an idle machine pays about one pass of latency, not two
    with ThreadPoolExecutor(max_workers=len(SCALES), thread_name_prefix="second-look") as pool:
        others = list(pool.map(lambda s: centres_at(encoder, film, s, mm), SCALES))
    keep = set(agreed([c.center for c in regions], others, 1.0 / mm))
    if len(keep) == len(regions):
        return maps
    lesion = maps.lesion.copy()
    masks = {i: on_grid(c.mask, lesion.shape) for i, c in enumerate(regions)}
    ring = np.ones((3, 3), np.uint8)
    for i, mask in masks.items():
        if i not in keep:
            lesion[cv2.dilate(mask.astype(np.uint8), ring).astype(bool)] = 0.0
    for i in keep:  # a kept region stays whole where a cleared neighbour's ring touched it
        lesion[masks[i]] = maps.lesion[masks[i]]
    return replace(maps, lesion=lesion)


def on_grid(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A region's mask on the lesion map's grid."""
    if mask.shape == shape:
        return mask
    return cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)
