"""``hilum phantom``: write phantom films with their truth (see ``encoder.phantom``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    p = subparsers.add_parser("phantom", help="write phantom chest films with ground truth")
    p.add_argument("--seed", type=int, default=0, help="seed (first seed with --count)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--count", type=int, default=1, help="write K cases to OUT/case_<seed>/ in parallel")
    p.add_argument("--sheet", action="store_true", help="also write OUT/sheet.png: 16 films with truth drawn")
    p.add_argument("--size", type=int, default=512, help="film size in pixels (square)")
    p.add_argument("--scenario", action="store_true", help="docs/SCENARIO.md's case (nodule RML + strand LLL)")
    p.add_argument("--workers", type=int, default=0, help="processes for --count (0: CPU count)")
    p.add_argument("--render", default=None, metavar="LIST",
                   help="rendering families each case draws its style from (issue 21), e.g. 'all' or 'anatomy'")
    p.add_argument("--lesion-mix", choices=("default", "varied"), default="default",
                   help="the lesions each case draws ('varied': a third normal, ground glass to calcified, ...)")
    p.add_argument("--earlier-days", type=int, default=0, metavar="N",
                   help="also write OUT/earlier/: the same chest's film N days before, each round lesion smaller")
    p.add_argument("--earlier-scale", type=float, default=0.75, metavar="S",
                   help="with --earlier-days: the earlier film's round lesions at S of their diameter (1: unchanged)")
    p.set_defaults(handler=run)


def case_spec(scenario: bool, render: str | None, lesion_mix: str | None) -> Any:
    """The spec of a ``hilum phantom`` case (None: the default case)."""
    from dataclasses import replace

    from encoder.phantom import CaseSpec, scenario_spec

    mix = None if lesion_mix in (None, "default") else lesion_mix
    if not scenario and render is None and mix is None:
        return None
    base = scenario_spec() if scenario else CaseSpec()
    return replace(base, render=render, lesion_mix=mix)


def _one(job: tuple[int, str, int, bool, str, str | None, str | None]) -> int:
    from encoder.phantom import generate_case

    seed, out, size, scenario, cache, render, mix = job
    case = generate_case(seed, case_spec(scenario, render, mix), size=size, cache_dir=Path(cache))
    case.write(Path(out))
    return seed


def run(args: argparse.Namespace, settings: Any) -> int:
    import os

    from encoder.phantom.volume import ensure_cache

    cache = Path(settings.cache_dir)
    ensure_cache(cache)  # once, before any worker starts
    out: Path = args.out
    if args.sheet:
        from encoder.phantom.sheet import write_sheet

        write_sheet(out / "sheet.png", first_seed=args.seed, size=args.size, cache_dir=cache,
                    spec=case_spec(args.scenario, args.render, args.lesion_mix))
    if args.earlier_days and (args.count > 1 or args.render is not None or args.earlier_days < 0
                              or not 0.2 <= args.earlier_scale <= 5):
        print("--earlier-days needs one case of the plain renderer, N > 0 and S within 0.2-5")
        return 2
    if args.count <= 1:
        _one((args.seed, str(out), args.size, args.scenario, str(cache), args.render, args.lesion_mix))
        if args.earlier_days:
            from encoder.phantom import earlier_film, load_case

            earlier_film(load_case(out), days=args.earlier_days, scale=args.earlier_scale,
                         cache_dir=cache).write(out / "earlier")
        print(f"wrote {out}")
        return 0
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    jobs = [(args.seed + n, str(out / f"case_{args.seed + n:06d}"), args.size, args.scenario, str(cache),
             args.render, args.lesion_mix) for n in range(args.count)]
    workers = args.workers or max(1, os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for _ in tqdm(pool.map(_one, jobs), total=len(jobs), desc="phantom", unit="case"):
            pass
    print(f"wrote {len(jobs)} cases under {out}")
    return 0
