"""Lung shapes: the phantom's projected lung fields against 517 real ones.

    .venv/bin/python -m loadtests.lung_shapes --seeds 0-99

The ``torchxrayvision`` wheel carries ``semantic_masks_v7labs_lungs.zip``: lung masks drawn by
hand on 517 real chest films (the COVID-19 image collection; masks only, no film). Those masks
steer the ranges of the phantom's ``anatomy`` family (``encoder.phantom.deform``); nothing else
from real films is used, and no real film is read.

Per film, from a mask with the two lung fields (the patient's right lung on the image's left):

============================  =================================================================
``wh_right`` / ``wh_left``     lung width / height (bounding boxes)
``area_right`` / ``area_left``  lung area / area of the thorax box (the box around both lungs)
``height_width``               the taller lung's height / thorax box width
``rl_area``                    right lung area / left lung area
``cpa_right`` / ``cpa_left``   costophrenic angle, degrees: between the lateral wall and the
                               hemidiaphragm, lines fitted 4-30 % of the lung's size away
                               from the lateral-inferior corner
``gap``                        gap between the lungs' medial edges, 25-40 % down the thorax
                               box (above the heart), / thorax box width
``dome``                       (left dome row - right dome row) / thorax box height: > 0 when
                               the right hemidiaphragm is higher
============================  =================================================================

The real masks outline the lung field as a reader sees it: down to the domes (not the posterior
recesses below them), medially to the mediastinal and spinal silhouette, behind the heart
included. The phantom's truth masks are projections of the whole 3-D lung (every ray that crosses
any lung), which overlap at the midline, so the comparison uses the phantom's *film-visible*
field: where the ray crosses at least 40 mm of that lung, above the domes (:func:`visible_fields`).

Real masks that are not two side-by-side lung fields (lateral views, CT slices, empty or partial
masks) are left out and counted. Prints a table (median and 10th/90th percentiles per statistic:
real, plain phantom, phantom through the ``anatomy`` family) and writes
``loadtests/results/lung_shapes.png``.
"""

from __future__ import annotations

import argparse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from orchestrator.findings.plausibility import width_height

STATS: tuple[str, ...] = ("wh_right", "wh_left", "area_right", "area_left", "height_width", "rl_area",
                          "cpa_right", "cpa_left", "gap", "dome")
WORK_SIZE = 256  # masks are compared at this size (longest side)
RESULTS = Path(__file__).resolve().parent / "results"


# -- the masks ---------------------------------------------------------------------------------
def masks_zip() -> Path:
    """``semantic_masks_v7labs_lungs.zip`` inside the installed torchxrayvision wheel."""
    import importlib.metadata

    dist = importlib.metadata.distribution("torchxrayvision")
    path = Path(str(dist.locate_file("torchxrayvision/data/semantic_masks_v7labs_lungs.zip")))
    if not path.is_file():
        raise FileNotFoundError(f"{path} (install torchxrayvision==1.5.7)")
    return path


def real_masks(path: Path | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """(name, bool mask) for every mask in the zip (lung = pixel value 255, as torchxrayvision reads it)."""
    with zipfile.ZipFile(path or masks_zip()) as zf:
        for name in sorted(zf.namelist()):
            if name.endswith("/"):
                continue
            data = np.frombuffer(zf.read(name), dtype=np.uint8)
            img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
            if img is not None:
                yield name.rsplit("/", 1)[-1], img == 255


def _resize(mask: np.ndarray, size: int = WORK_SIZE) -> np.ndarray:
    h, w = mask.shape
    s = size / max(h, w)
    out = cv2.resize(mask.astype(np.uint8) * 255, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA)
    return out >= 128


def two_lungs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(right lung, left lung) as the two largest components, or None when the mask is not two
    side-by-side lung fields of plausible shape."""
    m = _resize(mask)
    n, lab, st, cen = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n < 3:
        return None
    order = 1 + np.argsort(st[1:, cv2.CC_STAT_AREA])[::-1]
    a, b = int(order[0]), int(order[1])
    total = float(m.sum())
    if st[b, cv2.CC_STAT_AREA] < 0.25 * st[a, cv2.CC_STAT_AREA] or st[a, cv2.CC_STAT_AREA] + st[b, cv2.CC_STAT_AREA] < 0.9 * total:
        return None
    right, left = (a, b) if cen[a, 0] < cen[b, 0] else (b, a)
    boxes = {k: st[k, :4] for k in (right, left)}
    xr, yr, wr, hr = boxes[right]
    xl, yl, wl, hl = boxes[left]
    if xr + wr > xl + 0.25 * min(wr, wl):  # overlapping side by side: not two lungs
        return None
    for _, _, w, h in boxes.values():
        if not 0.9 <= h / max(w, 1) <= 4.0:
            return None
    top, bottom = min(yr, yl), max(yr + hr, yl + hl)
    if max(hr, hl) < 0.6 * (bottom - top) or min(hr, hl) < 0.5 * max(hr, hl):
        return None
    return lab == right, lab == left


# -- the statistics --------------------------------------------------------------------------
def _fit_angle(p: np.ndarray, wall: np.ndarray, floor: np.ndarray) -> float:
    """Angle (deg) at ``p`` between a line through ``wall`` points and one through ``floor`` points."""
    if len(wall) < 3 or len(floor) < 3:
        return float("nan")
    a = np.polyfit(wall[:, 1], wall[:, 0], 1)[0]  # wall: x = a*y + b
    c = np.polyfit(floor[:, 0], floor[:, 1], 1)[0]  # floor: y = c*x + d
    up = np.array([-a, -1.0])
    toward_floor = floor.mean(axis=0) - p
    along = np.array([1.0, c]) * np.sign(toward_floor[0] or 1.0)
    cosang = up @ along / (np.linalg.norm(up) * np.linalg.norm(along))
    return float(np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0))))


def costophrenic_angle(lung: np.ndarray, side: str) -> float:
    """Angle between the lateral chest wall and the hemidiaphragm at the lung's lateral-inferior corner."""
    ys, xs = np.nonzero(lung)
    if len(ys) < 50:
        return float("nan")
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    h, w = float(y1 - y0 + 1), float(x1 - x0 + 1)
    lateral = (x1 - xs) / w if side == "right" else (xs - x0) / w  # 1 at the lateral edge
    k = int(np.argmax((ys - y0) / h + lateral))
    p = np.array([xs[k], ys[k]], dtype=float)
    rows = np.arange(int(p[1] - 0.30 * h), int(p[1] - 0.04 * h))
    rows = rows[(rows >= y0) & lung[np.clip(rows, 0, lung.shape[0] - 1)].any(axis=1)]
    edge = [np.nonzero(lung[r])[0] for r in rows]
    wall = np.array([[e.min() if side == "right" else e.max(), r] for e, r in zip(edge, rows, strict=True)], float)
    step = 1 if side == "right" else -1
    cols = np.arange(int(p[0] + step * 0.04 * w), int(p[0] + step * 0.30 * w), step)
    cols = cols[(cols >= 0) & (cols < lung.shape[1])]
    cols = cols[lung[:, cols].any(axis=0)]
    floor = np.array([[c, np.nonzero(lung[:, c])[0].max()] for c in cols], float)
    return _fit_angle(p, wall, floor)


def _dome_row(lung: np.ndarray) -> float:
    """Highest point of the lung's lower border over its middle third (the dome)."""
    cols = np.nonzero(lung.any(axis=0))[0]
    lo, hi = cols.min(), cols.max()
    mid = np.arange(lo + (hi - lo) // 3, hi - (hi - lo) // 3 + 1)
    bottoms = [np.nonzero(lung[:, c])[0].max() for c in mid if lung[:, c].any()]
    return float(min(bottoms)) if bottoms else float("nan")


def _gap(right: np.ndarray, left: np.ndarray, top: int, height: int, width: int) -> float:
    gaps = []
    for r in range(top + int(0.25 * height), top + int(0.40 * height) + 1):
        if right[r].any() and left[r].any():
            gaps.append(np.nonzero(left[r])[0].min() - np.nonzero(right[r])[0].max() - 1)
    return float(np.median(gaps)) / width if gaps else float("nan")


def shape_stats(right: np.ndarray, left: np.ndarray) -> dict[str, float]:
    """The statistics of one film's two lung fields (module docstring)."""
    both = right | left
    ys, xs = np.nonzero(both)
    top, height = int(ys.min()), int(ys.max() - ys.min() + 1)
    width = int(xs.max() - xs.min() + 1)
    box = float(height * width)
    out: dict[str, float] = {}
    heights = {}
    for side, m in (("right", right), ("left", left)):
        yy = np.nonzero(m)[0]
        heights[side] = float(yy.max() - yy.min() + 1)
        out[f"wh_{side}"] = width_height(m)
        out[f"area_{side}"] = float(m.sum()) / box
        out[f"cpa_{side}"] = costophrenic_angle(m, side)
    out["height_width"] = max(heights.values()) / width
    out["rl_area"] = float(right.sum()) / max(float(left.sum()), 1.0)
    out["gap"] = _gap(right, left, top, height, width)
    out["dome"] = (_dome_row(left) - _dome_row(right)) / height
    return out


# -- the phantom -------------------------------------------------------------------------------
VISIBLE_LUNG_MM = 40.0  # a ray through at least this much lung shows lung on the film


def visible_fields(masks: np.ndarray, thickness: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A phantom film's film-visible lung fields (right, left): where the ray crosses at least
    ``VISIBLE_LUNG_MM`` of that lung, above the domes (the sub-diaphragmatic mask), smoothed,
    largest component. Like a reader's outline: along the spine and the mediastinal edge, behind
    the heart included, down to the domes."""
    from orchestrator.contracts.encoder import ANATOMY_CLASSES

    below = np.asarray(masks[ANATOMY_CLASSES.index("diaphragm")], dtype=bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    out = []
    for side in ("right", "left"):
        m = ((thickness[side] >= VISIBLE_LUNG_MM) & ~below).astype(np.uint8)
        m = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
        n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        if n > 2:
            m = (lab == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
        out.append(_resize(m.astype(bool)))
    return out[0], out[1]


def phantom_lungs(seed: int, spec: Any, volume: Any, size: int = 512) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The truth masks of case ``seed`` (as ``generate_case`` makes them, anatomy family included)
    and each lung's projected thickness (mm) on the same film; no lesion, no rendering."""
    from encoder.phantom.anatomy import film_masks
    from encoder.phantom.case import case_geometry, case_style
    from encoder.phantom.deform import deform_anatomy
    from encoder.phantom.projection import project_channels
    from encoder.phantom.volume import VOLUME_CHANNELS

    style = case_style(seed, spec)
    geom = case_geometry(seed, spec, size, volume)
    counts = project_channels(volume, geom)
    masks, hilum = film_masks(counts, geom)
    warp = geom.apply_warp
    if style is not None and style.has("anatomy"):
        frame, masks, _ = deform_anatomy(style.anatomy, geom, masks, hilum)
        warp = frame.warp
    dy = float(volume.spacing[1])
    lobes = {"right": ("RUL", "RML", "RLL"), "left": ("LUL", "LLL")}
    thickness = {side: warp(sum(counts[VOLUME_CHANNELS.index(lobe)] for lobe in names) * dy)
                 for side, names in lobes.items()}
    return masks, thickness


def real_table(path: Path | None = None, limit: int | None = None
               ) -> tuple[dict[str, list[float]], list[np.ndarray], int, int]:
    """Every usable real mask (the first ``limit``) -> (values per statistic, outlines, used, left out)."""
    values: dict[str, list[float]] = {k: [] for k in STATS}
    outlines = []
    used = skipped = 0
    for n, (_, mask) in enumerate(real_masks(path)):
        if limit is not None and n >= limit:
            break
        pair = two_lungs(mask)
        if pair is None:
            skipped += 1
            continue
        used += 1
        for k, v in shape_stats(*pair).items():
            values[k].append(v)
        outlines.append(normalised_outline(*pair))
    return values, outlines, used, skipped


def anatomy_spec(seed: int) -> Any:
    """The case spec of seed ``seed`` through the anatomy family, always on (no lesions: the lung
    fields do not depend on them). Its anatomy is the one ``CaseSpec(render="anatomy")`` draws for
    the seed when the family is on."""
    from encoder.phantom.case import RENDER_STREAM, CaseSpec, _rng
    from encoder.phantom.rendering import draw_style

    return CaseSpec(lesions=(), render=draw_style(_rng(seed, RENDER_STREAM), families=("anatomy",), p=1.0, plain=0.0))


def _phantom_one(job: tuple[int, bool]) -> tuple[int, dict[str, float], np.ndarray]:
    from encoder.phantom.case import CaseSpec
    from encoder.phantom.volume import load_volume
    from orchestrator.settings import Settings

    seed, anatomy = job
    masks, thickness = phantom_lungs(seed, anatomy_spec(seed) if anatomy else CaseSpec(lesions=()),
                                     load_volume(Settings().cache_dir))
    pair = visible_fields(masks, thickness)
    return seed, shape_stats(*pair), normalised_outline(*pair)


def phantom_table(seeds: list[int], anatomy: bool, workers: int = 1
                  ) -> tuple[dict[str, list[float]], list[np.ndarray]]:
    values: dict[str, list[float]] = {k: [] for k in STATS}
    outlines = []
    jobs = [(s, anatomy) for s in seeds]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_phantom_one, jobs))
    else:
        rows = [_phantom_one(j) for j in jobs]
    for _, st, outline in sorted(rows, key=lambda r: r[0]):
        for k, v in st.items():
            values[k].append(v)
        outlines.append(outline)
    return values, outlines


def normalised_outline(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Both lungs' outer contours, in thorax-box coordinates (0..1), as one (N, 2) array (NaN between)."""
    ys, xs = np.nonzero(right | left)
    x0, y0 = xs.min(), ys.min()
    w, h = max(xs.max() - x0, 1), max(ys.max() - y0, 1)
    parts = []
    for m in (right, left):
        cs, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if cs:
            c = max(cs, key=cv2.contourArea)[:, 0, :].astype(float)
            c = np.vstack([c, c[:1]])
            parts.append(np.column_stack([(c[:, 0] - x0) / w, (c[:, 1] - y0) / h]))
            parts.append(np.full((1, 2), np.nan))
    return np.vstack(parts) if parts else np.zeros((0, 2))


def summary(values: list[float]) -> tuple[float, float, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if not len(v):
        return (float("nan"),) * 3
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    return float(p10), float(p50), float(p90)


def coverage(real: list[float], phantom: list[float]) -> float:
    """Share of the real films whose value lies within the phantom's 2nd-98th percentile range."""
    r = np.asarray([x for x in real if np.isfinite(x)], dtype=float)
    ph = np.asarray([x for x in phantom if np.isfinite(x)], dtype=float)
    if not len(r) or not len(ph):
        return float("nan")
    lo, hi = np.percentile(ph, [2, 98])
    return float(np.mean((r >= lo) & (r <= hi)))


def format_table(columns: dict[str, dict[str, list[float]]]) -> str:
    """Markdown: per statistic, median [p10, p90] of each column; then the real films covered."""
    names = list(columns)
    head = "| statistic | " + " | ".join(f"{n}: median [p10, p90]" for n in names)
    head += " | real within plain / anatomy p2-p98 |"
    lines = [head, "|" + " --- |" * (len(names) + 2)]
    for k in STATS:
        cells = []
        for n in names:
            p10, p50, p90 = summary(columns[n][k])
            cells.append(f"{p50:.3f} [{p10:.3f}, {p90:.3f}]" if "cpa" not in k else f"{p50:.1f} [{p10:.1f}, {p90:.1f}]")
        real = columns[names[0]][k]
        cov = " / ".join(f"{coverage(real, columns[n][k]):.0%}" for n in names[1:])
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {cov} |")
    return "\n".join(lines)


# -- the figure ----------------------------------------------------------------------------------
COLOURS = {"real": (90, 200, 90), "plain phantom": (230, 230, 230), "anatomy family": (40, 160, 255)}


def _box_row(img: np.ndarray, y: int, k: str, columns: dict[str, dict[str, list[float]]], x0: int, w: int) -> None:
    allv = np.concatenate([np.asarray(c[k], float) for c in columns.values()])
    allv = allv[np.isfinite(allv)]
    lo, hi = np.percentile(allv, [0.5, 99.5])
    pad = 0.05 * (hi - lo + 1e-9)
    lo, hi = lo - pad, hi + pad

    def X(v: float) -> int:
        return int(x0 + (v - lo) / (hi - lo) * w)

    cv2.putText(img, k, (8, y + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    for j, (name, col) in enumerate(columns.items()):
        v = np.asarray(col[k], float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        p2, p10, p50, p90, p98 = np.percentile(v, [2, 10, 50, 90, 98])
        yy = y + 8 + j * 12
        c = COLOURS.get(name, (200, 200, 0))
        cv2.line(img, (X(p2), yy), (X(p98), yy), c, 1)
        cv2.rectangle(img, (X(p10), yy - 4), (X(p90), yy + 4), c, 1)
        cv2.line(img, (X(p50), yy - 5), (X(p50), yy + 5), c, 2)
    for t in np.linspace(lo + pad, hi - pad, 5):
        cv2.putText(img, f"{t:.2f}" if abs(t) < 10 else f"{t:.0f}", (X(t) - 14, y + 48),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.33, (150, 150, 150), 1, cv2.LINE_AA)


def _outlines(img: np.ndarray, x0: int, y0: int, size: int, outlines: list[np.ndarray], colour: tuple[int, int, int],
              limit: int = 60) -> None:
    for o in outlines[:limit]:
        pts = o.copy()
        pts[:, 0] = x0 + pts[:, 0] * size
        pts[:, 1] = y0 + pts[:, 1] * size
        seg: list[np.ndarray] = []
        for p in [*pts, np.array([np.nan, np.nan])]:
            if np.isnan(p[0]):
                if len(seg) > 1:
                    cv2.polylines(img, [np.array(seg, np.int32)], False, colour, 1, cv2.LINE_AA)
                seg = []
            else:
                seg.append(p)


def write_figure(path: Path, columns: dict[str, dict[str, list[float]]], outlines: dict[str, list[np.ndarray]],
                 note: str = "") -> None:
    rows = len(STATS)
    w_box, panel = 560, 300
    img = np.zeros((rows * 56 + 60, 130 + w_box + 20 + len(outlines) * (panel + 10), 3), np.uint8)
    cv2.putText(img, "lung shapes: box p10-p90, bar median, whiskers p2-p98", (8, 18), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, (255, 255, 255), 1, cv2.LINE_AA)
    for j, name in enumerate(columns):
        cv2.putText(img, name, (8 + j * 150, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.45, COLOURS.get(name, (200, 200, 0)),
                    1, cv2.LINE_AA)
    for i, k in enumerate(STATS):
        _box_row(img, 50 + i * 56, k, columns, 130, w_box)
    xo = 130 + w_box + 20
    for j, (name, outs) in enumerate(outlines.items()):
        x = xo + j * (panel + 10)
        cv2.putText(img, f"{name} ({min(len(outs), 60)} films, thorax box)", (x, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                    COLOURS.get(name, (200, 200, 0)), 1, cv2.LINE_AA)
        cv2.rectangle(img, (x, 60), (x + panel - 20, 60 + panel - 20), (80, 80, 80), 1)
        _outlines(img, x, 60, panel - 20, outs, COLOURS.get(name, (200, 200, 0)))
    if note:
        cv2.putText(img, note, (xo, 60 + panel + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (200, 200, 200), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def write_anatomy_sheet(path: Path, seeds: list[int], lesion_mix: str | None = "varied") -> None:
    """Films of the anatomy family (always on, as :func:`anatomy_spec` draws it) with the truth
    drawn: lung, heart and dome outlines, hila, lesions, and the anatomy's main parameters."""
    from dataclasses import replace

    from encoder.phantom.case import generate_case
    from encoder.phantom.sheet import draw_truth, write_tiles
    from encoder.phantom.volume import load_volume
    from orchestrator.settings import Settings

    vol = load_volume(Settings().cache_dir)
    tiles = [draw_truth(generate_case(s, replace(anatomy_spec(s), lesions=None, lesion_mix=lesion_mix), volume=vol))
             for s in seeds]
    write_tiles(path, tiles)


def main(argv: list[str] | None = None) -> int:
    from encoder.dataset import format_seeds, parse_seeds

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-59", help="phantom seeds, e.g. 0-99")
    parser.add_argument("--workers", type=int, default=1, help="processes generating phantom films")
    parser.add_argument("--out", type=Path, default=RESULTS / "lung_shapes.png")
    parser.add_argument("--real-limit", type=int, default=None, help="only the first N real masks (a quick look)")
    parser.add_argument("--sheet", type=Path, default=None,
                        help="only write an overlay sheet of anatomy-family films (varied lesions) here")
    parser.add_argument("--sheet-seeds", default="200-211")
    args = parser.parse_args(argv)
    if args.sheet is not None:
        write_anatomy_sheet(args.sheet, parse_seeds(args.sheet_seeds))
        print(f"wrote {args.sheet}")
        return 0
    seeds = parse_seeds(args.seeds)
    real, real_out, used, skipped = real_table(limit=args.real_limit)
    plain, plain_out = phantom_table(seeds, anatomy=False, workers=args.workers)
    anat, anat_out = phantom_table(seeds, anatomy=True, workers=args.workers)
    columns = {"real": real, "plain phantom": plain, "anatomy family": anat}
    print(f"real masks: {used} used, {skipped} left out (empty or not two lung fields); "
          f"phantom seeds {format_seeds(seeds)} ({len(seeds)} films each)")
    print(format_table(columns))
    write_figure(args.out, columns, {"real": real_out, "plain phantom": plain_out, "anatomy family": anat_out},
                 f"real: {used} masks; phantom seeds {format_seeds(seeds)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
