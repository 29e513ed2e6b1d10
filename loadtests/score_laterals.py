"""Lateral films of three patients through the whole engine, as served: is any read as a frontal chest?

    .venv/bin/python -m loadtests.score_laterals --seeds 0-99 [--ct-dir data/other-ct]

Lateral films (``encoder/phantom/lateral.py``) of the phantom's CT and, with ``--ct-dir``, of the two CTs of
``encoder/phantom/other_ct.py`` (``python -m encoder.phantom.other_ct fetch --out data/other-ct`` once), each sent
through ``DialogueEngine.create_session`` as a PNG upload with the confirmer and the alone reader the service reads
with. A lateral must be refused or withheld: the rule of ``loadtests/film_corpus.py``'s ``lateral`` category. Prints
the outcomes per CT and every film read (accepted with its anatomy plausible, or with a finding).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from loadtests.fit_film_gate import parse_seeds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-99", help="lateral film seeds, LO-HI")
    p.add_argument("--ct-dir", type=Path, default=None, help="the other patients' CTs (lung1, lung2)")
    args = p.parse_args(argv)
    from encoder.phantom.lateral import lateral_film, lateral_lines
    from encoder.phantom.other_ct import CASES, load
    from encoder.phantom.volume import load_volume
    from loadtests.film_corpus import png_bytes
    from loadtests.score_film_gate import run_one
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.encoders.factory import build_encoder, build_other_readers
    from orchestrator.settings import Settings

    settings = Settings()
    volume = load_volume(settings.cache_dir)
    sources = {"phantom": lateral_lines(volume.hu, volume.spacing)}
    if args.ct_dir:
        for name in CASES:
            ct = load(name, args.ct_dir)
            sources[name] = lateral_lines(ct.hu, ct.spacing)
    encoder, (second, lone) = build_encoder(settings), build_other_readers(settings)
    engine = DialogueEngine(encoder, settings, second_reader=second, alone_reader=lone)
    read = 0
    try:
        for name, lines in sources.items():
            outcomes: collections.Counter[str] = collections.Counter()
            for seed in parse_seeds(args.seeds):
                out = run_one(engine, png_bytes(lateral_film(seed, lines)), "lateral.png")
                outcomes[out.label] += 1
                if out.findings or (out.refused is None and (out.film_check or {}).get("anatomy_plausible")):
                    read += 1
                    print(f"  read: {name} seed {seed}: {out.label}, {len(out.findings)} findings")
            print(f"{name}: {sum(outcomes.values())} laterals: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    finally:
        for part in (encoder, second, lone):
            if part is not None:
                part.close()
    print(f"read as a frontal chest: {read}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
