"""Lateral films of three patients through the whole engine, as served: is any read as a frontal chest?

    .venv/bin/python -m loadtests.score_laterals --seeds 0-99 [--ct-dir data/other-ct]

Lateral films (``encoder/phantom/lateral.py``) of the phantom's CT and, with ``--ct-dir``, of the two CTs of
``encoder/phantom/other_ct.py`` (``python -m encoder.phantom.other_ct fetch --out data/other-ct`` once), each sent
through the engine as a PNG upload with the confirmer and the alone reader the service reads with
(``score_film_gate.served_engine``), and held to the rule of ``loadtests/film_corpus.py``'s ``lateral`` category:
refused or withheld (``score_film_gate.meets``). Prints the outcomes per CT and every film read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from loadtests.fit_film_gate import parse_seeds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-99", help="lateral film seeds, LO-HI")
    p.add_argument("--ct-dir", type=Path, default=None, help="the other patients' CTs (lung1, lung2)")
    args = p.parse_args(argv)
    from encoder.phantom.lateral import lateral_lines
    from encoder.phantom.other_ct import CASES, load
    from loadtests.film_corpus import lateral_films
    from loadtests.score_film_gate import score_corpus, served_engine

    seeds = parse_seeds(args.seeds)
    items = list(lateral_films(seeds, category="phantom"))
    for name in CASES if args.ct_dir else ():
        ct = load(name, args.ct_dir)
        items += lateral_films(seeds, lines=lateral_lines(ct.hu, ct.spacing), category=name)
    with served_engine() as engine:
        table = score_corpus(engine, items)
    read = 0
    for name, row in table.items():
        read += row["n"] - row["met"]
        print(f"{name}: {row['n']} laterals: " + ", ".join(f"{k} {v}" for k, v in row["outcomes"].most_common()))
        for film in row["failed"]:
            print(f"  read: {film}")
    print(f"read as a frontal chest: {read}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
