"""The lesion reader's contract (issue 22): what a crop is, how it is cut, what the model answers.

The anatomy encoder sees every film at 512² (~0.6-0.7 mm per pixel) and draws its lesion map
at half that. The lesion reader looks at each candidate again **at full resolution**: a
``CROP_SIZE``² crop at ``CROP_MM_PER_PX`` mm per pixel (a 64 mm field) cut from the ORIGINAL
upload's pixels, centred on the candidate, with the coarse candidate mask resampled into it.

Input, one tensor ``INPUT_NAME`` of shape ``[N, 2, 256, 256]`` float32:
- channel 0: the original film's pixels, windowed to [0, 1] by the film's own percentiles
  (:func:`film_window`, the same window for every crop of a film) and resampled to 0.25 mm;
- channel 1: where the candidate is and how big: :func:`candidate_disc`, a disc of its equivalent
  diameter at its centre (any map in [0, 1] over the working frame is accepted) resampled into the
  crop. Never an outline: an outline is what the reader must read from channel 0, and the outline
  a training mask carries (the truth, degraded) is not the one serving has (the encoder's lesion map).

Outputs (``OUTPUTS``, names -> per-crop shape; all float32, logits unless named otherwise):
``mask`` fine lesion mask logits at ``MASK_MM_PER_PX``; ``margin`` logits over ``MARGINS``;
``notch_clock`` / ``spicule_clock`` one logit per clock hour (``CLOCK_HOURS``, 12 = cranial,
3 = the image's right); ``spicule_length_mm`` the length of a spicule at each hour (read where its
clock logit is positive); ``spicule_count`` (a count, not a logit); ``calcification`` and
``cavity`` logits; ``diameter_mm`` (mm).

Frames: coordinates are in the 512² **working** frame (what the dialogue uses); the original
frame follows ``original = working × scale − pad`` (:class:`Frame`, the session's ``frame``;
``scale`` and ``pad`` as ``orchestrator/contracts/preprocess.py`` pads the film to a square and resizes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from orchestrator.errors import InputError

CROP_SIZE = 256
CROP_MM_PER_PX = 0.25
CROP_FIELD_MM = CROP_SIZE * CROP_MM_PER_PX  # 64 mm
CHANNELS = 2  # normalised pixels, coarse candidate mask
MASK_STRIDE = 2
MASK_SIZE = CROP_SIZE // MASK_STRIDE
MASK_MM_PER_PX = CROP_MM_PER_PX * MASK_STRIDE  # 0.5 mm

INPUT_NAME = "crops"
INPUT_DTYPE = "float32"
INPUT_SHAPE = (CHANNELS, CROP_SIZE, CROP_SIZE)  # per crop; the model takes [N, *INPUT_SHAPE]

MARGINS: tuple[str, ...] = ("smooth", "lobulated", "spiculated")
CLOCK_HOURS: tuple[int, ...] = tuple(range(1, 13))  # index i is hour i + 1

# output name -> per-crop shape (the model answers [N, *shape])
OUTPUTS: dict[str, tuple[int, ...]] = {
    "mask": (1, MASK_SIZE, MASK_SIZE),
    "margin": (len(MARGINS),),
    "notch_clock": (len(CLOCK_HOURS),),
    "spicule_clock": (len(CLOCK_HOURS),),
    "spicule_length_mm": (len(CLOCK_HOURS),),
    "spicule_count": (1,),
    "calcification": (1,),
    "cavity": (1,),
    "diameter_mm": (1,),
}
OUTPUT_NAMES: tuple[str, ...] = tuple(OUTPUTS)

WINDOW_PERCENTILES = (0.5, 99.5)  # as orchestrator/contracts/preprocess.py windows the working film
WINDOW_SAMPLES = 1 << 16  # pixels sampled for the film's percentiles (~330 in each 0.5% tail)
MAX_CROPS = 128  # crops per call (the TensorRT profile's max batch)
MIN_SPACING_MM, MAX_SPACING_MM = 0.025, 2.0  # orchestrator/imaging.py PATIENT_PIXEL_MM


@dataclass(frozen=True)
class Frame:
    """How the working image was made from the original: original = working × scale − pad.

    ``original_size`` and ``working_size`` are ``(H, W)``; ``pad_px`` is ``(x, y)`` in original
    pixels (the padding added on the left / top to make the film square). The original is the upload: where the
    film was cut from a uniform surround (``orchestrator/film_box.py``), the pad is less the cut's corner and may be
    negative. The formula is the
    session contract's (docs/DESIGN.md); ``cv2.resize`` maps pixel centres, which puts the exact
    original point ``(scale - 1) / 2`` original pixels further (0.15-0.2 mm at a 0.6 mm working
    pixel): below what a crop at 0.25 mm per pixel resolves, and the same in training and serving."""

    original_size: tuple[int, int]
    working_size: tuple[int, int]
    scale: float
    pad_px: tuple[float, float]

    @classmethod
    def from_resampling(cls, resampling: Any, working_size: int = 512) -> Frame:
        """From ``orchestrator.contracts.preprocess.Resampling`` (duck-typed), against the upload: a film cut from
        its upload has its corner there taken off the pads."""
        size = getattr(resampling, "upload_size", None) or resampling.original_size
        return cls(tuple(size), (working_size, working_size), float(resampling.scale),
                   (float(resampling.pad_x) - float(getattr(resampling, "crop_x", 0)),
                    float(resampling.pad_y) - float(getattr(resampling, "crop_y", 0))))

    def to_original(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[Any, Any]:
        return np.asarray(x) * self.scale - self.pad_px[0], np.asarray(y) * self.scale - self.pad_px[1]

    def to_working(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[Any, Any]:
        return (np.asarray(x) + self.pad_px[0]) / self.scale, (np.asarray(y) + self.pad_px[1]) / self.scale

    def as_dict(self) -> dict[str, Any]:
        return {"original_size": list(self.original_size), "working_size": list(self.working_size),
                "scale": self.scale, "pad_px": list(self.pad_px)}

    def validate(self) -> None:
        ok = (len(self.original_size) == 2 and len(self.working_size) == 2 and min(self.original_size) > 0
              and min(self.working_size) > 0 and math.isfinite(self.scale) and self.scale > 0
              and all(math.isfinite(p) and p >= -size for p, size in zip(self.pad_px, self.original_size[::-1], strict=True)))
        if not ok:
            raise InputError("lesion reader: the frame needs positive sizes, a positive scale and pads within the film")


def film_window(original: np.ndarray) -> tuple[float, float]:
    """The film's intensity window (0.5 / 99.5 percentiles of a regular subsample): one per film,
    shared by all its crops, so a crop's brightness means the same as the film's."""
    arr = _check_film(original)
    return _window(arr)


def _window(arr: np.ndarray) -> tuple[float, float]:
    step = max(1, int(math.ceil(math.sqrt(arr.size / WINDOW_SAMPLES))))
    lo, hi = np.percentile(arr[::step, ::step], WINDOW_PERCENTILES)
    return float(lo), float(hi)


def original_spacing(working_spacing_mm: tuple[float, float], frame: Frame) -> tuple[float, float]:
    """mm per original pixel from the working image's spacing (orchestrator/imaging.py scales the
    file's spacing by ``frame.scale`` for the working image)."""
    return working_spacing_mm[0] / frame.scale, working_spacing_mm[1] / frame.scale


def _check_film(original: np.ndarray) -> np.ndarray:
    arr = np.asarray(original)
    if arr.ndim != 2 or min(arr.shape) < 16:
        raise InputError(f"lesion reader: the original film must be a 2D image, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)):
        raise InputError(f"lesion reader: the original film must hold real numbers, got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise InputError("lesion reader: the original film has NaN or infinite values")
    return arr


def _check_spacing(spacing_mm: tuple[float, float]) -> tuple[float, float]:
    try:
        row_mm, col_mm = (float(v) for v in spacing_mm)
    except (TypeError, ValueError):
        raise InputError("lesion reader: pixel spacing must be two numbers (row_mm, col_mm)") from None
    for v in (row_mm, col_mm):
        if not (math.isfinite(v) and MIN_SPACING_MM <= v <= MAX_SPACING_MM):
            raise InputError(f"lesion reader: pixel spacing must lie in {MIN_SPACING_MM}-{MAX_SPACING_MM} mm")
    return row_mm, col_mm


def _crop_grid(centre_xy_original: tuple[float, float], spacing_mm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Original-frame (x, y) of every crop pixel centre, as two (256, 256) float32 maps."""
    row_mm, col_mm = spacing_mm
    offs = (np.arange(CROP_SIZE, dtype=np.float64) - (CROP_SIZE - 1) / 2) * CROP_MM_PER_PX
    xs = centre_xy_original[0] + offs / col_mm
    ys = centre_xy_original[1] + offs / row_mm
    return (np.broadcast_to(xs[None, :], (CROP_SIZE, CROP_SIZE)).astype(np.float32),
            np.broadcast_to(ys[:, None], (CROP_SIZE, CROP_SIZE)).astype(np.float32))


def _sample(image: np.ndarray, mx: np.ndarray, my: np.ndarray, antialias: tuple[float, float], fill: float) -> np.ndarray:
    """Bilinear samples of ``image`` at (mx, my); only the region the crop needs is touched, and it
    is low-passed first where the crop is coarser than the image (``antialias``: output pixels per
    input pixel along (y, x), > 1 means downsampling)."""
    h, w = image.shape
    sy, sx = (0.5 * math.sqrt(max(a * a - 1.0, 0.0)) for a in antialias)
    margin = int(math.ceil(3 * max(sx, sy))) + 2
    x0 = max(int(math.floor(float(mx.min()))) - margin, 0)
    x1 = min(int(math.ceil(float(mx.max()))) + margin + 1, w)
    y0 = max(int(math.floor(float(my.min()))) - margin, 0)
    y1 = min(int(math.ceil(float(my.max()))) + margin + 1, h)
    if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the film
        return np.full(mx.shape, fill, dtype=np.float32)
    patch = np.ascontiguousarray(image[y0:y1, x0:x1], dtype=np.float32)
    if sx > 0.05 or sy > 0.05:
        patch = cv2.GaussianBlur(patch, (0, 0), sigmaX=max(sx, 1e-3), sigmaY=max(sy, 1e-3),
                                 borderType=cv2.BORDER_REPLICATE)
    return cv2.remap(patch, mx - x0, my - y0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def cut_crop(
    original: np.ndarray, spacing_mm: tuple[float, float], centre_px: tuple[float, float],
    coarse_mask: np.ndarray, frame: Frame, window: tuple[float, float] | None = None,
) -> np.ndarray:
    """One reader input ``(2, 256, 256)`` float32.

    ``original``: the upload's pixels (H, W) as decoded (any real dtype; MONOCHROME2, dense bright);
    ``spacing_mm``: (row, col) mm per ORIGINAL pixel; ``centre_px``: the candidate's centre (x, y)
    in the working frame; ``coarse_mask``: a square map in [0, 1] over the working frame at any
    resolution (the encoder's 256² lesion map, or a 512² mask); ``frame``: how the working image
    was made; ``window``: :func:`film_window` of this film (computed here when None).
    Beyond the film's edge channel 0 is 0 and channel 1 is 0. Bad input -> ``InputError``."""
    return _cut(_check_film(original), spacing_mm, centre_px, coarse_mask, frame, window)


def _cut(
    arr: np.ndarray, spacing_mm: tuple[float, float], centre_px: tuple[float, float],
    coarse_mask: np.ndarray, frame: Frame, window: tuple[float, float] | None,
) -> np.ndarray:
    """``cut_crop`` on a film already checked by ``_check_film`` (float32, finite, 2D)."""
    frame.validate()
    if tuple(arr.shape) != tuple(frame.original_size):
        raise InputError(f"lesion reader: the film is {arr.shape} but the frame says {tuple(frame.original_size)}")
    row_mm, col_mm = _check_spacing(spacing_mm)
    cx, cy = (float(v) for v in centre_px)
    wh, ww = frame.working_size
    if not (math.isfinite(cx) and math.isfinite(cy) and -0.5 <= cx <= ww - 0.5 and -0.5 <= cy <= wh - 0.5):
        raise InputError("lesion reader: the candidate centre must lie inside the working image")
    mask = np.asarray(coarse_mask)
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1] or mask.shape[0] < 8:
        raise InputError(f"lesion reader: the coarse mask must be a square 2D map, got shape {mask.shape}")
    if mask.dtype != bool and not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)):
        raise InputError(f"lesion reader: the coarse mask must be numbers in [0, 1], got {mask.dtype}")
    mask = mask.astype(np.float32)
    if not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise InputError("lesion reader: the coarse mask must hold values in [0, 1]")
    lo, hi = window if window is not None else _window(arr)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError("lesion reader: the intensity window must be finite")

    ox, oy = frame.to_original(cx, cy)
    mx, my = _crop_grid((float(ox), float(oy)), (row_mm, col_mm))
    pixels = _sample(arr, mx, my, (CROP_MM_PER_PX / row_mm, CROP_MM_PER_PX / col_mm), fill=float(lo))
    span = hi - lo
    channel0 = np.zeros_like(pixels) if span < 1e-6 else np.clip((pixels - lo) / span, 0.0, 1.0)
    # the same crop pixels in the coarse map's own pixels (working -> map: size ratio)
    wx, wy = frame.to_working(mx, my)
    k = mask.shape[0] / float(max(wh, ww))
    kx, ky = ((wx + 0.5) * k - 0.5).astype(np.float32), ((wy + 0.5) * k - 0.5).astype(np.float32)
    channel1 = cv2.remap(mask, kx, ky, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return np.stack([channel0, np.clip(channel1, 0.0, 1.0)]).astype(np.float32)


DISC_MAP_SIZE = 256  # candidate_disc's map over the working frame (the lesion map's resolution)


def candidate_disc(centre_px: tuple[float, float], diameter_mm: float, working_mm_per_px: float,
                   working_size: int = 512, size: int = DISC_MAP_SIZE) -> np.ndarray:
    """Channel 1's map for one candidate: a disc of ``diameter_mm`` centred on ``centre_px`` (working
    frame), over the working frame at ``size``², its edge soft over one map pixel. The same function
    makes training's and serving's masks, so the reader cannot learn a mask's outline that serving
    lacks. A non-finite or non-positive diameter or spacing -> ``InputError``."""
    d, mm = float(diameter_mm), float(working_mm_per_px)
    if not (math.isfinite(d) and d > 0 and math.isfinite(mm) and mm > 0):
        raise InputError("lesion reader: a candidate needs a positive diameter and spacing")
    k = size / float(working_size)
    cx, cy = (float(centre_px[0]) + 0.5) * k - 0.5, (float(centre_px[1]) + 0.5) * k - 0.5
    r = max(d / 2.0 / mm * k, 0.5)
    yy, xx = np.ogrid[:size, :size]
    dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    return np.clip(r - dist + 0.5, 0.0, 1.0).astype(np.float32)


def cut_crops(
    original: np.ndarray, spacing_mm: tuple[float, float], centres_px: list[tuple[float, float]],
    coarse_mask: np.ndarray | list[np.ndarray], frame: Frame,
) -> np.ndarray:
    """All candidates of one film: ``[N, 2, 256, 256]`` with one window for the film.
    ``coarse_mask``: one map for every candidate, or one per candidate (a list, in ``centres_px``
    order: each candidate's :func:`candidate_disc`, as the reader was trained)."""
    if len(centres_px) > MAX_CROPS:
        raise InputError(f"lesion reader: at most {MAX_CROPS} candidates per film, got {len(centres_px)}")
    masks = list(coarse_mask) if isinstance(coarse_mask, list) else [coarse_mask] * len(centres_px)
    if len(masks) != len(centres_px):
        raise InputError("lesion reader: one coarse mask per candidate, or one for all")
    arr = _check_film(original)  # once per film, not once per crop
    window = _window(arr)
    crops = [_cut(arr, spacing_mm, c, m, frame, window) for c, m in zip(centres_px, masks, strict=True)]
    return np.stack(crops) if crops else np.zeros((0, *INPUT_SHAPE), np.float32)


def crop_to_working(x: np.ndarray | float, y: np.ndarray | float, centre_px: tuple[float, float],
                    spacing_mm: tuple[float, float], frame: Frame, stride: int = 1) -> tuple[Any, Any]:
    """Crop pixel (x, y) (at ``stride`` crop pixels per pixel, e.g. ``MASK_STRIDE`` for the mask)
    -> working-frame (x, y): how the reader's contour and clock points are drawn on the film."""
    row_mm, col_mm = spacing_mm
    ox, oy = frame.to_original(centre_px[0], centre_px[1])
    mm_x = ((np.asarray(x) + 0.5) * stride - 0.5 - (CROP_SIZE - 1) / 2) * CROP_MM_PER_PX
    mm_y = ((np.asarray(y) + 0.5) * stride - 0.5 - (CROP_SIZE - 1) / 2) * CROP_MM_PER_PX
    return frame.to_working(ox + mm_x / col_mm, oy + mm_y / row_mm)


# --- decoding the outputs: the same for every path (embedded, Triton, evaluation) ----------------

NOTCH_THRESHOLD = 0.5  # P(notch at this hour) above which the hour is named
SPICULE_THRESHOLD = 0.5


@dataclass(frozen=True)
class LesionReading:
    """What the reader says about one crop. Probabilities are the model's (sigmoid / softmax of its
    logits); ``mask`` is the fine lesion probability map at ``MASK_MM_PER_PX`` (crop frame)."""

    margin: str
    margin_probs: dict[str, float]
    notches_clock: list[int]
    notch_probs: list[float]  # per clock hour 1..12
    spicules: int
    spicule_clock: list[int]
    spicule_probs: list[float]
    spicule_length_mm: list[float]  # at spicule_clock, same order
    spicule_count_raw: float
    calcified: bool
    p_calcified: float
    cavitation: bool
    p_cavity: float
    diameter_mm: float
    mask: np.ndarray  # (128, 128) float32 probabilities

    @property
    def p_irregular(self) -> float:
        return self.margin_probs["lobulated"] + self.margin_probs["spiculated"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the mask."""
        return {"margin": self.margin, "margin_probs": self.margin_probs, "notches_clock": self.notches_clock,
                "spicules": self.spicules, "spicule_clock": self.spicule_clock,
                "spicule_length_mm": self.spicule_length_mm, "calcified": self.calcified,
                "p_calcified": self.p_calcified, "cavitation": self.cavitation, "p_cavity": self.p_cavity,
                "diameter_mm": self.diameter_mm, "p_irregular": self.p_irregular}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))).astype(np.float32)


def check_outputs(outputs: dict[str, np.ndarray]) -> int:
    """The batch size of a complete set of outputs; ``InputError`` naming what is missing or misshapen."""
    n = None
    for name, shape in OUTPUTS.items():
        if name not in outputs:
            raise InputError(f"lesion reader: output {name!r} missing")
        arr = np.asarray(outputs[name])
        if arr.ndim != len(shape) + 1 or tuple(arr.shape[1:]) != shape or (n is not None and arr.shape[0] != n):
            raise InputError(f"lesion reader: output {name!r} has shape {arr.shape}, expected [N, {shape}]")
        n = arr.shape[0]
    return int(n or 0)


def decode_outputs(outputs: dict[str, np.ndarray]) -> list[LesionReading]:
    """Raw model outputs (a batch) -> one :class:`LesionReading` per crop."""
    n = check_outputs(outputs)
    margin_logits = np.asarray(outputs["margin"], np.float64)
    margin_p = np.exp(margin_logits - margin_logits.max(axis=1, keepdims=True))
    margin_p /= margin_p.sum(axis=1, keepdims=True)
    notch_p = _sigmoid(np.asarray(outputs["notch_clock"]))
    spic_p = _sigmoid(np.asarray(outputs["spicule_clock"]))
    readings = []
    for i in range(n):
        margin = MARGINS[int(np.argmax(margin_p[i]))]
        spic_hours = [h for h, p in zip(CLOCK_HOURS, spic_p[i], strict=True) if p > SPICULE_THRESHOLD]
        count_raw = float(np.asarray(outputs["spicule_count"])[i, 0])
        # the count is the count head's, rounded; the hours are where the clock head is sure
        count = max(0, round(count_raw)) if margin == "spiculated" else 0
        lengths = np.asarray(outputs["spicule_length_mm"])[i]
        readings.append(LesionReading(
            margin=margin, margin_probs={m: float(p) for m, p in zip(MARGINS, margin_p[i], strict=True)},
            notches_clock=[h for h, p in zip(CLOCK_HOURS, notch_p[i], strict=True) if p > NOTCH_THRESHOLD],
            notch_probs=[float(p) for p in notch_p[i]],
            spicules=count, spicule_clock=spic_hours if count else [],
            spicule_probs=[float(p) for p in spic_p[i]],
            spicule_length_mm=[round(max(float(lengths[h - 1]), 0.0), 1) for h in spic_hours] if count else [],
            spicule_count_raw=count_raw,
            calcified=bool(_sigmoid(np.asarray(outputs["calcification"])[i])[0] > 0.5),
            p_calcified=float(_sigmoid(np.asarray(outputs["calcification"])[i])[0]),
            cavitation=bool(_sigmoid(np.asarray(outputs["cavity"])[i])[0] > 0.5),
            p_cavity=float(_sigmoid(np.asarray(outputs["cavity"])[i])[0]),
            diameter_mm=round(max(float(np.asarray(outputs["diameter_mm"])[i, 0]), 0.0), 1),
            mask=_sigmoid(np.asarray(outputs["mask"])[i, 0]),
        ))
    return readings
