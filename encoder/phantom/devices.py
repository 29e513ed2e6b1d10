"""Support devices and foreign bodies over the chest (issue 21): metal and radio-opaque plastic no weights saw.

Real chest films carry what the phantom never drew: ECG electrodes and their leads, central lines, feeding and
breathing tubes, sternotomy wires, buttons and snaps, pacemakers with their leads. A reader must not call them
lesions; a network trained on bare chests has never been told so. Each is drawn here as added attenuation in the
line-integral domain (nepers, as ``projection.project_attenuation`` gives the chest), on the finished film plane
(after the ``anatomy`` deformation, before the rendering chain), so every rendering family shows it as it shows the
chest: metal at the top of the window, radio-opaque plastic as a faint band. Devices are not lesions: no mask or
lesion target changes; the truth lists each device's kind and box (``truth["devices"]``).

================  ===========================================================================================
``ecg``           3-6 electrodes anywhere over the chest, lungs included: a faint foam pad (20-36 mm), a bright
                  metal snap (a disc or a ring, 3-9 mm) and, on most, a lead wire curving off the film
``line``          a central venous catheter from the neck or the arm to a tip at the superior vena cava
                  (the right mediastinal border), or a PICC from the arm: a radio-opaque band of 1.5-3 mm
``tube``          a nasogastric tube down the oesophagus, through the left dome into the stomach, with its
                  radio-opaque stripe; and/or an endotracheal tube in the trachea above the carina
``wires``         4-7 sternotomy wire loops down the midline, with a few surgical clips beside the mediastinum
``button``        1-5 buttons, snaps or ear-ring-like rings of 6-20 mm anywhere over the chest: round, bright,
                  nodule-sized, the hardest of them to tell from a lesion by its shape
``pacemaker``     a generator under a clavicle (38-58 mm, a denser battery within), its 1-3 leads down the
                  veins to tips in the heart, one with a defibrillator coil. Held out of training
                  (``HELD_OUT_DEVICES``) and reported on its own
================  ===========================================================================================

Drawn anti-aliased: each element is rasterised on a 4x supersampled canvas of its own box and averaged down, so a
0.8 mm wire on a 0.64 mm pixel is a faint bright line, not a staircase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from encoder.anatomy_classes import ANATOMY_CLASSES
from encoder.phantom.rendering import parse_named

DEVICE_KINDS: tuple[str, ...] = ("ecg", "line", "tube", "wires", "button", "pacemaker")
HELD_OUT_DEVICES: tuple[str, ...] = ("pacemaker",)  # kept out of training, reported on its own
SUPERSAMPLE = 4
METAL_NEPERS = (1.2, 3.0)  # steel / titanium a millimetre or two thick at a chest film's effective energy
PLASTIC_NEPERS = (0.25, 0.7)  # barium-loaded catheter and tube walls


def parse_kinds(spec: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """``"all"`` / ``"a,b"`` / ``"all,-pacemaker"`` -> device kinds in DEVICE_KINDS order (None: none)."""
    kinds = parse_named(spec, DEVICE_KINDS, "device kinds")
    if spec is not None and not kinds:
        raise ValueError("no device kind left to draw")
    return kinds


@dataclass
class _Canvas:
    """The added line integral of a film's devices, drawn element by element."""

    shape: tuple[int, int]
    spacing_mm: float

    def __post_init__(self) -> None:
        self.line = np.zeros(self.shape, dtype=np.float32)
        self.boxes: list[list[float]] = []

    def px(self, mm: float) -> float:
        return mm / self.spacing_mm

    def _draw(self, pts: np.ndarray, pad_px: float, nepers: float, paint: Any) -> None:
        """Rasterise ``paint(img, offset, scale)`` on a supersampled canvas over ``pts``' box grown by ``pad_px``,
        average it down and add ``nepers`` times its coverage."""
        h, w = self.shape
        x0 = max(int(np.floor(pts[:, 0].min() - pad_px)) - 1, 0)
        y0 = max(int(np.floor(pts[:, 1].min() - pad_px)) - 1, 0)
        x1 = min(int(np.ceil(pts[:, 0].max() + pad_px)) + 2, w)
        y1 = min(int(np.ceil(pts[:, 1].max() + pad_px)) + 2, h)
        if x1 <= x0 or y1 <= y0:
            return
        s = SUPERSAMPLE
        img = np.zeros(((y1 - y0) * s, (x1 - x0) * s), dtype=np.uint8)
        paint(img, np.array([x0, y0], dtype=np.float64), s)
        cover = cv2.resize(img, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self.line[y0:y1, x0:x1] += nepers * cover
        self.boxes.append([float(x0), float(y0), float(x1), float(y1)])

    def stroke(self, pts: np.ndarray, width_mm: float, nepers: float) -> None:
        pts = np.asarray(pts, dtype=np.float64)
        width = max(self.px(width_mm), 0.3)

        def paint(img: np.ndarray, off: np.ndarray, s: int) -> None:
            q = np.rint((pts - off) * s).astype(np.int32)
            cv2.polylines(img, [q], False, 255, max(int(round(width * s)), 1), cv2.LINE_8)

        self._draw(pts, width, nepers, paint)

    def disc(self, centre: np.ndarray, radius_mm: float, nepers: float, hole_mm: float = 0.0) -> None:
        c = np.asarray(centre, dtype=np.float64)
        r = self.px(radius_mm)

        def paint(img: np.ndarray, off: np.ndarray, s: int) -> None:
            q = tuple(int(v) for v in np.rint((c - off) * s))
            cv2.circle(img, q, max(int(round(r * s)), 1), 255, -1)
            if hole_mm > 0:
                cv2.circle(img, q, max(int(round(self.px(hole_mm) * s)), 1), 0, -1)

        self._draw(c[None, :], r, nepers, paint)

    def polygon(self, pts: np.ndarray, nepers: float) -> None:
        pts = np.asarray(pts, dtype=np.float64)

        def paint(img: np.ndarray, off: np.ndarray, s: int) -> None:
            cv2.fillPoly(img, [np.rint((pts - off) * s).astype(np.int32)], 255)

        self._draw(pts, 1.0, nepers, paint)


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 48) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _mask(masks: np.ndarray, name: str) -> np.ndarray:
    return np.asarray(masks[ANATOMY_CLASSES.index(name)], dtype=bool)


def _box(m: np.ndarray) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _rounded_rect(centre: np.ndarray, w: float, h: float, angle: float, corner: float) -> np.ndarray:
    """A rounded rectangle's outline (w x h px, corners of radius ``corner``), turned by ``angle`` radians."""
    corner = min(corner, w / 2, h / 2)
    pts = []
    for (cx, cy), a0 in (((w / 2 - corner, h / 2 - corner), 0.0), ((-w / 2 + corner, h / 2 - corner), 90.0),
                         ((-w / 2 + corner, -h / 2 + corner), 180.0), ((w / 2 - corner, -h / 2 + corner), 270.0)):
        for a in np.radians(np.linspace(a0, a0 + 90.0, 8)):
            pts.append((cx + corner * np.cos(a), cy + corner * np.sin(a)))
    p = np.array(pts)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return p @ rot.T + centre


class _Chest:
    """Where things are on this film: boxes of the lungs, heart, trachea and mediastinum, the midline."""

    def __init__(self, masks: np.ndarray, hilum: dict[str, tuple[float, float]]) -> None:
        self.shape = masks.shape[-2:]
        lungs = _mask(masks, "lung_right") | _mask(masks, "lung_left")
        h, w = self.shape
        self.chest = _box(lungs) or (w * 0.15, h * 0.15, w * 0.85, h * 0.8)
        self.right = _box(_mask(masks, "lung_right")) or (self.chest[0], self.chest[1], w / 2, self.chest[3])
        self.left = _box(_mask(masks, "lung_left")) or (w / 2, self.chest[1], self.chest[2], self.chest[3])
        self.heart = _box(_mask(masks, "heart")) or (w * 0.4, h * 0.45, w * 0.7, h * 0.75)
        self.trachea = _box(_mask(masks, "trachea"))
        self.mediastinum = _mask(masks, "mediastinum")
        self.hilum = hilum
        self.midline = 0.5 * (self.right[2] + self.left[0])

    def mediastinal_edge(self, y: float) -> float:
        """The mediastinum's edge on the patient's right (the image's left) at row ``y``."""
        row = self.mediastinum[int(np.clip(y, 0, self.shape[0] - 1))]
        xs = np.nonzero(row)[0]
        return float(xs.min()) if len(xs) else self.midline - 20.0


def _over_chest(rng: np.random.Generator, chest: _Chest, grow: float = 0.1) -> np.ndarray:
    x0, y0, x1, y1 = chest.chest
    gx, gy = grow * (x1 - x0), grow * (y1 - y0)
    return np.array([rng.uniform(x0 - gx, x1 + gx), rng.uniform(y0 - gy, y1 + gy)])


def _off_film(rng: np.random.Generator, start: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A point beyond the nearest side or top edge of the film from ``start``."""
    h, w = shape
    x, y = start
    side = int(np.argmin([x, w - x, y]))  # leads leave by a side or the top
    if side == 0:
        return np.array([-20.0, y + rng.uniform(-0.2, 0.2) * h])
    if side == 1:
        return np.array([w + 20.0, y + rng.uniform(-0.2, 0.2) * h])
    return np.array([x + rng.uniform(-0.2, 0.2) * w, -20.0])


def _ecg(cv: _Canvas, chest: _Chest, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(3, 7))):
        c = _over_chest(rng, chest)
        cv.disc(c, rng.uniform(10.0, 18.0), rng.uniform(0.01, 0.04))  # the foam pad
        snap = rng.uniform(*METAL_NEPERS)
        if rng.random() < 0.5:
            cv.disc(c, rng.uniform(1.5, 3.0), snap)
        else:
            outer = rng.uniform(3.0, 4.5)
            cv.disc(c, outer, snap, hole_mm=outer - rng.uniform(0.8, 1.5))
            cv.disc(c, rng.uniform(0.8, 1.5), snap)
        if rng.random() < 0.75:
            end = _off_film(rng, c, cv.shape)
            mid = 0.5 * (c + end) + rng.normal(0.0, 0.15 * float(np.linalg.norm(end - c)), 2)
            cv.stroke(_bezier(c, mid, end), rng.uniform(0.8, 1.6), rng.uniform(0.4, 1.2))


def _line(cv: _Canvas, chest: _Chest, rng: np.random.Generator) -> None:
    h, w = cv.shape
    hy = chest.hilum.get("right", (chest.midline - 30.0, 0.45 * h))[1]
    tip_y = hy - rng.uniform(0.0, 0.25) * (hy - chest.chest[1])
    tip = np.array([chest.mediastinal_edge(tip_y) + rng.uniform(2.0, 10.0), tip_y])
    side_right = rng.random() < 0.7  # the patient's right: the image's left
    x_lung = chest.right if side_right else chest.left
    if rng.random() < 0.5:  # internal jugular: from the neck
        start = np.array([chest.midline + (-1 if side_right else 1) * rng.uniform(25.0, 55.0) / cv.spacing_mm, -5.0])
        via = np.array([start[0], chest.chest[1] + rng.uniform(0.0, 0.1) * (chest.chest[3] - chest.chest[1])])
    else:  # subclavian or a PICC from the arm
        start = np.array([-5.0 if side_right else w + 5.0, chest.chest[1] + rng.uniform(0.0, 0.2) * h])
        via = np.array([0.5 * (x_lung[0] + x_lung[2]), chest.chest[1] - rng.uniform(0.0, 0.05) * h])
    pts = np.vstack([_bezier(start, via, 0.5 * (via + tip)), _bezier(0.5 * (via + tip), 0.5 * (via + tip) + 0.2 * (tip - via), tip)])
    cv.stroke(pts, rng.uniform(1.5, 3.0), rng.uniform(*PLASTIC_NEPERS))


def _tube(cv: _Canvas, chest: _Chest, rng: np.random.Generator) -> None:
    h, w = cv.shape
    trachea = chest.trachea
    draw_ng, draw_et = (True, rng.random() < 0.4) if rng.random() < 0.7 else (False, True)
    if draw_ng:
        x0 = chest.midline + rng.uniform(-5.0, 8.0) / cv.spacing_mm
        dome = chest.left[3]
        stomach = np.array([chest.midline + rng.uniform(30.0, 70.0) / cv.spacing_mm,
                            min(dome + rng.uniform(15.0, 50.0) / cv.spacing_mm, h + 10.0)])
        pts = np.vstack([_bezier(np.array([x0, -5.0]), np.array([x0 + rng.uniform(-4, 4), 0.5 * dome]),
                                 np.array([chest.midline + 8.0 / cv.spacing_mm, dome])),
                         _bezier(np.array([chest.midline + 8.0 / cv.spacing_mm, dome]),
                                 np.array([stomach[0], dome]), stomach)])
        cv.stroke(pts, rng.uniform(3.0, 5.0), rng.uniform(0.08, 0.2))
        cv.stroke(pts, rng.uniform(0.7, 1.2), rng.uniform(*PLASTIC_NEPERS) * 1.5)  # the radio-opaque stripe
    if draw_et and trachea is not None:
        tx = 0.5 * (trachea[0] + trachea[2])
        end = trachea[3] - rng.uniform(30.0, 70.0) / cv.spacing_mm
        if end > 10:
            pts = np.array([[tx + rng.uniform(-2, 2), -5.0], [tx, end]])
            cv.stroke(pts, rng.uniform(7.0, 9.0), rng.uniform(0.05, 0.12))
            cv.stroke(pts + [rng.uniform(-2.0, 2.0) / cv.spacing_mm, 0.0], rng.uniform(0.8, 1.2),
                      rng.uniform(*PLASTIC_NEPERS) * 1.5)


def _wires(cv: _Canvas, chest: _Chest, rng: np.random.Generator) -> None:
    top = chest.chest[1] + rng.uniform(0.05, 0.15) * (chest.chest[3] - chest.chest[1])
    bottom = chest.heart[1] + rng.uniform(0.4, 0.8) * (chest.heart[3] - chest.heart[1])
    n = int(rng.integers(4, 8))
    x = chest.midline + rng.uniform(-8.0, 8.0) / cv.spacing_mm
    for y in np.linspace(top, bottom, n):
        c = np.array([x + rng.normal(0.0, 2.0) / cv.spacing_mm, y])
        a, b = cv.px(rng.uniform(4.0, 7.0)), cv.px(rng.uniform(1.0, 2.0))
        t = np.linspace(0.0, 2 * np.pi, 32)
        turn = rng.uniform(-0.3, 0.3)
        loop = np.stack([a * np.cos(t), b * np.sin(t)], 1) @ np.array([[np.cos(turn), -np.sin(turn)],
                                                                      [np.sin(turn), np.cos(turn)]]).T + c
        nep = rng.uniform(*METAL_NEPERS)
        cv.stroke(np.vstack([loop, loop[:1]]), rng.uniform(0.8, 1.2), nep)
        tail = c + np.array([a, 0.0]) @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]).T
        cv.stroke(np.array([tail, tail + rng.normal(0.0, 1.0, 2) * cv.px(3.0)]), 1.2, nep)
    for _ in range(int(rng.integers(0, 4))):  # surgical clips beside the mediastinum
        y = rng.uniform(chest.heart[1] - 0.1 * (chest.heart[3] - chest.heart[1]), chest.heart[3])
        c = np.array([chest.mediastinal_edge(y) + rng.uniform(-5.0, 25.0) / cv.spacing_mm, y])
        d = rng.normal(0.0, 1.0, 2)
        d = d / max(float(np.linalg.norm(d)), 1e-6) * cv.px(rng.uniform(2.0, 4.0))
        cv.stroke(np.array([c - d, c + d]), rng.uniform(0.8, 1.4), rng.uniform(*METAL_NEPERS))


def _button(cv: _Canvas, chest: _Chest, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(1, 6))):
        c = _over_chest(rng, chest)
        r = rng.uniform(3.0, 10.0)
        metal = rng.random() < 0.5
        nep = rng.uniform(*METAL_NEPERS) * 0.5 if metal else rng.uniform(0.15, 0.5)
        if rng.random() < 0.3:  # a ring or a snap
            cv.disc(c, r, nep, hole_mm=r * rng.uniform(0.5, 0.8))
            continue
        cv.disc(c, r, nep)
        if not metal and rng.random() < 0.7:  # a sewing button's holes
            k = int(rng.choice([2, 4]))
            for j in range(k):
                a = 2 * np.pi * j / k + rng.uniform(0, np.pi)
                cv.disc(c + cv.px(0.35 * r) * np.array([np.cos(a), np.sin(a)]), 0.12 * r, -nep)


def _pacemaker(cv: _Canvas, chest: _Chest, rng: np.random.Generator) -> None:
    left = rng.random() < 0.75  # most are on the patient's left: the image's right
    lung = chest.left if left else chest.right
    lx0, ly0, lx1, ly1 = lung
    cx = (lx0 + rng.uniform(0.45, 0.8) * (lx1 - lx0)) if left else (lx1 - rng.uniform(0.45, 0.8) * (lx1 - lx0))
    c = np.array([cx, ly0 + rng.uniform(0.05, 0.22) * (ly1 - ly0)])
    w_px, h_px = cv.px(rng.uniform(38.0, 52.0)), cv.px(rng.uniform(42.0, 58.0))
    angle = rng.uniform(-0.5, 0.5)
    can = rng.uniform(*METAL_NEPERS)
    cv.polygon(_rounded_rect(c, w_px, h_px, angle, 0.35 * min(w_px, h_px)), can)
    cv.polygon(_rounded_rect(c + [0.0, 0.1 * h_px], 0.6 * w_px, 0.5 * h_px, angle, 0.1 * w_px), 0.8 * can)  # battery
    header = c + np.array([0.0, -0.55 * h_px]) @ np.array([[np.cos(angle), -np.sin(angle)],
                                                            [np.sin(angle), np.cos(angle)]]).T
    hx0, hy0, hx1, hy1 = chest.heart
    for k in range(int(rng.integers(1, 4))):
        if k == 0:  # right ventricle: the heart's lower part, towards the apex
            tip = np.array([hx0 + rng.uniform(0.45, 0.8) * (hx1 - hx0), hy0 + rng.uniform(0.6, 0.85) * (hy1 - hy0)])
        else:  # right atrium: the upper right heart border
            tip = np.array([hx0 + rng.uniform(0.1, 0.3) * (hx1 - hx0), hy0 + rng.uniform(0.2, 0.45) * (hy1 - hy0)])
        svc = np.array([chest.mediastinal_edge(hy0) + cv.px(8.0), hy0 - cv.px(rng.uniform(10.0, 30.0))])
        pts = np.vstack([_bezier(header, 0.5 * (header + svc) + [0.0, -cv.px(25.0)], svc),
                         _bezier(svc, np.array([svc[0], 0.5 * (svc[1] + tip[1])]), tip)])
        lead = rng.uniform(*METAL_NEPERS) * 0.6
        cv.stroke(pts, rng.uniform(1.5, 2.5), lead)
        if k == 0 and rng.random() < 0.4:  # a defibrillator coil near the tip
            cv.stroke(pts[-14:-2], rng.uniform(3.5, 4.5), lead)


DRAW = {"ecg": _ecg, "line": _line, "tube": _tube, "wires": _wires, "button": _button, "pacemaker": _pacemaker}


def draw_devices(rng: np.random.Generator, masks: np.ndarray, hilum: dict[str, tuple[float, float]],
                 spacing_mm: float, kinds: tuple[str, ...]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The line integral ``kinds``' devices add to a film (``masks``: ANATOMY_CLASSES order, the film's own), and
    their truth: one entry per kind, with the box of everything drawn for it."""
    chest = _Chest(np.asarray(masks), hilum)
    cv = _Canvas(tuple(int(v) for v in np.asarray(masks).shape[-2:]), float(spacing_mm))  # type: ignore[arg-type]
    truth = []
    for kind in kinds:
        first = len(cv.boxes)
        DRAW[kind](cv, chest, rng)
        boxes = np.array(cv.boxes[first:]) if len(cv.boxes) > first else None
        entry: dict[str, Any] = {"kind": kind}
        if boxes is not None:
            entry["bbox_px"] = [float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
                                float(boxes[:, 3].max())]
        truth.append(entry)
    return np.maximum(cv.line, 0.0), truth


def film_kinds(rng: np.random.Generator, allowed: tuple[str, ...], share: float) -> tuple[str, ...]:
    """Which kinds one film carries: none with probability 1 - ``share``, else one to three of ``allowed``."""
    if rng.random() >= share:
        return ()
    n = int(rng.integers(1, min(3, len(allowed)) + 1))
    picked = set(rng.choice(len(allowed), size=n, replace=False).tolist())
    return tuple(k for i, k in enumerate(allowed) if i in picked)
