"""Shared by the DICOM-out tests: ``dciodvfy``, a phantom film resampled to a non-square DICOM of
another size (so the working frame's scale and padding matter), and sessions over it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
import pytest

from orchestrator.dicom_out import validate
from orchestrator.dicom_out.content import SessionContent, session_content
from orchestrator.dicom_out.objects import DicomObjects
from orchestrator.dicom_out.source import SourceImage
from orchestrator.dicom_out.validate import Verdict
from orchestrator.settings import Settings

# the phantom film (512 x 512) scaled x2 and cropped to 1024 rows x 944 columns: the working frame
# then has scale 2 and a 40-pixel padding on each side, both of which the mapping must undo
ROWS, COLS = 1024, 944


def dciodvfy(data: bytes, tmp_path: Path | None = None, name: str = "object.dcm") -> Verdict:
    """``orchestrator.dicom_out.validate.dciodvfy`` (``tmp_path`` and ``name`` kept for a failing
    object's copy, to rerun the validator by hand)."""
    if tmp_path is not None:
        (tmp_path / name).write_bytes(data)
    return validate.dciodvfy(data)


def resampled_dicom(src: Path, rows: int = ROWS, cols: int = COLS) -> bytes:
    """The phantom's DX, its pixels scaled to ``rows`` and cropped to ``cols`` (spacing adjusted)."""
    ds = pydicom.dcmread(src)
    pixels = ds.pixel_array.astype(np.uint16)
    big = cv2.resize(pixels, (rows, rows), interpolation=cv2.INTER_LINEAR)
    off = (rows - cols) // 2
    film = np.ascontiguousarray(big[:, off:off + cols])
    ds.Rows, ds.Columns = rows, cols
    ds.PixelData = film.tobytes()
    factor = pixels.shape[0] / rows
    for tag in ("ImagerPixelSpacing", "PixelSpacing"):
        if tag in ds:
            ds.data_element(tag).value = [float(v) * factor for v in ds.data_element(tag).value]
    ds.InstitutionName = "Do Not Keep Hospital"  # PHI a result never needs
    ds.OtherPatientIDs = "OTHER-ID-DO-NOT-KEEP"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="session")
def phantom_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from encoder.phantom import generate_case, scenario_spec

    out = tmp_path_factory.mktemp("phantom7-dicom-out")
    generate_case(7, scenario_spec()).write(out)
    return out


@pytest.fixture(scope="session")
def film_dcm(phantom_case: Path) -> bytes:
    return resampled_dicom(phantom_case / "image.dcm")


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    from orchestrator.server import build_services

    services = build_services(Settings(host="127.0.0.1"))
    yield services.engine
    services.close()


QUESTIONS = (
    "右肺中叶那个圆形影,边缘是否规则?",
    "这个病灶距离右肺门有多远?是否与肺门结构相连?",
    "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?",
)


@dataclass(frozen=True)
class Case:
    content: SessionContent
    source: SourceImage
    turns: list[dict]


@pytest.fixture(scope="session")
def dicom_case(engine: Any, film_dcm: bytes) -> Case:
    """A real session (embedded encoder) over the resampled DICOM film, with the scenario's questions."""
    view = engine.create_session(film_dcm, filename="film.dcm", lang="zh")
    turns = [t.to_dict() for t in view.turns]
    for q in QUESTIONS:
        turns.append(engine.ask(view.session_id, q).to_dict())
    content = session_content(engine, view.session_id, "default")
    source = DicomObjects.source(content)  # the session's own source record
    assert source.kind == "dicom"
    return Case(content, source, turns)


def with_header(film: bytes, charset: str | None = None, **values: str) -> bytes:
    """The DICOM ``film`` with these header attributes (keyword=value) set, as an upload would carry them;
    ``charset``: its Specific Character Set. pydicom's warnings about invalid values are silenced: tests
    that set them mean to."""
    import io
    import warnings

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(film))
    if charset:
        ds.SpecificCharacterSet = charset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
