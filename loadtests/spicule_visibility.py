"""How visible the phantom's spicules are on its detector-resolution films (issue 22).

For each case seed, an 18 mm spiculated nodule is rendered on a detector film twice with the same
random draws (``encoder.lesion_reader.crops.render_lesion``, ``contrast=0``: the same film and noise
without the lesion); the difference is the lesion's own contribution to the reader's crop. Reported
per lesion: its mean over the body (within 0.95 r of the centre) and over the spicules (truth mask
pixels beyond 1.15 r), and the crop's pixel noise (high-pass: the lesion-free crop minus its 2-pixel
Gaussian). A spicule whose contrast is below the noise cannot be read from the pixels by any reader.

    .venv/bin/python -m loadtests.spicule_visibility --seeds 0-2 --per-seed 3
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from encoder.lesion_reader.cli import parse_seeds


def measure(seeds: list[int], per_seed: int, diameter_mm: float = 18.0) -> list[dict[str, float]]:
    from encoder.lesion_reader.crops import _rng, film_background, render_lesion
    from encoder.phantom.lesions import LesionSpec
    from encoder.phantom.volume import load_volume
    from orchestrator.contracts.lesion_reader import CROP_MM_PER_PX, CROP_SIZE
    from orchestrator.settings import Settings

    vol = load_volume(Settings().cache_dir)
    r = diameter_mm / 2
    yy, xx = np.mgrid[:CROP_SIZE, :CROP_SIZE]
    rho = np.hypot(xx - (CROP_SIZE - 1) / 2, yy - (CROP_SIZE - 1) / 2) * CROP_MM_PER_PX
    out = []
    for seed in seeds:
        bg = film_background(seed, vol)
        for k in range(per_seed):
            spec = LesionSpec(type="nodule", diameter_mm=diameter_mm, margin="spiculated", lobulated=False)
            state = _rng(seed, 50 + k).bit_generator.state
            draws = [np.random.default_rng() for _ in range(2)]
            for g in draws:
                g.bit_generator.state = state
            with_lesion = render_lesion(bg, vol, spec, draws[0])
            without = render_lesion(bg, vol, spec, draws[1], contrast=0.0)
            diff = with_lesion.crop[0] - without.crop[0]
            truth = np.kron(with_lesion.fine_mask, np.ones((2, 2), dtype=bool))
            body, spicules = truth & (rho <= 0.95 * r), truth & (rho > 1.15 * r)
            noise = without.crop[0] - cv2.GaussianBlur(without.crop[0], (0, 0), 2)
            out.append({"seed": seed, "body": round(float(diff[body].mean()), 4),
                        "spicules": round(float(diff[spicules].mean()), 4) if spicules.any() else None,
                        "spicule_px": int(spicules.sum()), "noise_sd": round(float(noise.std()), 4)})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--per-seed", type=int, default=3)
    args = p.parse_args(argv)
    rows = measure(parse_seeds(args.seeds), args.per_seed)
    for row in rows:
        print(json.dumps(row))
    spic = [r["spicules"] for r in rows if r["spicules"] is not None]
    print(json.dumps({"body_mean": round(float(np.mean([r["body"] for r in rows])), 4),
                      "spicule_mean": round(float(np.mean(spic)), 4),
                      "noise_sd_mean": round(float(np.mean([r["noise_sd"] for r in rows])), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
