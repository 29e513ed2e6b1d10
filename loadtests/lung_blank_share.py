"""How much of each lung field the encoder draws lies on blank film, and whether it lies at the film's edge: what
``plausibility.LUNG_BLANK_MAX`` and ``film_edge.EDGE_CUT_MIN`` rest on.

    .venv/bin/python -m loadtests.lung_blank_share --seeds 1000-1099 --render all        # to set the limits
    .venv/bin/python -m loadtests.lung_blank_share --seeds 200-399 --render all --laterals 700-729 \
        --cut 0.4,0.5,0.6,0.7 [--real-dev REAL_DEV_DIR] [--onnx PATH]                    # to check them

For each film: the encoder's maps (``--onnx``; default the served main weights), then each lung field's blank share
(``orchestrator.findings.blank_film.blank_share``) and its share of rows at the film's edge
(``orchestrator.findings.film_edge.cut_share``). Phantom films are drawn with ``CaseSpec(render=...)`` on two films of
three and the phantom's own look on the third; ``--laterals`` adds lateral films of the phantom's CT
(``encoder/phantom/lateral.py``); ``--cut`` the phantom's own films of seeds 700-719 collimated to their middle
fraction of the width (dark film with faint noise either side, as a tight shutter or a spine film leaves);
``--real-dev`` a folder of real films (checking only). Prints, per source, the distribution of each film's larger
share of each kind and the films over each limit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from loadtests.fit_film_gate import parse_seeds
from orchestrator.findings.blank_film import blank_share
from orchestrator.findings.film_edge import EDGE_CUT_MIN, cut_share
from orchestrator.findings.plausibility import LUNG_BLANK_MAX

SIDES = ("right", "left")


def larger_shares(encoder: object, image: np.ndarray) -> tuple[float, float]:
    """(blank share, edge share) of the lung fields the encoder draws on ``image`` (float [0, 1]), as the findings
    layer takes them (``Geometry``: each field's largest part): each the larger of the two fields'."""
    from orchestrator.contracts.preprocess import prepare_film
    from orchestrator.facts import PixelSpacing
    from orchestrator.findings.geometry import build_geometry

    film, _ = prepare_film(np.asarray(image, dtype=np.float32))
    geom = build_geometry(encoder.encode(film), PixelSpacing(0.7, 0.7, "estimated"))  # type: ignore[attr-defined]
    return (max(blank_share(geom.blank, geom.lung(s).mask) for s in SIDES),
            max(cut_share(geom.blank, geom.lung(s).mask, s) for s in SIDES))


def collimated(image: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """The film cut to the middle ``fraction`` of its width (a few pixels off centre), dark film either side."""
    h, w = image.shape
    half, centre = int(fraction * w / 2), w // 2 + int(rng.integers(-10, 10))
    out = rng.uniform(0.0, 0.08) + rng.normal(0.0, 0.004, image.shape).astype(np.float32)
    out[:, centre - half:centre + half] = image[:, centre - half:centre + half]
    return np.clip(out, 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1000-1099", help="phantom seeds, LO-HI")
    p.add_argument("--render", default="all", help="rendering families (CaseSpec.render) for two films of three")
    p.add_argument("--laterals", default=None, help="lateral film seeds, LO-HI")
    p.add_argument("--cut", default=None, help="fractions of the width, e.g. 0.4,0.5: collimated films")
    p.add_argument("--real-dev", type=Path, default=None, help="a folder of real films (checking only)")
    p.add_argument("--onnx", type=Path, default=None, help="weights (default: the served main weights)")
    args = p.parse_args(argv)
    from encoder.phantom import CaseSpec, generate_case
    from encoder.phantom.lateral import lateral_film, lateral_lines
    from encoder.phantom.volume import load_volume
    from orchestrator.encoders.embedded import EmbeddedEncoder
    from orchestrator.settings import Settings

    settings = Settings()
    encoder = EmbeddedEncoder(args.onnx or settings.onnx_path, intra_op_threads=2, timeout_s=600.0)
    volume = load_volume(settings.cache_dir)
    shares: dict[str, list[tuple[str, tuple[float, float]]]] = {}
    try:
        for seed in parse_seeds(args.seeds):
            spec = CaseSpec(render=args.render) if seed % 3 else None
            image = generate_case(seed, spec, volume=volume).image
            shares.setdefault("phantom", []).append((f"seed {seed}", larger_shares(encoder, image)))
        if args.laterals:
            lines = lateral_lines(volume.hu, volume.spacing)
            for seed in parse_seeds(args.laterals):
                shares.setdefault("lateral", []).append((f"lateral {seed}", larger_shares(encoder, lateral_film(seed, lines))))
        for fraction in [float(f) for f in args.cut.split(",")] if args.cut else []:
            for seed in range(700, 720):
                film = collimated(generate_case(seed, volume=volume).image, fraction, np.random.default_rng(seed))
                shares.setdefault(f"cut to {fraction:g}", []).append((f"seed {seed}", larger_shares(encoder, film)))
        if args.real_dev:
            for path in sorted(args.real_dev.glob("*.jp*g")) + sorted(args.real_dev.glob("*.png")):
                image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
                shares.setdefault("real", []).append((path.name, larger_shares(encoder, image)))
    finally:
        encoder.close()
    print(f"limits: blank share {LUNG_BLANK_MAX} (withheld above), edge share {EDGE_CUT_MIN} (warned above)")
    for source, rows in shares.items():
        for k, (kind, limit) in enumerate((("blank", LUNG_BLANK_MAX), ("edge", EDGE_CUT_MIN))):
            v = np.array([s[k] for _, s in rows])
            over = [f"{name} {s[k]:.2f}" for name, s in rows if s[k] > limit]
            print(f"{source}: {len(v)} films, larger {kind} share median {np.median(v):.3f}, p95 "
                  f"{np.percentile(v, 95):.3f}, max {v.max():.3f}; over the limit {len(over)}"
                  + (f": {', '.join(over[:12])}" if over else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
