"""An outside check of a DICOM object: ``dciodvfy`` (Debian ``dicom3tools``) on its bytes.

The builders already check what they build (highdicom validates content as it builds it); this is
the independent IOD validator the tests and ``hilum pacs push --validate`` run."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    iod: str  # the IOD dciodvfy recognised, e.g. Comprehensive3DSR
    errors: list[str]
    lines: list[str]


class ValidatorMissingError(RuntimeError):
    pass


def dciodvfy(data: bytes, timeout_s: float = 120.0) -> Verdict:
    exe = shutil.which("dciodvfy")
    if exe is None:
        raise ValidatorMissingError("dciodvfy (Debian dicom3tools) is not installed; `make system-packages` installs it")
    with tempfile.TemporaryDirectory(prefix="hilum-dciodvfy-") as tmp:
        path = Path(tmp) / "object.dcm"
        path.write_bytes(data)
        run = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    return Verdict(iod=lines[0] if lines else "", errors=[x for x in lines if x.startswith("Error")], lines=lines)
