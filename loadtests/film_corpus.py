"""A corpus of uploads for the film gate: what must be accepted, and what must be refused or named.

Every image is made here from a seed (nothing is downloaded): the phantom's own upright films
(``encoder.phantom.generate_case``), the same films turned by 90°/180°/270°, mirrored left-right,
heavily cropped and inverted (a MONOCHROME1/2 mix-up), upright films with support devices and foreign bodies over
the chest (``encoder/phantom/devices.py``: electrodes, lines, tubes, wires, buttons, pacemakers), lateral films of the
same CT
(``encoder/phantom/lateral.py``: the view every chest study holds beside the frontal one, uploaded
where no header names it), and images that are no chest film at all: noise, smooth noise, gradients,
rings, text pages and synthetic colour photos (a house under a sky). Each item is PNG bytes with what
the gate must do with it:

- ``accept``: a frontal chest film shown upright, devices over it or not: accepted, ``film_check.orientation``
  "upright";
- ``refuse_or_name``: refused as ``not_a_chest_film``, or accepted with the orientation it has
  named (``name`` says which value would be right: ``rotated_90``, ``rotated_180``, ``flipped_lr``),
  never read as if upright;
- ``refuse_or_withhold``: refused, or accepted with ``anatomy_plausible`` false, so that nothing is
  localised on it (a heavy crop of a chest film is still part of a chest film; a lateral film's pixels
  pass the gate's coarse chest template as often as not, and its maps form no frontal chest);
- ``refuse``: refused as ``not_a_chest_film``.

Used by ``tests/orchestrator/test_film_gate_corpus.py`` and ``loadtests/score_film_gate.py``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

Expect = str  # accept | refuse_or_name | refuse


@dataclass(frozen=True)
class CorpusItem:
    name: str
    category: str
    expect: Expect
    png: bytes
    orientation: str | None = None  # the orientation a named acceptance must carry


def png_bytes(image: np.ndarray) -> bytes:
    """float [0, 1] grayscale or uint8 RGB → PNG bytes."""
    arr = image if image.dtype == np.uint8 else np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


# --- transformed phantom films ---------------------------------------------------------------------


def film_variants(seed: int, film: np.ndarray, rng: np.random.Generator) -> Iterator[CorpusItem]:
    """The upright film and what a user's upload could make of it."""
    yield CorpusItem(f"upright_{seed}", "upright", "accept", png_bytes(film), "upright")
    yield CorpusItem(f"rot90_{seed}", "rotated", "refuse_or_name", png_bytes(np.rot90(film, 1)), "rotated_90")
    yield CorpusItem(f"rot180_{seed}", "rotated", "refuse_or_name", png_bytes(np.rot90(film, 2)), "rotated_180")
    yield CorpusItem(f"rot270_{seed}", "rotated", "refuse_or_name", png_bytes(np.rot90(film, 3)), "rotated_90")
    yield CorpusItem(f"mirror_{seed}", "mirrored", "refuse_or_name", png_bytes(np.fliplr(film)), "flipped_lr")
    yield CorpusItem(f"inverted_{seed}", "inverted", "refuse", png_bytes(1.0 - film))
    yield CorpusItem(f"crop_{seed}", "cropped", "refuse_or_withhold", png_bytes(heavy_crop(film, rng)))


def heavy_crop(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A window of 30-45% of the film's width and height, anywhere on it, scaled back up."""
    h, w = film.shape
    ch, cw = int(h * rng.uniform(0.30, 0.45)), int(w * rng.uniform(0.30, 0.45))
    y0, x0 = int(rng.integers(0, h - ch)), int(rng.integers(0, w - cw))
    return cv2.resize(film[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)


def _volume(cache_dir: Path | None) -> Any:
    from encoder.phantom.volume import load_volume
    from orchestrator.settings import Settings

    return load_volume(Path(cache_dir or Settings().cache_dir))


def phantom_films(seeds: range, cache_dir: Path | None = None, spec: Any = None) -> Iterator[tuple[int, np.ndarray]]:
    """The phantom's film of each seed (``spec``: its ``CaseSpec``; None: the default one)."""
    from encoder.phantom import generate_case

    volume = _volume(cache_dir)
    for seed in seeds:
        yield seed, generate_case(seed, spec, volume=volume).image


def device_films(seeds: range, cache_dir: Path | None = None) -> Iterator[CorpusItem]:
    """An upright film per seed with one to three kinds of device over the chest (``CaseSpec(devices="all")``)."""
    from encoder.phantom import CaseSpec

    for seed, film in phantom_films(seeds, cache_dir, CaseSpec(devices="all")):
        yield CorpusItem(f"devices_{seed}", "devices", "accept", png_bytes(film), "upright")


def lateral_films(seeds: range, cache_dir: Path | None = None, lines: Any = None,
                  category: str = "lateral") -> Iterator[CorpusItem]:
    """A lateral film per seed, facing either way (``encoder.phantom.lateral``), of the CT whose ``lines``
    (``lateral_lines``) are given, or of the phantom's."""
    from encoder.phantom.lateral import lateral_film, lateral_lines

    if lines is None:
        volume = _volume(cache_dir)
        lines = lateral_lines(volume.hu, volume.spacing)
    for seed in seeds:
        yield CorpusItem(f"{category}_{seed}", category, "refuse_or_withhold", png_bytes(lateral_film(seed, lines)))


# --- images that are no chest film -------------------------------------------------------------------


def noise(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.random((size, size)).astype(np.float32)


def smooth_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.random((int(rng.integers(4, 24)),) * 2).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        g = np.cos(angle) * xx + np.sin(angle) * yy
    else:
        cx, cy = rng.uniform(0.2, 0.8, 2)
        g = np.hypot(xx - cx, yy - cy)
    g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    return (g ** rng.uniform(0.5, 2.0)).astype(np.float32)


def rings(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7, 2) * size
    period = rng.uniform(12, 60)
    r = np.hypot(xx - cx, yy - cy)
    return (0.5 + 0.5 * np.sin(2 * np.pi * r / period)).astype(np.float32)


def text_page(rng: np.random.Generator, size: int) -> np.ndarray:
    page = Image.new("L", (size, size), int(rng.integers(225, 256)))
    draw = ImageDraw.Draw(page)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz      ,."))
    y = int(rng.integers(8, 30))
    while y < size - 12:
        line = "".join(rng.choice(letters, int(rng.integers(30, 80))))
        draw.text((int(rng.integers(6, 30)), y), line, fill=int(rng.integers(0, 60)))
        y += int(rng.integers(11, 18))
    return np.asarray(page, dtype=np.float32) / 255.0


def colour_photo(rng: np.random.Generator, size: int) -> np.ndarray:
    """A house under a sky: a colour gradient, a sun, grass, walls, a roof, windows."""
    img = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(img)
    top, bottom = rng.integers(60, 256, 3), rng.integers(60, 256, 3)
    horizon = int(size * rng.uniform(0.55, 0.75))
    for y in range(horizon):
        t = y / horizon
        draw.line([(0, y), (size, y)], fill=tuple(int(v) for v in (1 - t) * top + t * bottom))
    draw.rectangle([0, horizon, size, size], fill=tuple(int(v) for v in rng.integers(0, 200, 3)))
    sx, sy, sr = int(rng.integers(40, size - 40)), int(rng.integers(30, horizon // 2)), int(rng.integers(15, 40))
    draw.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=(255, int(rng.integers(180, 256)), 0))
    x0 = int(rng.integers(40, size // 2))
    x1 = x0 + int(rng.integers(size // 5, size // 2))
    y0 = horizon - int(rng.integers(size // 6, size // 3))
    draw.rectangle([x0, y0, x1, horizon], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw.polygon([(x0 - 15, y0), (x1 + 15, y0), ((x0 + x1) // 2, y0 - int(rng.integers(30, 90)))],
                 fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for k in range(int(rng.integers(1, 4))):
        wx = x0 + 10 + k * 40
        if wx + 25 < x1:
            draw.rectangle([wx, y0 + 15, wx + 25, y0 + 40], fill=(int(rng.integers(0, 120)),) * 2 + (200,))
    return np.asarray(img, dtype=np.uint8)


NON_CHEST = {
    "noise": noise,
    "smooth_noise": smooth_noise,
    "gradient": gradient,
    "rings": rings,
    "text_page": text_page,
    "colour_photo": colour_photo,
}


def non_chest(per_kind: int, seed: int = 0, size: int = 512) -> Iterator[CorpusItem]:
    for k, (kind, make) in enumerate(NON_CHEST.items()):
        rng = np.random.default_rng([seed, k])
        for i in range(per_kind):
            yield CorpusItem(f"{kind}_{i}", kind, "refuse", png_bytes(make(rng, size)))


def corpus(seeds: range, per_kind: int = 10, seed: int = 0, cache_dir: Path | None = None) -> Iterator[CorpusItem]:
    """``7 * len(seeds)`` transformed phantom films, ``len(seeds)`` films with devices, ``len(seeds)`` lateral films,
    then ``6 * per_kind`` non-chest images."""
    for s, film in phantom_films(seeds, cache_dir):
        yield from film_variants(s, film, np.random.default_rng([seed, s]))
    yield from device_films(seeds, cache_dir)
    yield from lateral_films(seeds, cache_dir)
    yield from non_chest(per_kind, seed)
