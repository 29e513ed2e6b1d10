"""Header values copied from an upload into Hilum's objects are valid for their VR, whatever the upload
carried: control characters (CR LF in a Patient ID, BEL in a name) never reach the SR, GSPS or SEG, and
``dciodvfy`` finds no error in them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom
import pytest

from orchestrator.dicom_out.objects import DicomObjects
from orchestrator.dicom_out.source import header_value

from .conftest import dciodvfy, with_header


@pytest.fixture(scope="module")
def hostile_session(engine: Any, film_dcm: bytes) -> str:
    film = with_header(film_dcm, "ISO_IR 192", PatientID="PID-42\r\nX", PatientName="Doe\x07^John\x00",
                       AccessionNumber="ACC\x1b$B1", StudyID="S\\1", StudyDate="2000-01-01", StudyTime="25:00",
                       PatientSex="male\x07", ReferringPhysicianName="Ref\x1b^Doc\r\n")
    view = engine.create_session(film, filename="film.dcm", lang="en")
    engine.ask(view.session_id, "Is the round lesion in the right lung smooth?")
    return view.session_id


@pytest.mark.parametrize("kind", ["sr", "pr", "seg"])
def test_an_upload_with_control_characters_in_its_header_gives_valid_objects(
        engine: Any, hostile_session: str, kind: str, tmp_path: Path) -> None:
    data = DicomObjects(engine).bytes(kind, hostile_session)  # type: ignore[arg-type]
    verdict = dciodvfy(data, tmp_path, f"{kind}.dcm")
    assert verdict.errors == [], "\n".join(verdict.lines)
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.PatientID == "PID-42 X"
    assert str(ds.PatientName) == "Doe^John"
    assert ds.AccessionNumber == "ACC $B1"
    assert "\\" not in ds.StudyID and len(ds.StudyID) <= 16  # one value (the upload's two, as the film was read)
    assert ds.StudyDate == "" and ds.StudyTime == "" and ds.PatientSex == ""  # not a date, a time, a code
    assert str(ds.ReferringPhysicianName) == "Ref^Doc"
    for keyword in ("PatientID", "PatientName", "AccessionNumber", "StudyID", "ReferringPhysicianName"):
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in str(ds.get(keyword))), keyword


@pytest.mark.parametrize(("keyword", "value", "expected"), [
    ("PatientID", "AB\r\nCD", "AB CD"),
    ("PatientID", "A\\B", "A B"),  # the multiplicity separator
    ("PatientID", "x" * 80, "x" * 64),
    ("PatientName", "Doe\x07^John", "Doe^John"),
    ("PatientName", "张^三", "张^三"),
    ("PatientName", "A^B^C^D^E^F=Ideo=Phon=Extra", "A^B^C^D^E=Ideo=Phon"),
    ("AccessionNumber", "\x00" * 3 + "1234567890123456789", "1234567890123456"),
    ("StudyDate", "20240229", "20240229"),
    ("StudyDate", "20241301", ""),
    ("StudyDate", "2024\r\n0101", ""),
    ("StudyTime", "101530.123456", "101530.123456"),
    ("StudyTime", "1015", "1015"),
    ("StudyTime", "10:15", ""),
    ("PatientSex", "f", "F"),
    ("PatientSex", "F\x00", "F"),
    ("PatientSex", "female!", ""),
    ("Modality", "DX", "DX"),
])
def test_header_value_is_valid_for_its_vr(keyword: str, value: str, expected: str) -> None:
    assert header_value(keyword, value) == expected
