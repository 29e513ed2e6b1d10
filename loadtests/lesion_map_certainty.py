"""How sure is the lesion map of itself? Phantom validation films against other patients' films.

    HILUM_ONNX_PATH=encoder/weights/stage-k-candidate/anatomy_encoder.onnx \\
        .venv/bin/python -m loadtests.lesion_map_certainty --seeds 50-69 --films 6 [--ct-dir data/other-ct]

The plausibility step (``orchestrator.findings.plausibility``) withholds a film when the encoder's
*anatomy* maps are unsure. Weights that have seen one more patient are sure of a new patient's
anatomy while their lesion map is noise (``encoder/weights/TRAINING.md``, stage K), so a second
certainty, the lesion map's own, is measured here before any limit is set: the mean binary entropy
of the lesion probabilities inside the predicted lung fields. Printed per group (min, median, max):
phantom validation films in the phantom's own look and drawn through every rendering family, and
films of each other CT (``loadtests/score_other_ct.py``'s renderings). A limit would be fitted on
the validation films by a rule, and the other CTs only checked against it.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.findings.plausibility import binary_entropy


def lesion_map_entropy(maps: AnatomyMaps) -> float:
    """Mean binary entropy (bits per pixel) of the lesion map inside the lung fields (0 if none)."""
    lungs = (maps.channel("lung_right") > 0.5) | (maps.channel("lung_left") > 0.5)
    if not lungs.any():
        return 0.0
    return float(np.mean(binary_entropy(maps.lesion[lungs]), dtype=np.float64))


def _spread(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{v.min():.4f} / {np.median(v):.4f} / {v.max():.4f}" if v.size else "-"


def measure(encoder: Any, seeds: list[int], films: int, ct_dir: Path | None) -> dict[str, list[float]]:
    from encoder.phantom import generate_case
    from encoder.phantom.case import CaseSpec
    from orchestrator.contracts.preprocess import prepare_film

    groups: dict[str, list[float]] = {}
    for label, spec in (("phantom, own look", None), ("phantom, rendering families", CaseSpec(render="all"))):
        groups[label] = [lesion_map_entropy(encoder.encode(prepare_film(generate_case(s, spec).image)[0]))
                         for s in seeds]
    if ct_dir is not None:
        from encoder.phantom.other_ct import CASES, load, prepare
        from loadtests.score_other_ct import detector_counts, films_of

        for index, name in enumerate(CASES):
            for f in films_of(prepare(load(name, ct_dir)), index, films):
                image = prepare_film(detector_counts(f.image))[0]
                groups.setdefault(f"{name}, {f.rendering}", []).append(lesion_map_entropy(encoder.encode(image)))
    return groups


def main(argv: list[str] | None = None) -> int:
    from encoder.dataset import parse_seeds
    from loadtests.calibrate_confidence import check_validation
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="50-69", help="phantom validation seeds (never the test ranges 0-49, 200-399)")
    p.add_argument("--films", type=int, default=6, help="films per other CT and rendering")
    p.add_argument("--ct-dir", type=Path, default=None, help="the other CTs (encoder/phantom/other_ct.py fetch)")
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    check_validation(seeds)
    settings = Settings()
    encoder = build_encoder(settings)
    try:
        groups = measure(encoder, seeds, args.films, args.ct_dir)
    finally:
        encoder.close()
    print("| films | n | lesion-map entropy in the lungs: min / median / max |\n| --- | --- | --- |")
    for label, vals in groups.items():
        print(f"| {label} | {len(vals)} | {_spread(vals)} |")
    print(f"\nweights: {settings.onnx_path}; machine: {platform.machine()}, {platform.python_version()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
