"""Nodules inserted into real films, read as uploads: what issue 21's acceptance asks of other real films.

    .venv/bin/python -m loadtests.score_real_insertion --real-dev REAL_DEV_DIR [--sizes 10,15,20,30]
        [--contrasts 0.25,0.5,1] [--per-film 6] [--sheet F.png] [--json F.json]
    .venv/bin/python -m loadtests.score_real_insertion --measure-phantom   # the phantom's own contrast, validation seeds

The acceptance reads other real films for "nodules >= 10 mm found within 10 mm, side right, size within 30%"; the only
real films here are children's, normal or with pneumonia, and none has a nodule. So a nodule is put into each normal
one: the projection of a sphere (diameter ``d``; its thickness profile, lightly blurred) is added to the upload's own
pixels, its centre ``c * d / 15 mm * IQR`` above the lung round it, where ``IQR`` is the spread of the film's lung
fields (their 25th to 75th percentile, over the lung fields of the clean film's own read: ribs against the spaces
between them, mostly) and ``c`` a 15 mm nodule's share of it, swept (``--contrasts``). How faint is faint: the
phantom's own 15 mm nodules show c about 0.13-0.17 at physical contrast (``--measure-phantom``: validation seeds 50-109,
the own look and every rendering family) and twice that at the phantom's default gain; the contrast a real nodule
shows on a processed real film is not known here, so the sweep and the sheet (``--sheet``) say which is plain to the
eye. (The mediastinum-minus-lung level was tried first as the reference and dropped: these films' processing flattens
it, 40-50 grey levels against a lung spread of about 100, so a nodule scaled to it was fainter than the ribs.) Contrast in proportion to size: a sphere's path through it is. It is put at a place inside a lung field the clean read found, away from the field's edge, the heart and the
mediastinum (drawn per film from a seeded stream: every size and contrast uses the same places), one nodule per read, and
the film is read again as an upload (PNG, through ``DialogueEngine.analyse_film``: decode, gate, the readers,
findings). Found: a finding's centre within ``WITHIN_MM`` of the nodule's; then its side, and its size (equivalent
diameter) within ``SIZE_WITHIN`` of ``d``. Millimetres are the read's own (a JPEG carries no spacing: the estimate
the answers state), for the nodule drawn and the finding alike, so the size compares the outline, not the spacing.
Findings elsewhere on the film are counted as false. The films are for checking: nothing here sets anything.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from loadtests.score_film_gate import labelled_films, served_engine

REFERENCE_MM = 15.0  # the contrast ``c`` is a nodule of this diameter's; others scale with their diameter
WITHIN_MM = 10.0
SIZE_WITHIN = 0.3
BLUR_MM = 0.7  # the sphere's edge, softened as the phantom's nodules are by the detector
CLEAR_MM = 6.0  # a place lies this far inside its lung field beyond the nodule's radius, and from the heart


@dataclass(frozen=True)
class Place:
    side: str  # the lung field it lies in: the patient's right or left
    x: float  # working pixels
    y: float


@dataclass(frozen=True)
class Read:
    size_mm: float
    contrast: float
    place: Place
    found: bool
    side_right: bool = False
    size_ratio: float | None = None  # the finding's equivalent diameter over the nodule's
    false: int = 0  # findings elsewhere on the film
    refused: str | None = None


def sphere(shape: tuple[int, int], x: float, y: float, radius_px: float, peak: float, blur_px: float) -> np.ndarray:
    """A sphere's projection: ``peak * sqrt(1 - (r / radius)^2)`` inside the radius, 0 outside, blurred by a
    Gaussian of ``blur_px`` (drawn in the box round it only)."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    reach = int(math.ceil(radius_px + 4 * blur_px + 2))
    x0, x1 = max(int(x) - reach, 0), min(int(x) + reach + 1, w)
    y0, y1 = max(int(y) - reach, 0), min(int(y) + reach + 1, h)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    rho = np.hypot(xx - x, yy - y) / max(radius_px, 1e-6)
    box = np.where(rho < 1.0, np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0)), 0.0).astype(np.float32) * peak
    if blur_px > 0:
        box = cv2.GaussianBlur(box, (0, 0), blur_px)
    out[y0:y1, x0:x1] = box
    return out


def _mask(facts: Any, name: str, size: tuple[int, int], frame: Any = None, shape: tuple[int, int] | None = None
          ) -> np.ndarray:
    """A named region's polygon filled (``relations.filled``), in the working frame, or (``frame``, ``shape``) the
    original's."""
    from orchestrator.findings.relations import filled

    region = facts.anatomy.region(name)
    if region is None or len(region.polygon_px) < 3:
        return np.zeros(shape or size, bool)
    pts = np.array(region.polygon_px, np.float64)
    if frame is not None:
        pts = np.column_stack(frame.to_original(pts[:, 0], pts[:, 1]))
    return filled(tuple(map(tuple, pts)), shape or size)


def places(facts: Any, n: int, radius_mm: float, rng: np.random.Generator) -> list[Place]:
    """``n`` places inside the lung fields the read found (alternating sides), at least ``radius_mm + CLEAR_MM`` inside
    a field and from the heart and the mediastinum."""
    size = facts.image_size
    px = facts.spacing.row_mm
    keep = int(math.ceil((radius_mm + CLEAR_MM) / px))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * keep + 1, 2 * keep + 1))
    centre = (_mask(facts, "heart", size) | _mask(facts, "mediastinum", size)).astype(np.uint8)
    away = ~cv2.dilate(centre, kernel).astype(bool)
    inside = {side: np.nonzero(cv2.erode(_mask(facts, f"lung_{side}", size).astype(np.uint8), kernel).astype(bool)
                               & away) for side in ("right", "left")}
    out: list[Place] = []
    for i in range(n):
        side = ("right", "left")[i % 2]
        ys, xs = inside[side]
        if not len(xs):
            continue
        j = int(rng.integers(len(xs)))
        out.append(Place(side, float(xs[j]), float(ys[j])))
    return out


def lung_spread(facts: Any, frame: Any, pixels: np.ndarray) -> float:
    """``IQR``: the 75th less the 25th percentile of the original pixels on the lung fields the clean read found."""
    shape = pixels.shape[:2]
    lungs = _mask(facts, "lung_right", facts.image_size, frame, shape) | _mask(facts, "lung_left", facts.image_size,
                                                                              frame, shape)
    if not lungs.any():
        return float("nan")
    low, high = np.percentile(pixels[lungs], [25, 75])
    return float(high - low)


def insert(pixels: np.ndarray, frame: Any, spacing_mm: float, place: Place, size_mm: float, peak: float) -> bytes:
    """The film with the nodule added, as a PNG of the upload's bit depth."""
    scale = float(frame.scale)  # original pixels per working pixel
    x, y = frame.to_original(place.x, place.y)
    radius = size_mm / 2 / spacing_mm * scale
    added = sphere(pixels.shape[:2], float(x), float(y), radius, peak, BLUR_MM / spacing_mm * scale)
    top = 65535 if pixels.dtype == np.uint16 else 255
    out = np.clip(np.rint(pixels.astype(np.float32) + added), 0, top).astype(pixels.dtype)
    ok, png = cv2.imencode(".png", out)
    if not ok:
        raise RuntimeError("the film could not be written as PNG")
    return png.tobytes()


def score(findings: Any, place: Place, size_mm: float, spacing_mm: float) -> tuple[bool, bool, float | None, int]:
    """(found, on its side, size ratio, findings elsewhere) of one read."""
    def off(f: Any) -> float:
        return math.hypot(f.center_px[0] - place.x, f.center_px[1] - place.y) * spacing_mm

    f = min(findings, key=off, default=None)
    if f is None or off(f) > WITHIN_MM:
        return False, False, None, len(findings)
    return True, f.side == place.side, round(float(f.diameter_mm) / size_mm, 3), len(findings) - 1


def read_film(engine: Any, data: bytes, name: str) -> Any:
    from orchestrator.errors import NotAChestFilmError

    try:
        return engine.analyse_film(data, name, {}, "en")
    except NotAChestFilmError as exc:
        return exc.reason


def run(engine: Any, folder: Path, sizes: list[float], contrasts: list[float], per_film: int, seed: int = 0
        ) -> tuple[list[Read], list[np.ndarray]]:
    reads: list[Read] = []
    tiles: list[np.ndarray] = []
    for k, (name, row) in enumerate(labelled_films(folder)):
        if row.get("label") != "normal":
            continue
        data = (folder / name).read_bytes()
        clean = read_film(engine, data, name)
        if isinstance(clean, str):
            continue
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None or pixels.ndim != 2:
            pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        spread = lung_spread(clean.facts, clean.frame, pixels)
        spacing = clean.facts.spacing.row_mm
        rng = np.random.default_rng([seed, k])
        spots = places(clean.facts, per_film, max(sizes) / 2, rng)
        for place in spots:
            for size in sizes:
                for contrast in contrasts:
                    peak = contrast * size / REFERENCE_MM * spread
                    film = read_film(engine, insert(pixels, clean.frame, spacing, place, size, peak), "inserted.png")
                    if isinstance(film, str):
                        reads.append(Read(size, contrast, place, False, refused=film))
                        continue
                    found, side, ratio, false = score(film.facts.findings, place, size, spacing)
                    reads.append(Read(size, contrast, place, found, side, ratio, false))
                    if contrast == contrasts[-1]:
                        tiles.append(_tile(film, place, size, found))
    return reads, tiles


def _tile(film: Any, place: Place, size_mm: float, found: bool) -> np.ndarray:
    """The working film round the nodule (twice the larger of 40 mm and its size), its findings' outlines drawn: green
    where found, red where not."""
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(film.display_png)).convert("L"))
    px = film.facts.spacing.row_mm
    half = int(max(40.0, size_mm) / px)
    vis = cv2.cvtColor(np.pad(img, half), cv2.COLOR_GRAY2BGR)
    colour = (0, 200, 0) if found else (0, 0, 255)
    for f in film.facts.findings:
        pts = np.round(np.array(f.polygon_px) + half).astype(np.int32)
        if len(pts) >= 3:
            cv2.polylines(vis, [pts], True, colour, 1)
    x, y = int(place.x) + half, int(place.y) + half
    cv2.circle(vis, (x, y), max(2, int(size_mm / 2 / px)), (255, 160, 0), 1)
    crop = vis[y - half:y + half, x - half:x + half]
    return cv2.resize(crop, (160, 160), interpolation=cv2.INTER_AREA)


def table(reads: list[Read]) -> list[dict[str, Any]]:
    rows = []
    for size in sorted({r.size_mm for r in reads}):
        for contrast in sorted({r.contrast for r in reads}):
            sel = [r for r in reads if r.size_mm == size and r.contrast == contrast]
            found = [r for r in sel if r.found]
            ratios = [r.size_ratio for r in found if r.size_ratio is not None]
            rows.append({"size_mm": size, "contrast": contrast, "nodules": len(sel), "found": len(found),
                         "side_right": sum(r.side_right for r in found),
                         "size_within": sum(abs(x - 1.0) <= SIZE_WITHIN for x in ratios),
                         "size_ratio_median": round(float(np.median(ratios)), 2) if ratios else None,
                         "false_per_film": round(sum(r.false for r in sel) / max(len(sel), 1), 2),
                         "refused": sum(r.refused is not None for r in sel)})
    return rows


def measure_phantom(seeds: range = range(50, 110)) -> dict[str, float]:
    """``c`` of the phantom's own nodules at physical contrast (``CaseSpec(conspicuity=1.0)``): each one's centre excess
    over the lung round its outline (``density.ring_mask``, as the findings layer reads a lesion's surround), over its
    film's lung-field spread (``lung_spread``'s percentiles, on the
    truth's lung fields), scaled to ``REFERENCE_MM``; the median, for the own look and every rendering family."""
    from encoder.anatomy_classes import ANATOMY_CLASSES
    from encoder.phantom import CaseSpec, generate_case
    from orchestrator.facts import PixelSpacing
    from orchestrator.findings.density import ring_mask
    from orchestrator.findings.relations import filled

    lung_i = [ANATOMY_CLASSES.index("lung_right"), ANATOMY_CLASSES.index("lung_left")]
    out: dict[str, float] = {}
    for render in (None, "all"):
        cs = []
        for seed in seeds:
            case = generate_case(seed, CaseSpec(render=render, conspicuity=1.0))
            img = case.image.astype(np.float32)
            lungs = case.masks[lung_i].any(0)
            low, high = np.percentile(img[lungs], [25, 75])
            px = float(np.mean(case.pixel_spacing_mm))
            for lesion in case.truth["lesions"]:
                if lesion.get("type") != "nodule" or not lesion.get("contour_px"):
                    continue
                m = filled(tuple(map(tuple, lesion["contour_px"])), img.shape)
                ring = ring_mask(m, lungs, PixelSpacing(px, px, "dicom"), None)
                if ring.sum() < 20:
                    continue
                x, y = (int(round(v)) for v in lesion["center_px"])
                excess = float(img[y - 1:y + 2, x - 1:x + 2].mean() - np.median(img[ring]))
                cs.append(excess / float(high - low) * REFERENCE_MM / float(lesion["diameter_mm"]))
        out["own look" if render is None else "rendering families"] = round(float(np.median(cs)), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real-dev", type=Path, default=None, help="a folder of real films with labels.json")
    p.add_argument("--sizes", default="10,15,20,30", help="nodule diameters, mm")
    p.add_argument("--contrasts", default="0.25,0.5,1", help="a 15 mm nodule's centre excess over the lung fields' IQR")
    p.add_argument("--per-film", type=int, default=6, help="places per normal film")
    p.add_argument("--sheet", type=Path, default=None, help="write crops of every nodule at the last contrast here (PNG)")
    p.add_argument("--json", type=Path, default=None, help="write the table here")
    p.add_argument("--measure-phantom", action="store_true", help="the phantom's own c at physical contrast, and stop")
    args = p.parse_args(argv)
    if args.measure_phantom:
        print(json.dumps(measure_phantom()))
        return 0
    if args.real_dev is None:
        p.error("--real-dev is needed")
    sizes = [float(v) for v in args.sizes.split(",")]
    contrasts = [float(v) for v in args.contrasts.split(",")]
    with served_engine() as engine:
        reads, tiles = run(engine, args.real_dev, sizes, contrasts, args.per_film)
    rows = table(reads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; found within {WITHIN_MM:.0f} mm, "
          f"size within {SIZE_WITHIN:.0%}\n")
    print("| nodule | contrast c | nodules | found | side right | size within 30% | size ratio (median) | false per film |"
          " refused |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['size_mm']:.0f} mm | {r['contrast']} | {r['nodules']} | {r['found']} | {r['side_right']} | "
              f"{r['size_within']} | {r['size_ratio_median']} | {r['false_per_film']} | {r['refused']} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1), encoding="utf-8")
    if args.sheet and tiles:
        per_row = 8
        blank = np.zeros_like(tiles[0])
        grid = [np.hstack(tiles[i:i + per_row] + [blank] * (per_row - len(tiles[i:i + per_row])))
                for i in range(0, len(tiles), per_row)]
        cv2.imwrite(str(args.sheet), np.vstack(grid))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
