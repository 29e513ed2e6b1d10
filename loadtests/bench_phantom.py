"""Benchmark: seconds per phantom case (512x512, random lesions, generate + write) after the
first, cached load.

    OMP_NUM_THREADS=1 .venv/bin/python loadtests/bench_phantom.py --cases 10
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    from encoder.phantom import generate_case
    from encoder.phantom.volume import load_volume
    from orchestrator.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args()
    cache = Settings().cache_dir
    t0 = time.perf_counter()
    volume = load_volume(cache)
    generate_case(args.first_seed - 1, size=args.size, volume=volume)  # warm-up (first, cached load)
    first = time.perf_counter() - t0
    gen, write = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.cases):
            t = time.perf_counter()
            case = generate_case(args.first_seed + n, size=args.size, volume=volume)
            gen.append(time.perf_counter() - t)
            t = time.perf_counter()
            case.write(Path(tmp) / str(n))
            write.append(time.perf_counter() - t)
    total = np.array(gen) + np.array(write)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"first case incl. cached load: {first:.2f} s")
    print(f"{args.cases} cases {args.size}x{args.size}: generate {np.mean(gen):.2f} s, write {np.mean(write):.2f} s, "
          f"total {np.mean(total):.2f} s/case (median {np.median(total):.2f}, max {np.max(total):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
