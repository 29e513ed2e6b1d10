"""How visible the phantom's spicules are on its detector-resolution films (issue 22).

For each case seed, an 18 mm spiculated nodule is rendered on a detector film twice with the same
random draws (``encoder.lesion_reader.crops.render_lesion``, ``contrast=0``: the same film and noise
without the lesion); the difference is the lesion's own contribution to the reader's crop. Reported
per lesion: its mean over the body (within 0.95 r of the centre) and over the spicules (truth mask
pixels beyond 1.15 r), and the crop's pixel noise (high-pass: the lesion-free crop minus its 2-pixel
Gaussian), and ``white_noise_snr``: the spicules' own signal summed as a matched filter would sum it
(its norm over the noise), the best any reader could do if the noise were white and the anatomy known.

``--examples DIR`` asks the realistic question on saved reader examples (``train-reader
--generate-only``): the anatomy behind a lesion is not known to a reader. Around each spiculated
nodule >= 10 mm the crop is resampled on rays from the truth mask's centre (2.5 degree steps); the
body's edge on each ray is the running median (+-30 degrees) of the truth outline's radius, so the
spicules' own protrusions are left out; a spicule is looked for as brightness 0.5-6 mm outside that
edge, less the background there (the 30th percentile over +-45 degrees: spicules are narrow and
bright), averaged over ~12 degrees. Reported: how well that signal tells the truth's spicule hours
from the other directions (area under the ROC curve: 0.5 is chance). The observer is told where the
lesion and its outline are and where to look, so this is a generous bound for a matched filter.
``--control`` runs the same filter on the rendered pair of ``--seeds``: on the lesion's own contribution
plus white noise of the crop's level (the anatomy known and taken away), and on the crop as a reader
gets it (the anatomy behind), so that a low separability is the anatomy's doing, not the filter's.

    .venv/bin/python -m loadtests.spicule_visibility --seeds 0-2 --per-seed 3
    .venv/bin/python -m loadtests.spicule_visibility --examples data/lesion-reader/eval
    .venv/bin/python -m loadtests.spicule_visibility --control --seeds 0-7 --per-seed 3
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from encoder.lesion_reader.cli import parse_seeds


def rendered_pairs(seeds: list[int], per_seed: int, diameter_mm: float = 18.0) -> Iterator[tuple[Any, Any]]:
    """(with the lesion, without it) for each seed's ``per_seed`` spiculated nodules: the same film,
    geometry and noise, the same random draws."""
    from encoder.lesion_reader.crops import _rng, film_background, render_lesion
    from encoder.phantom.lesions import LesionSpec
    from encoder.phantom.volume import load_volume
    from orchestrator.settings import Settings

    vol = load_volume(Settings().cache_dir)
    for seed in seeds:
        bg = film_background(seed, vol)
        for k in range(per_seed):
            spec = LesionSpec(type="nodule", diameter_mm=diameter_mm, margin="spiculated", lobulated=False)
            state = _rng(seed, 50 + k).bit_generator.state
            draws = [np.random.default_rng() for _ in range(2)]
            for g in draws:
                g.bit_generator.state = state
            yield render_lesion(bg, vol, spec, draws[0]), render_lesion(bg, vol, spec, draws[1], contrast=0.0)


def measure(seeds: list[int], per_seed: int, diameter_mm: float = 18.0) -> list[dict[str, float]]:
    from orchestrator.contracts.lesion_reader import CROP_MM_PER_PX, CROP_SIZE

    r = diameter_mm / 2
    yy, xx = np.mgrid[:CROP_SIZE, :CROP_SIZE]
    rho = np.hypot(xx - (CROP_SIZE - 1) / 2, yy - (CROP_SIZE - 1) / 2) * CROP_MM_PER_PX
    out = []
    for with_lesion, without in rendered_pairs(seeds, per_seed, diameter_mm):
        seed = int(with_lesion.truth["seed"])
        diff = with_lesion.crop[0] - without.crop[0]
        truth = np.kron(with_lesion.fine_mask, np.ones((2, 2), dtype=bool))
        body, spicules = truth & (rho <= 0.95 * r), truth & (rho > 1.15 * r)
        noise = without.crop[0] - cv2.GaussianBlur(without.crop[0], (0, 0), 2)
        noise_sd = float(noise.std())
        out.append({"seed": seed, "body": round(float(diff[body].mean()), 4),
                    "spicules": round(float(diff[spicules].mean()), 4) if spicules.any() else None,
                    "spicule_px": int(spicules.sum()), "noise_sd": round(noise_sd, 4),
                    "white_noise_snr": round(float(np.sqrt((diff[spicules] ** 2).sum())) / noise_sd, 2)})
    return out


RAYS = 144  # 2.5 degrees
RAY_PX = 160  # 40 mm at the crop's 0.25 mm
OUTSIDE_PX = (2, 24)  # 0.5-6 mm outside the body's edge


def _running(a: np.ndarray, half: int, q: float) -> np.ndarray:
    idx = (np.arange(len(a))[:, None] + np.arange(-half, half + 1)[None, :]) % len(a)
    return np.percentile(a[idx], q, axis=1)


def spicule_signal(image: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Per ray (``RAYS``, clockwise from cranial), brightness just outside the body's edge less the
    background there. ``image``: the crop's pixels (256²); ``outline``: the lesion (bool, any size,
    resampled to the crop)."""
    size = image.shape[0]
    mask = cv2.resize(outline.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR) > 0.5
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    theta = np.arange(RAYS) * 2 * np.pi / RAYS
    rr = np.arange(RAY_PX, dtype=np.float32)
    mx = (cx + rr[None, :] * np.sin(theta)[:, None]).astype(np.float32)
    my = (cy - rr[None, :] * np.cos(theta)[:, None]).astype(np.float32)
    rays = cv2.remap(image.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inside = cv2.remap(mask.astype(np.float32), mx, my, cv2.INTER_LINEAR) > 0.5
    edge = np.where(inside.all(1), RAY_PX - 1, np.argmin(inside, axis=1)).astype(float)
    body = _running(edge, 12, 50)  # +-30 degrees: the body, without narrow protrusions
    offsets = np.arange(OUTSIDE_PX[0], OUTSIDE_PX[1])
    idx = np.clip(body[:, None] + offsets[None, :], 0, RAY_PX - 1).astype(int)
    outside = np.take_along_axis(rays, idx, axis=1)
    background = np.stack([_running(outside[:, j], 18, 30) for j in range(outside.shape[1])], axis=1)
    signal = (outside - background).mean(axis=1)
    return np.convolve(np.r_[signal[-2:], signal, signal[:2]], np.ones(5) / 5, mode="valid")


def auc(positive: list[float], negative: list[float]) -> float:
    """Area under the ROC curve (Mann-Whitney)."""
    s = np.r_[positive, negative]
    ranks = np.empty(len(s))
    ranks[np.argsort(s, kind="stable")] = np.arange(1, len(s) + 1)
    n1, n0 = len(positive), len(negative)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _hours_against_rest(signal: np.ndarray, hours: list[int], at: list[float], elsewhere: list[float]) -> None:
    near = np.zeros(RAYS, dtype=bool)
    for hour in hours:
        k = int(round((hour % 12) * 30.0 * RAYS / 360.0)) % RAYS
        at.append(float(signal[k]))
        near[(k + np.arange(-4, 5)) % RAYS] = True  # +-10 degrees: the spicule's own rays
    elsewhere.extend(signal[~near].tolist())


def control(seeds: list[int], per_seed: int, noise_sd: float = 0.0072) -> dict[str, float | int]:
    """The filter on the lesion's own contribution plus white noise (the anatomy known) and on the crop
    (the anatomy behind it): hour separability (AUC) of each."""
    known: tuple[list[float], list[float]] = ([], [])
    behind: tuple[list[float], list[float]] = ([], [])
    for i, (with_lesion, without) in enumerate(rendered_pairs(seeds, per_seed)):
        hours = with_lesion.truth["spicule_clock"]
        noise = np.random.default_rng(i).normal(0.0, noise_sd, with_lesion.crop[0].shape)
        own = with_lesion.crop[0] - without.crop[0] + noise
        _hours_against_rest(spicule_signal(own, with_lesion.fine_mask), hours, *known)
        _hours_against_rest(spicule_signal(with_lesion.crop[0], with_lesion.fine_mask), hours, *behind)
    return {"spicule_hours": len(known[0]), "auc_anatomy_known": round(auc(*known), 3),
            "auc_anatomy_behind": round(auc(*behind), 3)}


def hour_separability(paths: list, min_mm: float = 10.0) -> dict[str, float | int]:
    """Spicule hours against the other directions on saved examples, by :func:`spicule_signal`."""
    from encoder.lesion_reader.crops import load_examples

    crops, masks, truths = load_examples(paths)
    at: list[float] = []
    elsewhere: list[float] = []
    lesions = 0
    for crop, mask, t in zip(crops, masks, truths, strict=True):
        if t["margin"] != "spiculated" or t["type"] not in ("nodule", "mass") or t["diameter_mm"] < min_mm:
            continue
        _hours_against_rest(spicule_signal(crop[0], mask), t["spicule_clock"], at, elsewhere)
        lesions += 1
    return {"lesions": lesions, "spicule_hours": len(at), "other_rays": len(elsewhere),
            "auc": round(auc(at, elsewhere), 3) if at else float("nan")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--per-seed", type=int, default=3)
    p.add_argument("--control", action="store_true", help="the filter with the anatomy known and behind")
    p.add_argument("--examples", default=None, help="a folder of saved reader examples: the hour separability")
    args = p.parse_args(argv)
    if args.control:
        print(json.dumps(control(parse_seeds(args.seeds), args.per_seed)))
        return 0
    if args.examples:
        from pathlib import Path

        print(json.dumps(hour_separability(sorted(Path(args.examples).glob("*.npz")))))
        return 0
    rows = measure(parse_seeds(args.seeds), args.per_seed)
    for row in rows:
        print(json.dumps(row))
    spic = [r["spicules"] for r in rows if r["spicules"] is not None]
    print(json.dumps({"body_mean": round(float(np.mean([r["body"] for r in rows])), 4),
                      "spicule_mean": round(float(np.mean(spic)), 4),
                      "noise_sd_mean": round(float(np.mean([r["noise_sd"] for r in rows])), 4),
                      "white_noise_snr_median": round(float(np.median([r["white_noise_snr"] for r in rows])), 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
