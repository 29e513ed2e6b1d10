"""Which lobulation threshold suits the encoder's lesion maps? A diagnostic sweep.

    .venv/bin/python -m loadtests.margin_threshold --seeds 100-159,400-459 \\
        --onnx encoder/weights/anatomy_encoder.onnx --onnx encoder/weights/stage-f/anatomy_encoder.onnx

``orchestrator.findings.margin.LOBULATION_FRAC`` is how deep a notch must be, relative to the
core's mean radius, to call a margin lobulated (0.22, set on the phantom's truth masks). An
encoder draws its lesion masks at half the film's resolution, so it may want another value. For
each source (the phantom's truth maps, then each ``--onnx`` encoder) and each ``--fracs`` value,
this counts the lesions whose margin the scorer scores (nodule-like, >= 10 mm: ``margin_scored``)
that a finding matches (the scorer's matching, ``evaluation.scoring``):

- **margin right**: smooth / lobulated / spiculated, as the scorer's ``margin_ge10``;
- **irregular right**: smooth against lobulated-or-spiculated, which is what turn 4's checklist
  item "lobulated or spiculated margin" uses.

It also prints the confusion for each source at the shipped value. Use validation seeds only:
choose on them, never on the test ranges (0-49, 200-399). Each film is generated and encoded once
per source. The threshold is varied with ``unittest.mock.patch.object`` around ``analyse``, and
the constant is restored after each call. The truth lesion list only scores.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from encoder.dataset import format_seeds, parse_seeds
from evaluation.scoring import case_spacing, margin_scored, match_findings, truth_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.facts import PixelSpacing
from orchestrator.findings import analyse, margin

DEFAULT_FRACS = (0.14, 0.16, 0.18, 0.20, 0.22, 0.24, 0.26, 0.30)


@dataclass
class MarginTally:
    """Margin calls on matched nodule-like lesions: (truth margin, called margin) counts."""

    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def lesions(self) -> int:
        return sum(self.confusion.values())

    @property
    def right(self) -> int:
        return sum(n for (truth, got), n in self.confusion.items() if truth == got)

    @property
    def irregular_right(self) -> int:
        return sum(
            n for (truth, got), n in self.confusion.items() if (truth == "smooth") == (got == "smooth")
        )


def margin_calls(
    maps: AnatomyMaps, spacing: PixelSpacing, lesions: Sequence[dict[str, Any]], frac: float
) -> list[tuple[str, str]]:
    """(truth margin, called margin) for each scored lesion, with ``LOBULATION_FRAC = frac``."""
    with mock.patch.object(margin, "LOBULATION_FRAC", frac):
        facts = analyse(maps, spacing)
    matches, _ = match_findings(facts, lesions)
    calls: list[tuple[str, str]] = []
    for m in matches:
        if m.finding is not None and margin_scored(m.truth):
            calls.append((str(m.truth["margin"]), m.finding.margin))
    return calls


MapSource = Callable[[Any], AnatomyMaps]


def sweep(
    cases: Iterable[Any], sources: dict[str, MapSource], fracs: Sequence[float]
) -> dict[str, dict[float, MarginTally]]:
    """Tallies per source and threshold; each case's maps are computed once per source, then dropped."""
    out = {name: {f: MarginTally() for f in fracs} for name in sources}
    for case in cases:
        spacing = case_spacing(case)
        lesions = list(case.truth["lesions"])
        for name, maps_of in sources.items():
            maps = maps_of(case)
            for f in fracs:
                out[name][f].confusion.update(margin_calls(maps, spacing, lesions, f))
    return out


def _encoder_source(path: Path) -> tuple[MapSource, Any]:
    from orchestrator.contracts.preprocess import prepare_film
    from orchestrator.encoders.factory import build_encoder
    from orchestrator.settings import Settings

    enc = build_encoder(Settings(onnx_path=path))

    def maps_of(case: Any) -> AnatomyMaps:
        image, _ = prepare_film(case.image)
        return enc.encode(image)

    return maps_of, enc


def _cases(seeds: Sequence[int]) -> Iterable[Any]:
    from encoder.phantom import generate_case

    t0 = time.perf_counter()
    for i, seed in enumerate(seeds, 1):
        yield generate_case(seed)
        print(
            f"\rfilm {i}/{len(seeds)} (seed {seed}), {time.perf_counter() - t0:.0f} s",
            end="",
            file=sys.stderr,
            flush=True,
        )
    print(file=sys.stderr)


def format_report(tallies: dict[str, dict[float, MarginTally]], shipped: float) -> str:
    fracs = sorted(next(iter(tallies.values())))
    lines = [
        "| source | " + " | ".join(f"{f:.2f}" + (" (shipped)" if f == shipped else "") for f in fracs) + " |",
        "| --- |" + " --- |" * len(fracs),
    ]
    for name, by_frac in tallies.items():
        n = by_frac[fracs[0]].lesions
        lines.append(
            f"| {name}: margin right of {n} | " + " | ".join(str(by_frac[f].right) for f in fracs) + " |"
        )
        lines.append(
            f"| {name}: irregular right of {n} | "
            + " | ".join(str(by_frac[f].irregular_right) for f in fracs)
            + " |"
        )
    if shipped in fracs:
        lines.append(f"\nconfusion at {shipped} (truth -> called: count):")
        for name, by_frac in tallies.items():
            pairs = ", ".join(f"{t}->{g}: {n}" for (t, g), n in sorted(by_frac[shipped].confusion.items()))
            lines.append(f"- {name}: {pairs}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="100-159,400-459", help="validation seeds, e.g. 100-159,400-459")
    ap.add_argument("--onnx", type=Path, action="append", default=[], help="an encoder to score (repeatable)")
    ap.add_argument("--fracs", default=",".join(str(f) for f in DEFAULT_FRACS))
    ap.add_argument("--no-truth", action="store_true", help="skip the truth maps column")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    fracs = [float(f) for f in args.fracs.split(",")]
    sources: dict[str, MapSource] = {} if args.no_truth else {"truth maps": truth_maps}
    encoders = []
    try:
        for path in args.onnx:
            sources[str(path)], enc = _encoder_source(path)
            encoders.append(enc)
        tallies = sweep(_cases(seeds), sources, fracs)
    finally:
        for enc in encoders:
            enc.close()
    print(
        f"# margin calls against the lobulation threshold, seeds {format_seeds(seeds)}, nodule-like lesions >= 10 mm\n"
    )
    print(format_report(tallies, margin.LOBULATION_FRAC))
    print(f"\nmachine: {platform.machine()} {platform.processor() or ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
