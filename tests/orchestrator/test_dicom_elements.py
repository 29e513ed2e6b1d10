"""``orchestrator.dicom_elements``: the element count a reader checks before pydicom parses a film.

The count is compared with pydicom's own reading of the same bytes (every element, nested ones
included) in each encoding a film arrives in; the cap stops the walk early.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from orchestrator.dicom_elements import count_elements, max_count
from tests.orchestrator.test_hostile_inputs import body_of


def film_with_sequences(syntax: str, encapsulated: bool = False) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = RLELossless if encapsulated else syntax
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Modality, ds.PatientName = "DX", "Doe^Jane"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "399348003", "SCT", "oblique"
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "R-10202", "SRT"
    code.ViewModifierCodeSequence = Sequence([inner])
    ds.ViewCodeSequence = Sequence([code, Dataset()])
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 8, 8, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)
    if encapsulated:
        ds.compress(RLELossless, pixels, encoding_plugin="pydicom")
    else:
        ds.PixelData = pixels.tobytes()
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def dataset_start(data: bytes) -> int:
    return len(data) - len(body_of(data))


@pytest.mark.parametrize(("syntax", "encapsulated"), [(ExplicitVRLittleEndian, False), (ImplicitVRLittleEndian, False),
                                                      (ExplicitVRBigEndian, False), (ExplicitVRLittleEndian, True)],
                         ids=["explicit-le", "implicit-le", "explicit-be", "encapsulated"])
def test_the_count_is_pydicoms_own(syntax: str, encapsulated: bool) -> None:
    data = film_with_sequences(syntax, encapsulated)
    read = pydicom.dcmread(io.BytesIO(data))
    expected = len(list(read.iterall()))  # every element, the nested ones included
    assert expected > 15
    implicit = read.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    little = read.file_meta.TransferSyntaxUID != ExplicitVRBigEndian
    assert count_elements(data, dataset_start(data), implicit, little) == expected


def test_the_walk_stops_past_the_cap() -> None:
    tiny = b"".join(struct.pack("<HH2sH", 0x0009 + 2 * (i // 0xE000), 0x1000 + i % 0xE000, b"LO", 0)
                    for i in range(200_000))
    assert count_elements(tiny, 0, implicit_vr=False, little_endian=True, cap=1000) == 1001
    assert count_elements(tiny, 0, implicit_vr=False, little_endian=True, cap=10**6) == 200_000
    assert count_elements(tiny[:-3], 0, implicit_vr=False, little_endian=True, cap=10**6) == 199_999  # cut short


def test_fragments_of_encapsulated_pixel_data_are_not_elements() -> None:
    """A fragment's bytes may look like anything, tags included: they are stepped over whole."""
    fake_elements = struct.pack("<HH2sH", 0x0009, 0x1000, b"LO", 0) * 500
    pixel = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + encapsulate([fake_elements])
    assert count_elements(pixel, 0, implicit_vr=False, little_endian=True) == 1


# disguises a probe built to hide many elements from a walk that trusted the file's declared encoding
_N = 60_000
_IMPLICIT = b"".join(struct.pack("<HHI", 0x0009 + 2 * (i // 0xE000), 0x1000 + i % 0xE000, 0) for i in range(_N))
_EXPLICIT = b"".join(struct.pack("<HH2sH", 0x0009 + 2 * (i // 0xE000), 0x1000 + i % 0xE000, b"CS", 0) for i in range(_N))
_LURE = struct.pack("<HHI", 0x0009, 0x0010, 12) + struct.pack("<HH2sHI", 0x0009, 0x0011, b"OB", 0, 0xFFFFFFF0)
_ITEM, _ITEM_END, _SEQ_END = (struct.pack("<HHI", 0xFFFE, e, n) for e, n in ((0xE000, 0xFFFFFFFF), (0xE00D, 0), (0xE0DD, 0)))


@pytest.mark.parametrize(("body", "syntax"), [
    (_LURE + _IMPLICIT, ExplicitVRLittleEndian),  # said explicit, read implicit (the first element is)
    (struct.pack("<HH2sH", 0x0008, 0x0005, b"CS", 0) + _LURE + _EXPLICIT, ExplicitVRLittleEndian),  # a switch mid-way
    (struct.pack("<HH2sH", 0x0009, 0x0010, b"LO", 0xFFFF) + b" " * 0xFFFF + _EXPLICIT, ImplicitVRLittleEndian),
    (struct.pack("<HH2sHI", 0x0009, 0x1010, b"UN", 0, 0xFFFFFFFF) + _ITEM + _IMPLICIT + _ITEM_END + _SEQ_END,
     ExplicitVRLittleEndian),  # an undefined-length UN: an implicit-VR sequence
    (struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + _SEQ_END + _EXPLICIT, ExplicitVRLittleEndian),
    (_LURE + _IMPLICIT, ""),  # no transfer syntax named
], ids=["declared-explicit-read-implicit", "switch-to-implicit", "declared-implicit-read-explicit",
        "undefined-length-un", "delimiter-inside-pixel-data", "no-meta"])
def test_elements_hidden_by_a_declared_encoding_are_counted(body: bytes, syntax: str) -> None:
    """Every encoding pydicom could read the bytes in is walked, and a value of undefined length ends where pydicom
    finds the delimiter: each of these hid 2 million elements from the first walk (a probe; 0.7-2.2 GB to read)."""
    assert max_count(body, 0, syntax) > 50_000
