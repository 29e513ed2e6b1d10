"""Does a finding survive a second look at another scale? Phantom validation films against another patient's.

    HILUM_ONNX_PATH=encoder/weights/stage-k-candidate/anatomy_encoder.onnx \\
        .venv/bin/python -m loadtests.scale_agreement --seeds 50-99 [--render scatter] [--other-ct lung2 --films 12]

Weights that have seen a second patient read a third with ~5 false findings per film while their
anatomy maps are sure of it (``encoder/weights/TRAINING.md``, stage K). A false finding that comes
from an unfamiliar look, not from an opacity, may not survive the same film encoded again a little
smaller or larger, while a real opacity does. Each film is encoded as it is and at ``SCALES``
(shrunk into the frame with its edges continued, or enlarged and cropped, about the centre); a
finding of the first encoding is kept by a rule when a finding of the named encodings lies within
``AGREE_MM`` of it, mapped back (``orchestrator/encoders/second_look.py``: the engine's
``HILUM_SECOND_LOOK`` is the "both agree" rule). Printed per group: recall for lesions >= 8 mm (centre within 5 mm)
and false findings per film, for the single encoding and each rule.
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.encoders.second_look import SCALES, Point, agreed, centres_at

REAL_MM_PER_PX = 0.7  # a real film without spacing: about an adult's 350 mm field over the 512-pixel working image
RULES: dict[str, tuple[float, ...]] = {"single": (), "0.85 agrees": (0.85,), "1.15 agrees": (1.15,),
                                       "both agree": (0.85, 1.15)}


@dataclass
class Tally:
    films: int = 0
    large: int = 0
    found_large: int = 0
    false: int = 0


def score(encoder: Any, film: np.ndarray, truth: Sequence[Point], large: Sequence[bool], mm: float,
          tallies: dict[str, Tally]) -> None:
    """One prepared film (working size, [0, 1]) with its lesion centres (working pixels) into each rule's
    tally; a film without truth (a real film) counts every kept finding as found nothing (``false``)."""
    from encoder.evaluate import MATCH_MM, match_lesions

    seen = {s: centres_at(encoder, film, s, mm) for s in (1.0, *SCALES)}
    for rule, scales in RULES.items():
        kept = [seen[1.0][i] for i in agreed(seen[1.0], [seen[s] for s in scales], 1.0 / mm)]
        matches = match_lesions(truth, kept, MATCH_MM / mm)
        t = tallies.setdefault(rule, Tally())
        t.films += 1
        t.large += sum(large)
        t.found_large += sum(1 for i, _, _ in matches if large[i])
        t.false += len(kept) - len(matches)


def phantom_films(seeds: Sequence[int], render: str | None) -> Iterator[tuple[np.ndarray, list[Point], list[bool], float]]:
    from encoder.dataset import to_working_points
    from encoder.evaluate import LARGE_LESION_MM
    from encoder.phantom import CaseSpec, generate_case
    from orchestrator.contracts.preprocess import prepare_film

    for seed in seeds:
        case = generate_case(seed, CaseSpec(render=render) if render else None)
        film, r = prepare_film(case.image)
        lesions = case.truth.get("lesions", [])
        yield (film, [to_working_points(les["center_px"], r) for les in lesions],
               [float(les.get("diameter_mm", 0.0)) >= LARGE_LESION_MM for les in lesions],
               float(np.mean(case.pixel_spacing_mm)) * r.scale)


def other_ct_films(name: str, ct_dir: Path, films: int) -> Iterator[tuple[np.ndarray, list[Point], list[bool], float]]:
    from encoder.dataset import to_working_points
    from encoder.evaluate import LARGE_LESION_MM
    from encoder.phantom.other_ct import CASES, load, prepare
    from loadtests.score_other_ct import RENDERINGS, detector_counts, films_of
    from orchestrator.contracts.preprocess import prepare_film

    patient = prepare(load(name, ct_dir))
    for f in films_of(patient, CASES.index(name), films, 0, RENDERINGS):
        film, r = prepare_film(detector_counts(f.image))
        yield (film, [to_working_points((les.x_px, les.y_px), r) for les in f.lesions],
               [les.diameter_mm >= LARGE_LESION_MM for les in f.lesions], patient.spacing_mm * r.scale)


def real_films(real_dir: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(label, working image) of every film in a checking folder (``score_film_gate.labelled_films``),
    decoded as an upload is."""
    from loadtests.score_film_gate import labelled_films
    from orchestrator.imaging import decode_upload
    from orchestrator.settings import Settings

    settings = Settings()
    for name, row in labelled_films(real_dir):
        yield str(row.get("label", "film")), decode_upload((real_dir / name).read_bytes(), name, settings).image


def format_table(groups: dict[str, dict[str, Tally]]) -> str:
    lines = ["| films | rule | films | recall >= 8 mm | false findings per film |", "| --- | --- | --- | --- | --- |"]
    for group, tallies in groups.items():
        for rule, t in tallies.items():
            lines.append(f"| {group} | {rule} | {t.films} | {t.found_large}/{t.large} = "
                         f"{t.found_large / max(t.large, 1):.3f} | {t.false / max(t.films, 1):.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from encoder.dataset import parse_seeds
    from loadtests.calibrate_confidence import check_validation
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="50-99", help="phantom validation seeds (never 0-49 or 200-399 to choose)")
    ap.add_argument("--render", default=None, help="rendering families of the phantom films (e.g. scatter)")
    ap.add_argument("--other-ct", default=None, help="also films of this CT (e.g. lung2) from --ct-dir")
    ap.add_argument("--ct-dir", type=Path, default=Path("data/other-ct"))
    ap.add_argument("--films", type=int, default=12, help="films per rendering of the other CT")
    ap.add_argument("--real-dev", type=Path, default=None,
                    help="also a folder of real films with labels.json (no lesion truth: every finding kept is counted "
                         "under false findings; spacing taken as REAL_MM_PER_PX)")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    check_validation(seeds)
    encoder = build_encoder(Settings())
    groups: dict[str, dict[str, Tally]] = {}
    try:
        label = f"phantom {args.seeds}" + (f", {args.render}" if args.render else ", own look")
        for film, truth, large, mm in phantom_films(seeds, args.render):
            score(encoder, film, truth, large, mm, groups.setdefault(label, {}))
        if args.other_ct:
            for film, truth, large, mm in other_ct_films(args.other_ct, args.ct_dir, args.films):
                score(encoder, film, truth, large, mm, groups.setdefault(args.other_ct, {}))
        if args.real_dev:
            for kind, film in real_films(args.real_dev):
                score(encoder, film, [], [], REAL_MM_PER_PX, groups.setdefault(f"real, {kind}", {}))
    finally:
        encoder.close()
    print(format_table(groups))
    print(f"\nmachine: {platform.machine()}, {platform.python_version()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
