"""Rendering families (issue 21): the same projection shown the many ways real films look.

The phantom's own renderer (``projection.display``) is one look: a bone-weighted attenuation
map, a percentile window, a gamma and a light unsharp mask. A network trained on it alone
learns that look as a constant. Following SyntheX (Gao et al., Nat. Mach. Intell. 2023:
strong randomisation of the image formation mattered more than the renderer's realism), a
:class:`RenderStyle` is drawn per film from named *families*, so that one whole family can be
held out of training and measured separately:

======================  ==========================================================================
``attenuation``          bone weighting of the attenuation map (1.0 = plain linear in HU, up to
                         2.8 = strongly bone-weighted, upstream in ``case.py``) and beam hardening
                         (a saturating line-integral curve)
``scatter``              low-frequency veiling glare: scatter-to-primary ratio 0.15-1.5, kernel
                         25-90 mm, added to the transmitted intensity
``detector``             effective energy, scintillator blur, quantum (Poisson-like) and
                         electronic noise, in the transmitted-intensity domain
``processing``           vendor processing: window choice, dynamic-range equalisation,
                         multi-scale contrast enhancement of random strength (fine/mid/coarse
                         bands, also negative), and a LUT (gamma, log or sigmoid film curve)
``grid``                 anti-scatter grid lines (aliased to a few pixels' period), vertical or
                         horizontal
``collimation``          dark or bright collimator borders, kept off the lungs, heart and lesions
``annotation``           burned-in text and a lead "R"/"L" marker on the correct side, kept off the
                         lungs, heart and lesions
``rotation``             in-plane rotation up to +-10 deg, made by the projection geometry itself
                         (``Geometry.roll_deg``), so masks, hila and lesion truth are exact
``padding``              constant bars to a non-square film; masks, hila and lesion truth shift by
                         the same whole pixels
``anatomy``              another patient from the same CT: lung height and widths, dome heights,
                         mediastinal width, heart size and position, spine shift, body habitus and
                         children's chests (``encoder.phantom.deform``); a film-plane deformation
                         that moves the masks, hila and lesion truth with the film
======================  ==========================================================================

Not here: MONOCHROME1 (inverted) export (the film gate refuses it, and a served film is always
MONOCHROME2), AP/PA magnification, tilt, inspiration and partial fields beyond what
``case.draw_geometry`` already varies.

Non-geometric families never move the truth: masks, lesion masks, hila and lesion centres are
those of the unstyled case of the same seed. ``CaseSpec(render=None)`` (the default) leaves
``generate_case`` byte-identical to the phantom without this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom.deform import AnatomyParams, draw_anatomy
from encoder.phantom.projection import Exposure, display

FAMILIES: tuple[str, ...] = ("attenuation", "scatter", "detector", "processing", "grid", "collimation",
                             "annotation", "rotation", "padding", "anatomy")
# the families drawn before ``anatomy`` joined, in their draw order (a seed keeps their draws)
_FIRST_FAMILIES: tuple[str, ...] = FAMILIES[:9]
GEOMETRIC_FAMILIES: tuple[str, ...] = ("rotation", "padding", "anatomy")
HELD_OUT: tuple[str, ...] = ("scatter",)  # the family kept out of training and reported separately
FAMILY_PROBABILITY = 0.5  # each allowed family is on in about half of the films
PLAIN_PROBABILITY = 0.15  # and this share of films keeps the phantom's own look (no family)
MAX_ROLL_DEG = 10.0
PROTECTED = ("lung_right", "lung_left", "heart")  # overlays never cover these (nor lesions)
TEXT_WORDS = ("PA", "ERECT", "CHEST", "PORTABLE", "AP", "SUPINE", "INSP", "1/1", "STANDING", "DX", "CR")


@dataclass(frozen=True)
class RenderStyle:
    """One film's rendering. Only the parameters of the families in ``families`` are used."""

    families: tuple[str, ...] = ()
    # attenuation
    bone_factor: float = 1.8
    hardening: float = 0.0
    # scatter
    scatter_fraction: float = 0.0
    scatter_sigma_mm: float = 50.0
    # detector
    energy_scale: float = 1.0  # line integral -> log attenuation (effective energy)
    blur_mm: float = 0.0
    photons: float = 0.0  # quanta per pixel, unattenuated
    electronic: float = 0.0  # additive noise std, fraction of the unattenuated signal
    # processing
    window: tuple[float, float] = (1.0, 99.5)  # percentiles
    equalisation: float = 0.0  # large-scale dynamic-range compression (0-0.7)
    band_gains: tuple[float, float, float] = (0.0, 0.0, 0.0)  # fine, mid, coarse detail gains
    lut: str = "gamma"  # gamma | log | sigmoid
    lut_param: float = 1.0
    lut_centre: float = 0.5
    # grid
    grid_period_px: float = 3.0
    grid_depth: float = 0.0
    grid_vertical: bool = True
    grid_phase: float = 0.0
    # collimation: share of the free margin covered on each side (top, bottom, left, right)
    collimation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    collimation_level: float = 0.0
    # annotation
    marker: str = "R"
    text: tuple[str, ...] = ()
    annotation_level: float = 1.0
    annotation_seed: int = 0
    # rotation
    roll_deg: float = 0.0
    # padding: share of the film size added on each side (top, bottom, left, right)
    pad: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    pad_level: float = 0.0
    # anatomy (the default: the CT's own patient)
    anatomy: AnatomyParams = field(default_factory=AnatomyParams)

    def has(self, family: str) -> bool:
        return family in self.families

    def as_truth(self) -> dict[str, Any]:
        """The style as written into ``truth.json``: the families and their parameters only."""
        d = asdict(self)
        keep = {"families": list(self.families)}
        owners = {"attenuation": ("bone_factor", "hardening"), "scatter": ("scatter_fraction", "scatter_sigma_mm"),
                  "detector": ("energy_scale", "blur_mm", "photons", "electronic"),
                  "processing": ("window", "equalisation", "band_gains", "lut", "lut_param", "lut_centre"),
                  "grid": ("grid_period_px", "grid_depth", "grid_vertical"),
                  "collimation": ("collimation", "collimation_level"),
                  "annotation": ("marker", "text", "annotation_level"), "rotation": ("roll_deg",),
                  "padding": ("pad", "pad_level")}
        for fam in self.families:
            if fam == "anatomy":
                keep["anatomy"] = self.anatomy.as_truth()
                continue
            for k in owners[fam]:
                v = d[k]
                keep[k] = [_r(x) for x in v] if isinstance(v, (tuple, list)) else _r(v)
        return keep


def _r(v: Any) -> Any:
    return round(float(v), 4) if isinstance(v, float) else v


def parse_families(spec: str | tuple[str, ...] | list[str] | None, held_out: tuple[str, ...] | list[str] = ()
                   ) -> tuple[str, ...]:
    """``"all"`` / ``"random"`` / ``"a,b,c"`` (a ``-name`` item removes one) -> families in FAMILIES order."""
    return parse_named(spec, FAMILIES, "rendering families", held_out)


def parse_named(spec: str | tuple[str, ...] | list[str] | None, known: tuple[str, ...], what: str,
                removed: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """A list of names out of ``known``: ``"all"`` (or ``"random"``) / ``"a,b,c"``, a ``-name`` item removing one
    (only removals: all but those) -> the names in ``known``'s order; an unknown name raises ValueError."""
    if spec is None:
        return ()
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    chosen: set[str] = set()
    out = set(removed)
    for item in items:
        if item in ("all", "random"):
            chosen.update(known)
        elif item.startswith("-"):
            out.add(item[1:])
        else:
            chosen.add(item)
    unknown = (chosen | out) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {', '.join(known)}")
    if not chosen and out:
        chosen = set(known)
    return tuple(f for f in known if f in chosen and f not in out)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def draw_style(rng: np.random.Generator, families: str | tuple[str, ...] | list[str] = FAMILIES,
               held_out: tuple[str, ...] | list[str] = (), p: float = FAMILY_PROBABILITY,
               plain: float = PLAIN_PROBABILITY) -> RenderStyle:
    """A style from ``families`` minus ``held_out``: each is on with probability ``p``, and with
    probability ``plain`` none is. Every parameter is drawn whatever is on, in a fixed order, so
    holding a family out does not change the others' draws for a seed."""
    allowed = parse_families(families, held_out)
    u = rng.uniform
    params: dict[str, Any] = {
        "bone_factor": float(u(1.0, 2.8)), "hardening": float(u(0.03, 0.2)),
        "scatter_fraction": float(u(0.15, 1.5)), "scatter_sigma_mm": float(u(25.0, 90.0)),
        "energy_scale": float(u(0.75, 1.25)), "blur_mm": float(u(0.1, 0.6)),
        "photons": _log_uniform(rng, 2e3, 5e4), "electronic": _log_uniform(rng, 1e-5, 3e-4),
        "window": (float(u(0.0, 4.0)), float(u(97.0, 99.95))), "equalisation": float(u(0.0, 0.7)),
        "band_gains": (float(u(-0.3, 1.2)), float(u(-0.2, 1.5)), float(u(-0.2, 0.8))),
        "lut": str(rng.choice(["gamma", "log", "sigmoid"])), "lut_param": float(u(0.0, 1.0)),
        "lut_centre": float(u(0.35, 0.65)),
        "grid_period_px": float(u(2.2, 6.0)), "grid_depth": float(u(0.03, 0.12)),
        "grid_vertical": bool(rng.random() < 0.7), "grid_phase": float(u(0, 2 * np.pi)),
        "collimation": tuple(float(v) for v in u(0.2, 1.0, 4) * (rng.random(4) < 0.75)),
        "collimation_level": float(u(0.0, 0.12)) if rng.random() < 0.6 else float(u(0.85, 1.0)),
        "marker": "R" if rng.random() < 0.6 else "L",
        "text": tuple(_text_line(rng) for _ in range(int(rng.integers(0, 4)))),
        "annotation_level": float(u(0.8, 1.0)) if rng.random() < 0.8 else float(u(0.0, 0.1)),
        "annotation_seed": int(rng.integers(0, 2**31 - 1)),
        "roll_deg": float(u(-MAX_ROLL_DEG, MAX_ROLL_DEG)),
        "pad": _draw_pad(rng), "pad_level": 0.0 if rng.random() < 0.7 else float(u(0.0, 0.15)),
    }
    # the LUT parameter in its own range per curve
    lo_hi = {"gamma": (0.6, 1.9), "log": (2.0, 30.0), "sigmoid": (4.0, 10.0)}[params["lut"]]
    params["lut_param"] = lo_hi[0] + params["lut_param"] * (lo_hi[1] - lo_hi[0])
    on = dict(zip(_FIRST_FAMILIES, rng.random(len(_FIRST_FAMILIES)) < p, strict=True))
    is_plain = bool(rng.random() < plain)
    # drawn after everything the first nine families draw, so that those stay as they were per seed
    on["anatomy"] = bool(rng.random() < p)
    params["anatomy"] = draw_anatomy(rng)
    active = () if is_plain else tuple(f for f in FAMILIES if on[f] and f in allowed)
    return RenderStyle(families=active, **params)


def _text_line(rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return " ".join(str(w) for w in rng.choice(TEXT_WORDS, size=int(rng.integers(1, 4))))
    if kind == 1:
        y, m, d, hh, mm = (int(rng.integers(a, b)) for a, b in ((1998, 2025), (1, 13), (1, 29), (0, 24), (0, 60)))
        return f"{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}"
    return f"ID {int(rng.integers(10**5, 10**8))}  {int(rng.integers(60, 125))}kV"


def _draw_pad(rng: np.random.Generator) -> tuple[float, float, float, float]:
    total = float(rng.uniform(0.05, 0.3))
    split = float(rng.uniform(0.0, 1.0)) if rng.random() < 0.5 else 0.5
    if rng.random() < 0.5:  # taller film: bars top and bottom
        return (total * split, total * (1 - split), 0.0, 0.0)
    return (0.0, 0.0, total * split, total * (1 - split))


def style_for(render: Any, rng: np.random.Generator) -> RenderStyle | None:
    """``CaseSpec.render`` -> the case's style: None stays None, a RenderStyle is used as given,
    a family list (``"random"``, ``"all"``, ``"a,b"``, ``"all,-scatter"``) is drawn from ``rng``."""
    if render is None:
        return None
    if isinstance(render, RenderStyle):
        return render
    return draw_style(rng, families=render)


# -- the image chain -------------------------------------------------------------------------
def _transmission_chain(p: np.ndarray, style: RenderStyle, spacing_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Line integral -> transmitted intensity (grid, scatter, detector) -> line integral."""
    k = style.energy_scale if style.has("detector") else 1.0
    intensity = np.exp(-k * np.maximum(p, 0.0)).astype(np.float32)
    if style.has("grid"):
        axis = np.arange(p.shape[1] if style.grid_vertical else p.shape[0], dtype=np.float32)
        stripe = 0.5 * (1 + np.cos(2 * np.pi * axis / style.grid_period_px + style.grid_phase))
        stripe = 1.0 - style.grid_depth * stripe
        intensity = intensity * (stripe[None, :] if style.grid_vertical else stripe[:, None])
    if style.has("scatter"):
        sigma = style.scatter_sigma_mm / spacing_mm
        intensity = intensity + style.scatter_fraction * cv2.GaussianBlur(intensity, (0, 0), sigma,
                                                                          borderType=cv2.BORDER_REFLECT)
    if style.has("detector"):
        if style.blur_mm / spacing_mm > 0.05:
            intensity = cv2.GaussianBlur(intensity, (0, 0), style.blur_mm / spacing_mm)
        quantum = rng.standard_normal(p.shape).astype(np.float32)
        quantum = cv2.GaussianBlur(quantum, (0, 0), 0.6) * 1.5  # the scintillator spreads the noise a little
        intensity = intensity + np.sqrt(np.maximum(intensity, 0.0) / style.photons) * quantum
        intensity = intensity + style.electronic * rng.standard_normal(p.shape).astype(np.float32)
    floor = 1e-5 if not style.has("detector") else max(1e-5, 0.5 * style.electronic)
    return -np.log(np.maximum(intensity, floor)).astype(np.float32)


def _processing(p: np.ndarray, style: RenderStyle, spacing_mm: float) -> np.ndarray:
    """Vendor-like processing: window, equalisation, multi-scale enhancement, LUT."""
    lo, hi = np.percentile(p, style.window)
    v = np.clip((p - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0).astype(np.float32)
    scales = [s / spacing_mm for s in (1.2, 4.0, 12.0, 40.0)]
    blurs = [v] + [cv2.GaussianBlur(v, (0, 0), s, borderType=cv2.BORDER_REFLECT) for s in scales]
    out = v.copy()
    for gain, fine, coarse in zip(style.band_gains, blurs[:3], blurs[1:4], strict=True):
        out += gain * (fine - coarse)
    out -= style.equalisation * (blurs[4] - float(blurs[4].mean()))
    lo, hi = np.percentile(out, [0.5, 99.5])
    v = np.clip((out - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    if style.lut == "gamma":
        v = np.power(v, style.lut_param)
    elif style.lut == "log":
        v = np.log1p(style.lut_param * v) / np.log1p(style.lut_param)
    else:
        s, c = style.lut_param, style.lut_centre
        sig = 1.0 / (1.0 + np.exp(-s * (v - c)))
        a, b = 1.0 / (1.0 + np.exp(s * c)), 1.0 / (1.0 + np.exp(-s * (1 - c)))
        v = (sig - a) / (b - a)
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def _protected(masks: np.ndarray | None, lesion_mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    prot = np.zeros(shape, dtype=bool)
    if masks is not None:
        for name in PROTECTED:
            prot |= np.asarray(masks[ANATOMY_CLASSES.index(name)], dtype=bool)
    if lesion_mask is not None:
        prot |= np.asarray(lesion_mask, dtype=bool)
    return prot


def _collimate(film: np.ndarray, style: RenderStyle, prot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = film.shape
    margin = 6
    rows, cols = np.nonzero(prot.any(axis=1))[0], np.nonzero(prot.any(axis=0))[0]
    r0, r1 = (int(rows.min()), int(rows.max())) if len(rows) else (h // 2, h // 2)
    c0, c1 = (int(cols.min()), int(cols.max())) if len(cols) else (w // 2, w // 2)
    free = (max(r0 - margin, 0), max(h - 1 - r1 - margin, 0), max(c0 - margin, 0), max(w - 1 - c1 - margin, 0))
    t, b, left, right = (int(round(f * m)) for f, m in zip(style.collimation, free, strict=True))
    inside = np.zeros((h, w), dtype=np.float32)
    inside[t : h - b, left : w - right] = 1.0
    inside = cv2.GaussianBlur(inside, (0, 0), 1.2)  # penumbra
    inside[prot] = 1.0
    level = style.collimation_level + 0.02 * rng.standard_normal(film.shape).astype(np.float32)
    return np.clip(film * inside + level * (1.0 - inside), 0.0, 1.0)


def _free_spot(prot: np.ndarray, box_h: int, box_w: int, corners: list[tuple[int, int]]) -> tuple[int, int] | None:
    h, w = prot.shape
    for y, x in corners:
        y = min(max(y, 0), h - box_h)
        x = min(max(x, 0), w - box_w)
        if y >= 0 and x >= 0 and not prot[max(y - 3, 0) : y + box_h + 3, max(x - 3, 0) : x + box_w + 3].any():
            return y, x
    return None


def _annotate(film: np.ndarray, style: RenderStyle, prot: np.ndarray) -> np.ndarray:
    """A lead marker ("R" on the image's left = the patient's right in PA, "L" on the image's right)
    and burned-in text lines, where they cover no lung, heart or lesion."""
    h, w = film.shape
    rng = np.random.default_rng(style.annotation_seed)
    ink = np.zeros((h, w), dtype=np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = float(rng.uniform(0.6, 1.1)) * h / 512
    thick = max(1, int(round(2 * h / 512)))
    (tw, th), base = cv2.getTextSize(style.marker, font, scale, thick)
    bw, bh = tw + 8, th + base + 8
    ys = [int(rng.integers(4, max(5, h // 6))), h - bh - int(rng.integers(4, max(5, h // 6)))]
    if style.marker == "R":
        xs = [int(rng.integers(4, max(5, w // 8)))]
    else:
        xs = [w - bw - int(rng.integers(4, max(5, w // 8)))]
    spot = _free_spot(prot, bh, bw, [(y, x) for y in ys for x in xs])
    if spot is not None:
        y, x = spot
        cv2.rectangle(ink, (x, y), (x + bw - 1, y + bh - 1), 255, max(1, thick // 2))
        cv2.putText(ink, style.marker, (x + 4, y + 4 + th), font, scale, 255, thick, cv2.LINE_AA)
    tscale = float(rng.uniform(0.3, 0.5)) * h / 512
    tthick = max(1, int(round(h / 512)))
    y_top, y_bottom = 6, h - 6
    for line in style.text:
        (lw, lh), lb = cv2.getTextSize(line, font, tscale, tthick)
        top = bool(rng.random() < 0.5)
        y = y_top if top else y_bottom - lh - lb
        right = bool(rng.random() < 0.5)
        x = w - lw - 6 if right else 6
        spot = _free_spot(prot, lh + lb, lw, [(y, x), (y_top if not top else y_bottom - lh - lb, x)])
        if spot is None:
            continue
        y, x = spot
        cv2.putText(ink, line, (x, y + lh), font, tscale, 255, tthick, cv2.LINE_AA)
        if top:
            y_top += lh + lb + 4
        else:
            y_bottom -= lh + lb + 4
    alpha = ink.astype(np.float32) / 255.0
    alpha[prot] = 0.0
    return np.clip(film * (1 - alpha) + style.annotation_level * alpha, 0.0, 1.0)


def render(line_integral: np.ndarray, style: RenderStyle, exposure: Exposure, spacing_mm: float,
           rng: np.random.Generator, masks: np.ndarray | None = None, lesion_mask: np.ndarray | None = None,
           ) -> np.ndarray:
    """Line integral -> film in [0, 1] float32, same shape, under ``style`` (no geometric change:
    ``rotation`` is made by the geometry and ``padding`` by :func:`pad_arrays`). ``masks``
    (ANATOMY_CLASSES order) and ``lesion_mask`` keep the overlays off the lungs, heart and lesions.

    ``attenuation``'s bone factor is applied upstream (it changes ``line_integral`` itself)."""
    p = np.asarray(line_integral, dtype=np.float32)
    if style.has("attenuation"):
        p = (np.log1p(style.hardening * np.maximum(p, 0.0)) / style.hardening).astype(np.float32)
    if any(style.has(f) for f in ("grid", "scatter", "detector")):
        p = _transmission_chain(p, style, spacing_mm, rng)
    if style.has("processing"):
        film = _processing(p, style, spacing_mm)
    else:
        exp = replace(exposure, blur_px=0.0, noise=0.0) if style.has("detector") else exposure
        film = display(p, exp, spacing_mm, rng)
    if style.has("collimation") or style.has("annotation"):
        prot = _protected(masks, lesion_mask, film.shape)
        if style.has("collimation"):
            film = _collimate(film, style, prot, rng)
        if style.has("annotation"):
            film = _annotate(film, style, prot)
    return np.clip(film, 0.0, 1.0).astype(np.float32)


# -- padding: the one family applied to the finished case --------------------------------------
def pad_widths(style: RenderStyle, size: int) -> tuple[int, int, int, int]:
    """Whole pixels added (top, bottom, left, right) to a ``size`` film."""
    if not style.has("padding"):
        return (0, 0, 0, 0)
    t, b, left, right = (int(round(f * size)) for f in style.pad)
    return t, b, left, right


def pad_image(img: np.ndarray, widths: tuple[int, int, int, int], value: float | int | bool) -> np.ndarray:
    """Pad the last two axes of ``img`` by ``widths`` (top, bottom, left, right) with ``value``."""
    t, b, left, right = widths
    pad = [(0, 0)] * (img.ndim - 2) + [(t, b), (left, right)]
    return np.pad(img, pad, mode="constant", constant_values=value)


def shift_truth(truth: dict[str, Any], dx: float, dy: float, shape: tuple[int, int]) -> dict[str, Any]:
    """Move every pixel coordinate of a case's truth by (dx, dy); ``image_size`` becomes (H, W)."""
    out = dict(truth)
    out["image_size"] = [int(shape[0]), int(shape[1])]
    out["hilum_px"] = {k: [round(v[0] + dx, 2), round(v[1] + dy, 2)] for k, v in truth["hilum_px"].items()}
    lesions = []
    for les in truth["lesions"]:
        les = dict(les)
        les["center_px"] = [round(les["center_px"][0] + dx, 2), round(les["center_px"][1] + dy, 2)]
        les["contour_px"] = [[x + dx, y + dy] for x, y in les["contour_px"]]
        x0, y0, x1, y1 = les["bbox_px"]
        les["bbox_px"] = [x0 + dx, y0 + dy, x1 + dx, y1 + dy]
        lesions.append(les)
    out["lesions"] = lesions
    if "devices" in truth:
        out["devices"] = [{**d, "bbox_px": [d["bbox_px"][0] + dx, d["bbox_px"][1] + dy, d["bbox_px"][2] + dx,
                                            d["bbox_px"][3] + dy]} if "bbox_px" in d else d for d in truth["devices"]]
    return out
