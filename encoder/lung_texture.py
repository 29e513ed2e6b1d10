"""Normal lung texture, drawn at training time: crisp ribs and branching vessels that are not lesions.

The phantom's films come from one CT at ~0.7 mm through a smooth projection: its ribs are faint and
its lungs nearly empty of markings. Real films are not: edge-enhanced by the vendor and taken of
chests with sharp ribs, they show bright rib bands with crisp edges across both lung fields and a
tree of vessels fanning out from each hilum. The phantom's one linear lesion, the strand (2-5 short
parallel cylinders, 20-40 mm), looks like a piece of that. An encoder that has only seen empty
lungs learns "bright parallel lines in a lung are a lesion": on the real films kept for checking
(never for training) the lesion maps of every candidate run along the intercostal bands.

``add_texture`` puts normal texture on a training sample without touching its targets, so the
network has to tell a strand (short, bounded, in a bundle) from a rib (a band crossing the whole
field) and a vessel (radial, tapering, branching from the hilum):

- **ribs**: the sample's own ``ribs`` anatomy channel (the projected rib bones), smoothed to the
  working grid, added with a gain and a sharpened cortical edge, so the ribs stand out as on an
  edge-enhanced film;
- **vessels**: from each hilum point, branching lines drawn outward inside that lung's field,
  tapering in width (3 -> 1 px) and in contrast, each branch splitting at random;
- **markings**: band-limited noise (1-3 px) inside the lung fields.

Each part is on independently, with its strength drawn per sample. It changes no pixel on disk and is
off unless asked for (``hilum train --texture P``).
"""

from __future__ import annotations

import cv2
import numpy as np

from orchestrator.contracts.encoder import ANATOMY_CLASSES

RIB_GAIN = (0.04, 0.16)  # added brightness of a rib band (the film is normalised to [0, 1])
RIB_EDGE_GAIN = (0.0, 0.12)  # extra brightness on a rib's edge (cortex, and the vendor's edge enhancement)
VESSEL_GAIN = (0.03, 0.10)  # a vessel's brightness at the hilum; it fades to a third at its tip
VESSELS_PER_LUNG = (5, 12)
MARKING_GAIN = (0.0, 0.035)
PART_P = 0.7  # each part is on with this chance in a textured sample
_RIBS = ANATOMY_CLASSES.index("ribs")
_LUNGS = (ANATOMY_CLASSES.index("lung_right"), ANATOMY_CLASSES.index("lung_left"))


def add_texture(image: np.ndarray, anatomy: np.ndarray, hilum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W) in [0, 1] with normal texture added; ``anatomy`` (C, h, w) soft targets in [0, 1],
    ``hilum`` (2, 2) x/y working pixels (right, left). Targets are not changed."""
    h, w = image.shape
    out = image.astype(np.float32, copy=True)
    lungs = [cv2.resize(anatomy[c].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) for c in _LUNGS]
    if rng.random() < PART_P:
        out += _ribs(anatomy[_RIBS], (h, w), rng)
    if rng.random() < PART_P:
        for side, lung in enumerate(lungs):
            out += _vessels(lung, hilum[side], rng)
    if rng.random() < PART_P:
        field = np.clip(lungs[0] + lungs[1], 0.0, 1.0)
        noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, size=(h, w)).astype(np.float32), (0, 0), rng.uniform(1.0, 3.0))
        noise /= float(noise.std()) + 1e-6
        out += rng.uniform(*MARKING_GAIN) * noise * field
    return np.clip(out, 0.0, 1.0)


def _ribs(ribs: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    band = cv2.resize(ribs.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    band = cv2.GaussianBlur(band, (0, 0), rng.uniform(0.8, 2.0))
    band = np.clip((band - 0.3) / 0.4, 0.0, 1.0)  # the mask's soft edge made crisp
    edge = cv2.morphologyEx(band, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return (rng.uniform(*RIB_GAIN) * band + rng.uniform(*RIB_EDGE_GAIN) * edge).astype(np.float32)


def _vessels(lung: np.ndarray, root: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A branching tree from ``root`` drawn inside ``lung`` (soft mask at the image's size)."""
    h, w = lung.shape
    canvas = np.zeros((h, w), dtype=np.float32)
    inside = lung >= 0.5
    if not inside.any():
        return canvas
    ys, xs = np.nonzero(inside)
    reach = float(max(xs.max() - xs.min(), ys.max() - ys.min()))
    cx = float(xs.mean())
    outward = 1.0 if cx > root[0] else -1.0  # the lung's side of the hilum
    gain = rng.uniform(*VESSEL_GAIN)
    stack = []
    for _ in range(int(rng.integers(*VESSELS_PER_LUNG))):
        angle = rng.uniform(-1.2, 1.2) + (0.0 if outward > 0 else np.pi)  # fanning out, up and down
        stack.append((float(root[0]), float(root[1]), angle, rng.uniform(0.35, 0.8) * reach, 3.0, 0))
    while stack:
        x, y, angle, length, width, depth = stack.pop()
        n = max(int(length / 6), 2)
        for i in range(n):
            angle += rng.normal(0.0, 0.12)
            nx, ny = x + np.cos(angle) * length / n, y + np.sin(angle) * length / n
            frac = (i + 1) / n
            wpx = max(width * (1 - 0.6 * frac), 1.0)
            val = gain * (1 - 0.65 * frac) * (wpx / 3.0) ** 0.5
            cv2.line(canvas, (int(round(x * 16)), int(round(y * 16))), (int(round(nx * 16)), int(round(ny * 16))),
                     float(val), thickness=int(round(wpx)), lineType=cv2.LINE_8, shift=4)
            x, y = nx, ny
            if depth < 3 and rng.random() < 0.12:
                stack.append((x, y, angle + rng.choice([-1, 1]) * rng.uniform(0.3, 0.8),
                              length * (1 - frac) * rng.uniform(0.5, 0.9), wpx * 0.8, depth + 1))
    canvas = cv2.GaussianBlur(canvas, (0, 0), 0.7)
    return canvas * np.clip(lung, 0.0, 1.0)
