"""Example films for the web page: small DICOM files committed under ``data/examples`` (made once
by ``python -m loadtests.make_examples``), each with its true pixel spacing.

Nothing runs the phantom at request time: ``dicom(seed)`` is the committed file's bytes, ``png(seed)``
its pixels rendered once for the page's thumbnails and kept in memory.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.errors import SessionNotFoundError

EXAMPLES_DIR = Path(__file__).resolve().parent / "data" / "examples"
MANIFEST = "examples.json"


@dataclass(frozen=True)
class ExampleCase:
    seed: int
    title: str
    scenario: bool  # the docs/SCENARIO.md case (RML nodule + LLL strand) or the phantom's own draw
    file: str = ""
    pixel_spacing_mm: tuple[float, float] | None = None
    truth: dict[str, Any] | None = None  # a summary of the phantom's truth (lesions, hilum points)


class UnknownExampleError(SessionNotFoundError):
    kind = "example_not_found"


def load_manifest(folder: Path = EXAMPLES_DIR) -> tuple[ExampleCase, ...]:
    """The committed examples, in the manifest's order; none when the folder has no manifest."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return ()
    entries = json.loads(path.read_text(encoding="utf-8")).get("examples", [])
    return tuple(
        ExampleCase(seed=int(e["seed"]), title=str(e["title"]), scenario=bool(e.get("scenario")), file=str(e["file"]),
                    pixel_spacing_mm=tuple(float(v) for v in e["pixel_spacing_mm"]) if e.get("pixel_spacing_mm") else None,  # type: ignore[arg-type]
                    truth=e.get("truth"))
        for e in entries
    )


class ExampleLibrary:
    """The committed example films. ``cache_dir`` is accepted for the app's call and not used:
    nothing is generated or written."""

    def __init__(self, cache_dir: Path | None = None, folder: Path = EXAMPLES_DIR) -> None:
        del cache_dir
        self.folder = Path(folder)
        self.cases = {case.seed: case for case in load_manifest(self.folder)}
        self._png: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def list(self) -> list[ExampleCase]:
        return list(self.cases.values())

    def case(self, seed: int) -> ExampleCase:
        case = self.cases.get(seed)
        if case is None:
            raise UnknownExampleError(f"no such example film; known: {sorted(self.cases)}")
        return case

    def dicom(self, seed: int) -> bytes:
        return (self.folder / self.case(seed).file).read_bytes()

    def png(self, seed: int) -> bytes:
        """The film as an 8-bit PNG (full size; the page shows it as a thumbnail)."""
        self.case(seed)
        with self._lock:
            if seed not in self._png:
                self._png[seed] = render_png(self.dicom(seed))
            return self._png[seed]


def render_png(dicom: bytes) -> bytes:
    """A DICOM film's pixels over its stored bit range, as 8-bit grey PNG."""
    import cv2
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom))
    pixels = np.asarray(ds.pixel_array, dtype=np.float32)
    top = float((1 << int(ds.get("BitsStored", 16))) - 1)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper() == "MONOCHROME1":
        pixels = top - pixels
    grey = np.clip(np.rint(pixels / top * 255.0), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", grey)
    if not ok:  # pragma: no cover - cv2 encodes any 2-D uint8 array
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
