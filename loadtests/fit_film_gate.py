"""Write the film gate's chest template from phantom training films (``orchestrator/film_gate/data``).

    .venv/bin/python -m loadtests.fit_film_gate --seeds 1000-1039

The template is the mean of upright phantom films from the *training* seed range, each framed
at random the way uploads are (zoomed 0.8-1.2x, shifted by up to 6% of the film, sometimes
widened or heightened with dark bands to a non-square film), shrunk to 32x32 and standardised.
Random framing keeps the template a coarse "two dark lung fields either side of a bright
mediastinum, shoulders above, diaphragm and abdomen below" rather than one film's details.
The same films give the mean antisymmetric part (what differs between the two sides of each
film's own spine line) that tells a mirrored film. No evaluation film (seeds 0-699) and no
real film is used.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from orchestrator.contracts.preprocess import prepare_film
from orchestrator.film_gate.image import (
    TEMPLATE_PATH,
    TEMPLATE_SIZE,
    antisymmetric,
    content_of,
    spine_axis,
    standardised,
)


def parse_seeds(spec: str) -> range:
    lo, _, hi = spec.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def random_framing(film: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = film.shape
    zoom = rng.uniform(0.8, 1.2)
    dx, dy = rng.uniform(-0.06, 0.06, 2) * w
    m = np.float32([[zoom, 0, (1 - zoom) * w / 2 + dx], [0, zoom, (1 - zoom) * h / 2 + dy]])
    out = cv2.warpAffine(film, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:  # a non-square film: crop rows or columns away
        keep = rng.uniform(0.7, 0.95)
        if rng.random() < 0.5:
            k = int(h * keep)
            out = out[(h - k) // 2 : (h - k) // 2 + k]
        else:
            k = int(w * keep)
            out = out[:, (w - k) // 2 : (w - k) // 2 + k]
    return out


def fit_template(films: list[np.ndarray], draws: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mean upright film, mean antisymmetric part about each film's own spine line)."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((TEMPLATE_SIZE, TEMPLATE_SIZE))
    asym = np.zeros((TEMPLATE_SIZE, TEMPLATE_SIZE))
    n = 0
    for film in films:
        for _ in range(draws):
            image, resampling = prepare_film(random_framing(film, rng))
            content = content_of(image, resampling)
            acc += standardised(content)
            asym += antisymmetric(content, spine_axis(content))
            n += 1
    mean = acc / max(n, 1)
    asym = asym / max(n, 1)
    return (mean - mean.mean()) / mean.std(), asym / np.linalg.norm(asym)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1000-1039", help="phantom training seeds, LO-HI")
    p.add_argument("--draws", type=int, default=4, help="random framings per film")
    p.add_argument("--out", type=Path, default=TEMPLATE_PATH)
    args = p.parse_args(argv)
    from loadtests.film_corpus import phantom_films

    seeds = parse_seeds(args.seeds)
    films = [film for _, film in phantom_films(seeds)]
    template, asymmetry = fit_template(films, args.draws)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "what": "mean upright chest film for orchestrator.film_gate.image (32x32, standardised)",
        "command": f"python -m loadtests.fit_film_gate --seeds {args.seeds} --draws {args.draws}",
        "template": [[round(float(v), 4) for v in row] for row in template],
        "asymmetry": [[round(float(v), 5) for v in row] for row in asymmetry],
    }) + "\n")
    print(f"wrote {args.out} from {len(films)} films x {args.draws} framings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
