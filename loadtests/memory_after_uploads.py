"""Memory after large uploads: does the server give back what a big film took?

    .venv/bin/python -m loadtests.memory_after_uploads [--films 6] [--concurrency 3] [--trim-after 0 1048576]

Declared scenario (fixed before the run, apart from the system under test): for each value of
``HILUM_MALLOC_TRIM_AFTER_BYTES`` given (0: never trim; the default 1 MiB), a fresh ``hilum serve`` on loopback
(``loadtests.turns.start_server``: embedded encoder, in-memory sessions, its limits lifted), then ``--films`` colour JPEGs of
``--height`` x ``--width`` random pixels (seeded; the gate refuses them as colour pictures after decoding them,
which is the point: their arrays are made and freed) uploaded ``--concurrency`` at a time, then ``--dicom`` uploads
of the phantom's seed-7 DICOM (0.5 MB, under the trim size) one after another. Printed per value: the server's
RSS at ready, after the colour uploads (2 s idle) and after the DICOM uploads (1 s idle), and the DICOM uploads'
mean round trip (what a small first turn costs with the setting). ``orchestrator/memory_return.py`` says why.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image


def _rss_mb(pid: int) -> int:
    from orchestrator.memory_return import resident_bytes

    return resident_bytes(pid) // (1024 * 1024)


def colour_films(n: int, height: int, width: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def phantom_dicom() -> bytes:
    from encoder.phantom import generate_case, scenario_spec
    from encoder.phantom.writer import write_dicom

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.dcm"
        write_dicom(generate_case(7, scenario_spec()), path)
        return path.read_bytes()


def run(trim_after: int, films: list[bytes], dicom: bytes, concurrency: int, dicom_n: int) -> dict[str, Any]:
    from loadtests.turns import start_server

    with start_server({"HILUM_MALLOC_TRIM_AFTER_BYTES": str(trim_after)}) as server:
        assert server.pid is not None
        at_ready = _rss_mb(server.pid)

        def upload(data: bytes, name: str) -> int:
            return httpx.post(f"{server.url}/v1/sessions", files={"file": (name, data, "application/octet-stream")},
                              timeout=600).status_code

        with cf.ThreadPoolExecutor(concurrency) as pool:
            codes = list(pool.map(lambda d: upload(d, "photo.jpg"), films))
        time.sleep(2)
        after_colour = _rss_mb(server.pid)
        t0 = time.perf_counter()
        small = [upload(dicom, "film.dcm") for _ in range(dicom_n)]
        per_dicom = (time.perf_counter() - t0) / max(1, dicom_n)
        time.sleep(1)
        return {"trim_after": trim_after, "rss_ready_mb": at_ready, "rss_after_colour_mb": after_colour,
                "rss_after_dicom_mb": _rss_mb(server.pid), "dicom_ms": round(per_dicom * 1000, 1),
                "colour_codes": sorted(set(codes)), "dicom_codes": sorted(set(small))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=int, default=6)
    ap.add_argument("--height", type=int, default=4500)
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=3)
    ap.add_argument("--dicom", type=int, default=15)
    ap.add_argument("--trim-after", type=int, nargs="+", default=[0, 1 << 20])
    args = ap.parse_args()
    films, dicom = colour_films(args.films, args.height, args.width), phantom_dicom()
    for value in args.trim_after:
        r = run(value, films, dicom, args.concurrency, args.dicom)
        print(f"trim after {r['trim_after']} bytes: RSS at ready {r['rss_ready_mb']} MB, after the colour uploads "
              f"{r['rss_after_colour_mb']} MB, after the DICOM uploads {r['rss_after_dicom_mb']} MB; DICOM round trip "
              f"{r['dicom_ms']} ms (codes {r['colour_codes']} / {r['dicom_codes']})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
