"""A wider field of view, drawn at training time: the chest smaller in the frame, the body around it.

Every phantom film (and every other-CT film) frames the chest the same way: lungs across ~80% of the
width, the body's edges near the film's edges. Real films do not: a child's AP film, a portable film
or a film taken wide shows the abdomen below, the neck above and the arms beside the chest, and the
lungs cover half the frame or less. An encoder that has only seen one framing can learn *where* the
lungs usually are rather than *what* they look like (on the real films kept for checking, never for
training, the stage K candidate draws its lung maps across the abdomen and the arms).

``zoom_out`` shrinks a training sample by a factor drawn from ``SCALE_RANGE`` and places it at a
random position of the same-size frame (offsets in whole anatomy cells, so every target stays on its
grid). What lies around it is made from the film itself: its edge rows and columns continued outward
(the abdomen's soft tissue continues down, the neck and shoulders up), blurred (no line or
marker of the edge carried outward) and given a slow falloff, and, with probability ``ARM_P`` on each side wide enough, an
arm: a soft-tissue band with a bone in it. Targets shrink with the image (area resampling for the
soft anatomy and lesion maps) and are zero outside the chest; hilum points move with it.

``zoom_in`` does the other half: the chest enlarged by a factor drawn from ``ZOOM_IN_RANGE`` and cropped
to the frame at a place that keeps both hila in it. Without it no weights ever saw a chest larger than the
phantom frames it, yet the second look (``orchestrator/encoders/second_look.py``) reads every film again
enlarged x1.15, and a large opacity's region read there moved 7-11 mm from the first, so it was cleared
(``encoder/weights/TRAINING.md``, "The second look and large opacities").

Both change no pixel of the data on disk and are off unless asked for (``hilum train --zoom-out P
--zoom-in P``).
"""

from __future__ import annotations

import cv2
import numpy as np

from orchestrator.contracts.encoder import ANATOMY_STRIDE, INPUT_SIZE, LESION_STRIDE

SCALE_RANGE = (0.55, 0.92)  # the chest's share of the frame's side after zooming out
ARM_P = 0.5  # chance of an arm on each side with room for one
MIN_ARM_PX = 24  # a side needs this much room (working pixels) for an arm
FALLOFF = (0.75, 1.0)
ZOOM_IN_RANGE = (1.05, 1.3)  # the chest's enlargement when zoomed in (the second look's x1.15 inside it)
HILUM_MARGIN_PX = 16  # a zoomed-in frame keeps both hila at least this far inside it
BLUR_PX = 20.0  # the continued body is smooth: no edge row's lines or markers carried outward  # the continued body's brightness at the frame's edge, relative to where it starts


def zoom_out(
    image: np.ndarray, anatomy: np.ndarray, lesion: np.ndarray, hilum: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image (H, W), anatomy (C, H/4, W/4), lesion (H/2, W/2) or (K, H/2, W/2), hilum (2, 2) x/y) of one sample,
    zoomed out."""
    cells = INPUT_SIZE // ANATOMY_STRIDE
    k = int(round(cells * rng.uniform(*SCALE_RANGE)))
    oy, ox = (int(v) for v in rng.integers(0, cells - k + 1, size=2))
    side = k * ANATOMY_STRIDE
    top, left = oy * ANATOMY_STRIDE, ox * ANATOMY_STRIDE
    small = cv2.resize(image.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
    out = _surround(small, top, left, INPUT_SIZE, rng)
    a_out = np.zeros_like(anatomy, dtype=np.float32)
    for c in range(anatomy.shape[0]):
        a_out[c, oy:oy + k, ox:ox + k] = cv2.resize(anatomy[c].astype(np.float32), (k, k), interpolation=cv2.INTER_AREA)
    ls = ANATOMY_STRIDE // LESION_STRIDE
    l_out = np.zeros_like(lesion, dtype=np.float32)
    for c in np.ndindex(lesion.shape[:-2]):  # one map, or (target, devices): every channel moves alike
        l_out[c][oy * ls:(oy + k) * ls, ox * ls:(ox + k) * ls] = cv2.resize(
            lesion[c].astype(np.float32), (k * ls, k * ls), interpolation=cv2.INTER_AREA)
    f = side / INPUT_SIZE
    h_out = (hilum.astype(np.float32) * f + np.array([left, top], dtype=np.float32)).astype(np.float32)
    return out, a_out, l_out, h_out


def zoom_in(
    image: np.ndarray, anatomy: np.ndarray, lesion: np.ndarray, hilum: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same sample as ``zoom_out``, the chest enlarged and cropped to the frame; unchanged where no crop
    of the drawn size keeps both hila inside (so a film whose hila are not labelled, at (0, 0), as another
    patient's CT films are, is never enlarged)."""
    n = image.shape[-1]
    f = float(rng.uniform(*ZOOM_IN_RANGE))
    side = n / f  # the window of the film that fills the frame, in its pixels
    lo = np.maximum(0.0, hilum.max(axis=0) + HILUM_MARGIN_PX / f - side)
    hi = np.minimum(n - side, hilum.min(axis=0) - HILUM_MARGIN_PX / f)
    if np.any(lo > hi):
        return image, anatomy, lesion, hilum
    x0, y0 = (float(v) for v in rng.uniform(lo, hi))

    def warp(a: np.ndarray, stride: int) -> np.ndarray:
        """Every channel of ``a`` (on a grid of ``stride`` film pixels) enlarged as the film is: continuous
        coordinates u -> f (u - origin), written for OpenCV's pixel-centred ones."""
        m = np.array([[f, 0.0, 0.5 * (f - 1) - f * x0 / stride],
                      [0.0, f, 0.5 * (f - 1) - f * y0 / stride]], dtype=np.float64)
        h, w = a.shape[-2:]
        flat = a.reshape(-1, h, w).astype(np.float32)
        out = np.stack([cv2.warpAffine(c, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                        for c in flat])
        return out.reshape(a.shape)

    out = np.clip(warp(image, 1), 0.0, 1.0)
    h_out = ((hilum.astype(np.float32) - np.array([x0, y0], dtype=np.float32)) * f).astype(np.float32)
    return out, warp(anatomy, ANATOMY_STRIDE), warp(lesion, LESION_STRIDE), h_out


def _surround(small: np.ndarray, top: int, left: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The shrunken film inside a frame of ``size``, the body continued around it (and perhaps arms)."""
    side = small.shape[0]
    bottom, right = size - side - top, size - side - left
    out = cv2.copyMakeBorder(small, top, bottom, left, right, cv2.BORDER_REPLICATE)
    # the continued rows and columns: blurred along the continuation, fading slowly outward
    yy = np.arange(size, dtype=np.float32)
    dist_y = np.maximum(np.maximum(top - yy, yy - (top + side - 1)), 0.0)
    xx = np.arange(size, dtype=np.float32)
    dist_x = np.maximum(np.maximum(left - xx, xx - (left + side - 1)), 0.0)
    dist = np.maximum(dist_y[:, None], dist_x[None, :])
    reach = float(max(top, bottom, left, right, 1))
    edge = float(rng.uniform(*FALLOFF))
    blurred = cv2.GaussianBlur(out, (0, 0), sigmaX=BLUR_PX)
    weight = np.clip(dist / 4.0, 0.0, 1.0)
    out = out * (1 - weight) + blurred * weight
    out = out * (1.0 - (1.0 - edge) * dist / reach)
    for lo, width in ((0, left), (left + side, right)):
        if width >= MIN_ARM_PX and rng.random() < ARM_P:
            out = _arm(out, lo, width, top, rng)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _arm(img: np.ndarray, lo: int, width: int, top: int, rng: np.random.Generator) -> np.ndarray:
    """A soft-tissue band with a bone along it, in the columns [lo, lo + width), from near the top down."""
    size = img.shape[0]
    w = float(rng.uniform(0.5, 0.95)) * width
    centre = lo + (width * float(rng.uniform(0.35, 0.65)) if w < width else width / 2.0)
    xs = np.arange(size, dtype=np.float32)
    r = np.clip(1.0 - ((xs - centre) / (w / 2.0)) ** 2, 0.0, 1.0)
    soft = np.sqrt(r)  # thickness of a round limb
    bone_w = w * float(rng.uniform(0.18, 0.3))
    bone = np.sqrt(np.clip(1.0 - ((xs - centre) / (bone_w / 2.0)) ** 2, 0.0, 1.0))
    level = float(np.percentile(img, 80)) * float(rng.uniform(0.7, 1.0))
    profile = level * (0.8 * soft + 0.25 * bone)
    y0 = int(rng.uniform(0, max(top, 1)))
    y1 = int(rng.uniform(0.7, 1.0) * size)
    rows = np.zeros(size, dtype=np.float32)
    rows[y0:y1] = 1.0
    rows = cv2.GaussianBlur(rows[:, None], (0, 0), sigmaX=8.0)[:, 0]
    return np.maximum(img, rows[:, None] * profile[None, :])
