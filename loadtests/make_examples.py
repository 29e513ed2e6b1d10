"""Write the web page's example films: small DICOM files with their true pixel spacing.

    python -m loadtests.make_examples [--out orchestrator/api/data/examples] [--seeds 7 11 23]

Each example is a phantom case (``encoder.phantom``, read-only here) written as a DX DICOM by the
phantom's own writer, then stored with 12 bits per pixel (the phantom's 16-bit pixels shifted
right by 4, as a detector with a 12-bit converter would give) and JPEG-LS lossless: about 200 kB
for a 512 x 512 film, against 525 kB uncompressed at 16 bits. ``ImagerPixelSpacing`` is the
phantom's true spacing, so every measurement on an example is in true millimetres.

``examples.json`` beside the films lists them with what the page and the tests need: the title,
whether it is the docs/SCENARIO.md case, the spacing, the file's SHA-256 and a summary of the
phantom's truth (lesion types, sides, lobes, sizes, hilum distances). The same seeds give
byte-identical files; rerun this after the phantom changes and commit the result.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "orchestrator" / "api" / "data" / "examples"
MANIFEST = "examples.json"
BITS_STORED = 12
TRUTH_KEYS = ("id", "type", "side", "lobe", "zone", "band", "margin", "diameter_mm", "distance_to_hilum_mm",
              "center_px")


@dataclass(frozen=True)
class ExampleSpec:
    seed: int
    title: str
    scenario: bool  # the docs/SCENARIO.md case (RML nodule + LLL strand) or the phantom's own draw


EXAMPLE_SPECS: tuple[ExampleSpec, ...] = (
    ExampleSpec(7, "Phantom 7 · scenario case", True),
    ExampleSpec(11, "Phantom 11", False),
    ExampleSpec(23, "Phantom 23", False),
)


def film_name(seed: int) -> str:
    return f"phantom-{seed}.dcm"


def compact_dicom(full_dicom: Path) -> bytes:
    """The phantom writer's 16-bit DICOM as a 12-bit, JPEG-LS lossless one (same tags otherwise)."""
    import pydicom
    from pydicom.uid import JPEGLSLossless

    ds = pydicom.dcmread(str(full_dicom))
    pixels = np.asarray(ds.pixel_array, dtype=np.uint16) >> (16 - BITS_STORED)
    pixels = np.ascontiguousarray(pixels.astype(np.uint16))
    ds.BitsStored = BITS_STORED
    ds.HighBit = BITS_STORED - 1
    ds.WindowCenter = str(1 << (BITS_STORED - 1))
    ds.WindowWidth = str(1 << BITS_STORED)
    ds.PixelData = pixels.tobytes()
    ds.compress(JPEGLSLossless, pixels, generate_instance_uid=False)  # lossless: the same image, the same UID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def truth_summary(truth: dict[str, Any]) -> dict[str, Any]:
    return {
        "image_size": truth.get("image_size"),
        "pixel_spacing_mm": truth.get("pixel_spacing_mm"),
        "hilum_px": truth.get("hilum_px"),
        "lesions": [{k: lesion.get(k) for k in TRUTH_KEYS} for lesion in truth.get("lesions", [])],
    }


def make_example(spec: ExampleSpec, out_dir: Path) -> dict[str, Any]:
    """Generate one case, write its compact DICOM under ``out_dir``; its manifest entry."""
    from encoder.phantom import generate_case, scenario_spec
    from encoder.phantom.writer import write_dicom

    case = generate_case(spec.seed, scenario_spec() if spec.scenario else None)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "image.dcm"
        write_dicom(case, full)
        data = compact_dicom(full)
    (out_dir / film_name(spec.seed)).write_bytes(data)
    row_mm, col_mm = (round(float(v), 6) for v in case.pixel_spacing_mm)
    return {
        "seed": spec.seed,
        "title": spec.title,
        "scenario": spec.scenario,
        "file": film_name(spec.seed),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": [int(v) for v in case.image_u16.shape],
        "bits_stored": BITS_STORED,
        "pixel_spacing_mm": [row_mm, col_mm],
        "truth": truth_summary(case.truth),
    }


def make_examples(out_dir: Path = DEFAULT_OUT, specs: tuple[ExampleSpec, ...] = EXAMPLE_SPECS) -> list[dict[str, Any]]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [make_example(spec, out_dir) for spec in specs]
    (out_dir / MANIFEST).write_text(json.dumps({"examples": entries}, indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    return entries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seeds", type=int, nargs="*", help="a subset of the example seeds")
    args = ap.parse_args(argv)
    specs = tuple(s for s in EXAMPLE_SPECS if not args.seeds or s.seed in args.seeds)
    for entry in make_examples(args.out, specs):
        print(f"{entry['file']}: {entry['bytes']} bytes, {entry['pixel_spacing_mm'][1]:.4f} mm/px, "
              f"{len(entry['truth']['lesions'])} lesions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
