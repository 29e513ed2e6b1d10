"""Lateral chest films: a CT projected from side to side, for what must never be read as a frontal film.

Every chest study a PACS sends holds a lateral view beside the frontal one, and a user may upload it as a JPEG, where
no header says which view it is. Hilum reads frontal films only, so a lateral must be refused or withheld, never
described (``loadtests/film_corpus.py``'s ``lateral`` category; ``loadtests/score_film_gate.py``).

    lines = lateral_lines(volume.hu, volume.spacing)        # once per CT: the left-right line integrals
    film = lateral_film(seed, lines)                         # a 512² film in [0, 1]

The line integral runs along the patient's left-right axis (the phantom's I), with the phantom's attenuation
(``hu_to_mu``: soft part plus a bone part times the film's bone factor); rows are cranial first, columns run from
posterior to anterior as the CT's J does. Each film draws its exposure as a phantom film does, a rendering style from
every pixel family (``encoder/phantom/rendering.py``; not ``anatomy``, which deforms a frontal film's maps, nor
``rotation``, made here), a body habitus (antero-posterior depth 0.85-1.25x, height 0.9-1.1x), framing (zoom 0.9-1.4,
a shift of up to 6%, a roll of up to 10°) and which way it faces (anterior on the image's left or right, as either
lateral is hung). Works on any CT in the phantom's axes (``encoder.phantom.other_ct.OtherCT`` too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from encoder.phantom.case import draw_exposure
from encoder.phantom.other_ct import to_film
from encoder.phantom.projection import Exposure
from encoder.phantom.rendering import RenderStyle, draw_style, pad_image, pad_widths, render
from encoder.phantom.volume import hu_to_mu

LATERAL_STREAM = 77  # the rng purpose of a lateral film's draws: a stream of its own


class LateralLines(NamedTuple):
    soft: np.ndarray  # (rows, cols) float32, 1/mm * mm
    bone: np.ndarray
    spacing_mm: float  # square pixels


def lateral_lines(hu: np.ndarray, spacing: tuple[float, float, float]) -> LateralLines:
    """A CT (I, J, K) in HU with (dx, dy, dz) mm -> its left-right line integrals on square pixels of dy."""
    dx, dy, dz = spacing
    h = np.asarray(hu, dtype=np.float32)
    soft, bone = hu_to_mu(h)
    soft[h < -900.0] = 0.0  # air around the patient and the table's gaps
    return LateralLines(to_film(soft.sum(axis=0) * dx, dz, dy), to_film(bone.sum(axis=0) * dx, dz, dy), float(dy))


@dataclass(frozen=True)
class LateralDraw:
    """What one lateral film draws (its own stream, ``LATERAL_STREAM``); the pixel noise has a stream of its own."""

    exposure: Exposure
    style: RenderStyle
    depth: float  # antero-posterior scale of the body
    height: float
    zoom: float
    roll_deg: float
    shift: tuple[float, float]  # fractions of the film
    anterior_left: bool  # anterior on the image's left (the line's posterior side turned to the right)


def draw_lateral(seed: int) -> LateralDraw:
    rng = np.random.default_rng([seed, LATERAL_STREAM, 0])
    exposure = draw_exposure(rng, True)
    style = draw_style(rng, families="all,-anatomy,-rotation")
    depth, height = float(rng.uniform(0.85, 1.25)), float(rng.uniform(0.9, 1.1))
    zoom, roll = float(rng.uniform(0.9, 1.4)), float(rng.uniform(-10.0, 10.0))
    dx, dy = (float(v) for v in rng.uniform(-0.06, 0.06, 2))
    return LateralDraw(exposure, style, depth, height, zoom, roll, (dx, dy), bool(rng.random() < 0.5))


def lateral_film(seed: int, lines: LateralLines, size: int = 512, draw: LateralDraw | None = None) -> np.ndarray:
    """One lateral film, ``size``² float32 in [0, 1] (before any padding its style adds); ``draw``: instead of the
    seed's own draw (:func:`draw_lateral`)."""
    d = draw or draw_lateral(seed)
    style = d.style
    bone_factor = style.bone_factor if style.has("attenuation") else d.exposure.bone_factor
    line = lines.soft + bone_factor * lines.bone
    h, w = line.shape
    line = cv2.resize(line, (max(2, int(w * d.depth)), max(2, int(h * d.height))), interpolation=cv2.INTER_LINEAR)
    n = max(line.shape)
    canvas = np.zeros((n, n), np.float32)
    y0, x0 = (n - line.shape[0]) // 2, (n - line.shape[1]) // 2
    canvas[y0:y0 + line.shape[0], x0:x0 + line.shape[1]] = line
    if d.anterior_left:  # turned before the framing and the overlays, so that text and markers read as written
        canvas = np.ascontiguousarray(canvas[:, ::-1])
    m = cv2.getRotationMatrix2D((n / 2.0, n / 2.0), d.roll_deg, d.zoom)
    m[:, 2] += np.asarray(d.shift) * n
    canvas = cv2.warpAffine(canvas, m, (n, n), flags=cv2.INTER_LINEAR, borderValue=0.0)
    canvas = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    film = render(canvas, style, d.exposure, lines.spacing_mm * n / size / d.zoom,
                  np.random.default_rng([seed, LATERAL_STREAM, 1]))
    widths = pad_widths(style, size)
    if any(widths):
        film = pad_image(film, widths, float(style.pad_level))
    return np.ascontiguousarray(film, dtype=np.float32)
