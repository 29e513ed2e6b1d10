"""HILUM_DEIDENTIFY: what a session keeps of a DICOM upload goes through the PS3.15 basic profile
(Retain UIDs option), and every result says it was de-identified (orchestrator/deidentify.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
import pytest

from orchestrator.deidentify import deidentify_header
from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.dicom_out.objects import DicomObjects
from orchestrator.settings import Settings

from .conftest import dciodvfy, with_header

PHI = {"PatientName": "Doe^Jane^Q", "PatientID": "PID-778812", "PatientBirthDate": "19610417", "PatientSex": "F",
       "StudyDate": "20260311", "StudyTime": "091544", "AccessionNumber": "ACC-5521", "ReferringPhysicianName": "Who^Doctor",
       "StudyID": "STUDY-93"}


@pytest.fixture(scope="module")
def sessions(engine: Any, film_dcm: bytes) -> Any:
    """The same identified upload through an engine that de-identifies and one that does not."""
    data = with_header(film_dcm, **PHI)
    deid = DialogueEngine(engine.encoder, Settings(deidentify=True))
    plain = DialogueEngine(engine.encoder, Settings())
    a = deid.create_session(data, filename="film.dcm", lang="en")
    deid.ask(a.session_id, "how far is A1 from the right hilum?")
    b = plain.create_session(data, filename="film.dcm", lang="en")
    yield (deid, a.session_id), (plain, b.session_id), pydicom.dcmread(io.BytesIO(data))
    deid.close_session(a.session_id)
    plain.close_session(b.session_id)


def test_the_basic_profile_empties_or_replaces_every_kept_identifier() -> None:
    out = deidentify_header(PHI)
    assert out["PatientIdentityRemoved"] == "YES" and "Basic Profile" in out["DeidentificationMethod"]
    for keyword, value in PHI.items():
        assert out.get(keyword, "") != value, keyword
    assert not any(v in " ".join(out.values()) for v in PHI.values() if len(v) > 1)


def test_nothing_identifying_is_stored_and_uids_are_retained(sessions: Any) -> None:
    (deid, sid), (plain, plain_sid), src = sessions
    stored = deid.store.get(sid).to_json()
    for value in PHI.values():
        if len(value) > 1:
            assert value not in stored, "an identifier reached the session store"
    ref = deid.store.get(sid).source.dicom
    assert (ref.study_uid, ref.series_uid, ref.sop_instance_uid) == (
        src.StudyInstanceUID, src.SeriesInstanceUID, src.SOPInstanceUID)
    # without the setting the store keeps the attributes a result needs to be filed with its patient
    assert plain.store.get(plain_sid).source.dicom.header_dict()["PatientID"] == PHI["PatientID"]


@pytest.mark.parametrize("kind", ["sr", "pr", "seg"])
def test_every_result_is_marked_de_identified_and_valid(sessions: Any, kind: str, tmp_path: Path) -> None:
    (deid, sid), (plain, plain_sid), src = sessions
    data = DicomObjects(deid).bytes(kind, sid)
    for value in PHI.values():
        if len(value) > 1:
            assert value.encode() not in data, f"{kind} carries an identifier"
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113108"]
    assert ds.StudyInstanceUID == src.StudyInstanceUID  # still filed in the source's study
    verdict = dciodvfy(data, tmp_path, f"{kind}.dcm")
    assert verdict.errors == [], verdict.errors
    identified = pydicom.dcmread(io.BytesIO(DicomObjects(plain).bytes(kind, plain_sid)))
    assert identified.PatientID == PHI["PatientID"] and "PatientIdentityRemoved" not in identified


def test_the_sr_parses_back_with_its_findings(sessions: Any) -> None:
    (deid, sid), _, _ = sessions
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(DicomObjects(deid).bytes("sr", sid))))
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == len(deid.store.get(sid).facts.findings)


def test_de_identified_results_are_never_filed_in_a_pacs(sessions: Any) -> None:
    """A PACS integrator's probe: de-identified results pushed by the film's UIDs filed a nameless second patient
    (ANONYMIZED) into the identified study, and every such study under that one patient. They are refused before
    the PACS is asked; identified results still go."""
    from orchestrator.pacs import DeidentifiedResultsError, store_objects

    class Pacs:
        stored: list[int] = []

        def store(self, objects: list[bytes], study_uid: str) -> list[str]:
            self.stored.append(len(objects))
            return [str(pydicom.dcmread(io.BytesIO(o), stop_before_pixels=True).SOPInstanceUID) for o in objects]

    (deid, sid), (plain, plain_sid), _ = sessions

    def objects(engine: Any, session_id: str) -> list[Any]:
        out = []
        for kind in ("sr", "pr"):
            data = DicomObjects(engine).bytes(kind, session_id)
            out.append((kind, data, pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)))
        return out

    pacs = Pacs()
    with pytest.raises(DeidentifiedResultsError) as info:
        store_objects(pacs, objects(deid, sid))  # type: ignore[arg-type]
    assert info.value.kind == "deidentified_results" and pacs.stored == []
    assert [p.kind for p in store_objects(pacs, objects(plain, plain_sid))] == ["sr", "pr"]  # type: ignore[arg-type]
