"""How often can *any* reader name a lesion's lobe from a PA film? The Bayes ceiling.

    .venv/bin/python -m loadtests.lobe_ceiling --films 60          # seeds 0-59, as score_findings

On a PA film the lobes overlap in projection: the lower lobes lie behind the upper and middle
lobes over much of the lung's height. A lesion's pixel position tells a reader which lobes its
ray crosses, not how deep along the ray it sits. This script computes the best any reader can do
from the centre's position alone, knowing the phantom's CT and each film's geometry perfectly:

- the phantom places a lesion by drawing a lobe in proportion to its volume, then a point of that
  lobe deep enough for the lesion and, where it can, not hidden behind the heart, mediastinum or
  a dome on the film (``encoder.phantom.case._candidates``, ``place`` and ``on_open_field``);
- the lung points of the CT that project within ``--ray-px`` of the lesion centre's projection
  are its ray; each lobe's share of its eligible points on that ray, times the lobe's draw
  probability, is the posterior of that lobe;
- the Bayes reader names the lobe with the largest posterior. No reader that sees only where the
  centre lies does better on average: its expected hit rate, the mean of the largest posterior,
  is the ceiling. Its hit rate on these very lesions is printed too; with ~70 lesions it scatters
  by about 5 points around the expectation.

Left out, both small: other lesions' exclusion zones, and the 3,000-point subsample (uniform).
The ceiling uses the centre only. A consolidation is clipped to its lobe, so its outline also
shows its lobe, and its truth centre is the centre of what is consolidated rather than the point
it was placed at: its row is indicative only. The truth scores only; nothing here feeds the engine.
"""

from __future__ import annotations

import argparse
import platform
from collections import defaultdict
from pathlib import Path

import numpy as np

from encoder.phantom.case import (
    OPEN_FIELD_MIN_POINTS,
    CaseSpec,
    case_geometry,
    generate_case,
    on_open_field,
    placement_depth_mm,
)
from encoder.phantom.geometry import Geometry
from encoder.phantom.lesions import LOBE_NAMES, LesionSpec
from encoder.phantom.volume import PhantomVolume, load_volume


def lobe_posterior(vol: PhantomVolume, geom: Geometry, open_field: np.ndarray, film_xy: np.ndarray,
                   centre_mm: np.ndarray, need_depth_mm: float, ray_px: float) -> dict[str, float]:
    """P(lobe | the lesion centre's film position), from the phantom's placement rule."""
    lobe = np.asarray(vol.lung_lobe)
    deep = np.asarray(vol.lung_depth_mm) >= need_depth_mm
    centre_px = geom.film_of(np.asarray(centre_mm, float)[None])[0]
    on_ray = np.hypot(*(film_xy - centre_px).T) <= ray_px
    weights: dict[str, float] = {}
    for n, name in enumerate(LOBE_NAMES, start=1):
        ok = (lobe == n) & deep
        if np.count_nonzero(ok & open_field) >= OPEN_FIELD_MIN_POINTS:  # else place() uses hidden ones too
            ok &= open_field
        if not ok.any():
            continue
        weights[name] = np.count_nonzero(lobe == n) * np.count_nonzero(ok & on_ray) / np.count_nonzero(ok)
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()} if total > 0 else {}


def run(films: int, seed0: int, ray_px: float, vol: PhantomVolume) -> dict[str, list[tuple[bool, float, float]]]:
    rows: dict[str, list[tuple[bool, float, float]]] = defaultdict(list)
    pts_mm = np.asarray(vol.lung_points).astype(np.float64) * np.asarray(vol.spacing, dtype=np.float64)
    spec = CaseSpec()  # what score_findings scores: each seed's random lesions
    for seed in range(seed0, seed0 + films):
        case = generate_case(seed, spec, volume=vol)
        lesions = [t for t in case.truth["lesions"] if t["type"] != "effusion" and t.get("lobe") and "center_3d_mm" in t]
        if not lesions:
            continue
        geom = case_geometry(seed, spec, case.masks.shape[-1], vol)  # the geometry the case was projected with
        film_xy = geom.film_of(pts_mm)
        open_field = on_open_field(case.masks, film_xy)
        for t in lesions:
            lesion = LesionSpec(type=t["type"], diameter_mm=float(t["diameter_mm"]), width_mm=t.get("width_mm"))
            post = lobe_posterior(vol, geom, open_field, film_xy, np.asarray(t["center_3d_mm"]),
                                  placement_depth_mm(lesion), ray_px)
            if post:
                best = max(post, key=post.__getitem__)
                rows[t["type"]].append((best == t["lobe"], post[best], post.get(t["lobe"], 0.0)))
    return rows


def _row(name: str, r: list[tuple[bool, float, float]]) -> str:
    return f"| {name} | {len(r)} | {np.mean([hit for hit, _, _ in r]):.1%} | {np.mean([p for _, p, _ in r]):.1%} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=int, default=60)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--ray-px", type=float, default=3.0, help="radius of the ray around the centre, film px")
    args = ap.parse_args(argv)
    from orchestrator.settings import Settings

    vol = load_volume(Path(Settings().cache_dir))
    rows = run(args.films, args.seed0, args.ray_px, vol)
    print(f"# lobe from a PA film: Bayes ceiling (seeds {args.seed0}..{args.seed0 + args.films - 1}, "
          f"ray radius {args.ray_px} px)\n")
    print("| lesion type | lesions | Bayes reader right, these lesions | expected (mean largest posterior) |")
    print("| --- | --- | --- | --- |")
    every: list[tuple[bool, float, float]] = []
    for kind in sorted(rows):
        every += rows[kind]
        print(_row(kind, rows[kind]))
    if every:
        print(_row("**all**", every))
    print(f"\nmachine: {platform.machine()} {platform.processor() or ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
