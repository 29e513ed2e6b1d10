"""Every common DICOM transfer syntax in (issue 24): each test makes its own file, encoded by
pydicom's encoders (RLE, JPEG-LS, JPEG 2000, deflate, implicit VR) or by dcmtk from Debian
(JPEG baseline / extended / lossless, big endian; RLE and JPEG-LS once more as a second,
independent encoder), decodes it through ``decode_upload`` and compares it with the same film
uploaded uncompressed: identical for the lossless syntaxes, close for the lossy ones, and the
spacing survives. Broken, hostile or unsupported compressed data is a 4xx, never a 500."""

from __future__ import annotations

import io
import shutil
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    generate_uid,
)

from orchestrator.errors import CorruptImageError, ImageTooLargeError, UnsupportedMediaError
from orchestrator.imaging import DecodedFilm, decode_upload


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 64 * 1024 * 1024
    max_image_pixels: int = 6000 * 6000


LIMITS = Limits()
SPACING = (0.443, 0.439)  # row, column mm: unequal, so a swap would show; 13 x 11 cm, a plausible film
SHAPE = (300, 240)


def source_film(bits: int) -> np.ndarray:
    """A film using the full ``bits`` range: a gradient, a dense block and a little noise (so the
    encoders have texture to keep), deterministic."""
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w]
    arr = (xx * 3 + yy).astype(np.float64) / (3 * w + h) * 0.7
    arr[h // 4 : h // 2, w // 4 : w // 2] = 0.95
    arr += np.random.default_rng(bits).normal(0.0, 0.01, arr.shape)
    top = 2**bits - 1
    return np.clip(np.rint(arr * top), 0, top).astype(np.uint8 if bits <= 8 else np.uint16)


def source_dicom(bits: int) -> bytes:
    """Explicit VR little endian DX with ImagerPixelSpacing; 8 bits allocated for 8-bit data."""
    arr = source_film(bits)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"ts-test-{bits}"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("src.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    allocated = 8 if bits <= 8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = allocated, bits, bits - 1, 0
    ds.ImagerPixelSpacing = [f"{SPACING[0]:g}", f"{SPACING[1]:g}"]
    ds.PixelData = arr.tobytes()
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def with_pydicom(data: bytes, ts: UID, **kwargs: object) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    if ts.is_encapsulated:
        ds.compress(ts, **kwargs)
    else:
        ds.file_meta.TransferSyntaxUID = ts
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True, implicit_vr=ts.is_implicit_VR, little_endian=ts.is_little_endian)
    return buf.getvalue()


def with_dcmtk(data: bytes, tool: str, *options: str, tmp: Path) -> bytes:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} (Debian dcmtk) is not installed; `make system-packages` installs it")
    src, out = tmp / "in.dcm", tmp / "out.dcm"
    src.write_bytes(data)
    subprocess.run([tool, *options, str(src), str(out)], check=True, capture_output=True, timeout=60)
    return out.read_bytes()


# (id, bits, transfer syntax, encoder, options, tolerance: None = identical, else the largest
# mean and max absolute difference on the [0, 1] working film)
MATRIX = [
    ("explicit-le", 16, ExplicitVRLittleEndian, "pydicom", (), None),
    ("implicit-le", 16, ImplicitVRLittleEndian, "pydicom", (), None),
    ("big-endian", 16, ExplicitVRBigEndian, "dcmconv", ("+tb",), None),
    ("deflated", 16, DeflatedExplicitVRLittleEndian, "pydicom", (), None),
    ("rle", 16, RLELossless, "pydicom", (), None),
    ("rle-dcmtk", 16, RLELossless, "dcmcrle", (), None),
    ("jpeg-baseline-8", 8, JPEGBaseline8Bit, "dcmcjpeg", ("+eb",), (0.006, 0.06)),
    ("jpeg-extended-12", 12, JPEGExtended12Bit, "dcmcjpeg", ("+ee",), (0.001, 0.01)),
    ("jpeg-lossless-p14", 16, JPEGLossless, "dcmcjpeg", ("+el",), None),
    ("jpeg-lossless-sv1", 16, JPEGLosslessSV1, "dcmcjpeg", ("+e1",), None),
    ("jpeg-lossless-sv1-12", 12, JPEGLosslessSV1, "dcmcjpeg", ("+e1",), None),
    ("jpeg-ls-lossless", 16, JPEGLSLossless, "pydicom", (), None),
    ("jpeg-ls-lossless-dcmtk", 16, JPEGLSLossless, "dcmcjpls", ("+el",), None),
    ("jpeg-ls-near-lossless", 16, JPEGLSNearLossless, "pydicom", (("jls_error", 3),), (1e-4, 1e-3)),
    ("jpeg2000-lossless", 16, JPEG2000Lossless, "pydicom", (), None),
    ("jpeg2000-lossy", 16, JPEG2000, "pydicom", (("j2k_cr", [15]),), (0.006, 0.05)),
]


def encode(bits: int, ts: UID, encoder: str, options: tuple, tmp: Path) -> bytes:
    data = source_dicom(bits)
    if encoder == "pydicom":
        return with_pydicom(data, ts, **dict(options))
    return with_dcmtk(data, encoder, *options, tmp=tmp)


@pytest.mark.parametrize(("bits", "ts", "encoder", "options", "tolerance"),
                         [m[1:] for m in MATRIX], ids=[m[0] for m in MATRIX])
def test_transfer_syntax_decodes_like_the_uncompressed_film(
    bits: int, ts: UID, encoder: str, options: tuple, tolerance: tuple[float, float] | None, tmp_path: Path
) -> None:
    reference = decode_upload(source_dicom(bits), "src.dcm", LIMITS)
    data = encode(bits, ts, encoder, options, tmp_path)
    assert pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta.TransferSyntaxUID == ts
    out = decode_upload(data, "film.dcm", LIMITS)
    assert out.info["transfer_syntax"] == ts
    assert out.format == "dicom" and out.image.shape == (512, 512)
    assert out.resampling == reference.resampling
    diff = np.abs(out.image.astype(np.float64) - reference.image)
    if tolerance is None:
        assert np.array_equal(out.image, reference.image), f"lossless {ts.name} changed pixels: max {diff.max()}"
    else:
        assert 0 < diff.mean() <= tolerance[0] and diff.max() <= tolerance[1], (diff.mean(), diff.max())
        assert np.corrcoef(out.image.ravel(), reference.image.ravel())[0, 1] > 0.999
    assert_same_spacing(out, reference)


def assert_same_spacing(out: DecodedFilm, reference: DecodedFilm) -> None:
    assert out.spacing is not None and reference.spacing is not None
    assert (out.spacing.row_mm, out.spacing.col_mm) == (reference.spacing.row_mm, reference.spacing.col_mm)
    assert out.spacing.row_mm == pytest.approx(SPACING[0] * reference.resampling.scale)
    assert out.spacing.col_mm == pytest.approx(SPACING[1] * reference.resampling.scale)


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
def test_a_dataset_without_preamble_or_meta_reads_as_it_was_written(implicit: bool) -> None:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    write_dataset(fp, pydicom.dcmread(io.BytesIO(source_dicom(16))))
    out = decode_upload(fp.getvalue(), "raw.dcm", LIMITS)
    reference = decode_upload(source_dicom(16), None, LIMITS)
    assert out.info["transfer_syntax"] == (ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian)
    assert np.array_equal(out.image, reference.image)
    assert_same_spacing(out, reference)


def test_multi_frame_compressed_reads_the_first_frame() -> None:
    ds = pydicom.dcmread(io.BytesIO(source_dicom(16)))
    first = source_film(16)
    second = (65535 - first).astype(np.uint16)
    ds.NumberOfFrames = 2
    ds.PixelData = np.stack([first, second]).tobytes()
    ds.compress(RLELossless)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    out = decode_upload(buf.getvalue(), None, LIMITS)
    assert np.array_equal(out.image, decode_upload(source_dicom(16), None, LIMITS).image)
    # and the answers say so (a PACS probe: a 2-frame DX was read from its first frame without a word)
    from orchestrator.film_gate.metadata import read_tags

    assert out.info["frames"] == 2 and "first_frame_only" in read_tags(out.info).warnings
    assert "frames" not in decode_upload(source_dicom(16), None, LIMITS).info


# --- hostile, broken and unsupported data ---------------------------------------------------------


def _deflated_file(body: bytes) -> bytes:
    """A Part 10 file whose meta says deflated and whose dataset is ``body`` deflated."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    buf.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buf, meta, enforce_standard=True)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    buf.write(deflater.compress(body) + deflater.flush())
    return buf.getvalue()


def test_deflate_bomb_is_413_without_inflating_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # a valid first element (Modality), then 256 MiB of zeros: ~250 KiB on the wire
    bomb = _deflated_file(b"\x08\x00\x60\x00CS\x02\x00DX" + b"\0" * (256 << 20))
    assert len(bomb) < 1 << 20
    # pydicom's own reader inflates the whole stream at once: it must never be reached
    import pydicom.filereader

    def unbounded(*_a: object, **_k: object) -> bytes:
        raise AssertionError("pydicom's unbounded zlib.decompress was called")

    monkeypatch.setattr(pydicom.filereader.zlib, "decompress", unbounded)
    with pytest.raises(ImageTooLargeError, match="inflates to more than"):
        decode_upload(bomb, "bomb.dcm", Limits(max_upload_bytes=4 << 20, max_image_pixels=1000 * 1000))
    with pytest.raises(ImageTooLargeError):
        decode_upload(bomb, "bomb.dcm", LIMITS)  # 64 MiB + 72 MB limit: still refused


def test_deflated_within_the_limit_reads_even_with_a_tight_upload_limit() -> None:
    data = with_pydicom(source_dicom(16), DeflatedExplicitVRLittleEndian)
    inflated = 2 * SHAPE[0] * SHAPE[1]
    tight = Limits(max_upload_bytes=len(data) + 10, max_image_pixels=SHAPE[0] * SHAPE[1])
    assert len(data) < inflated  # the pixel bytes alone are more than the upload limit here
    out = decode_upload(data, None, tight)
    assert out.spacing is not None


def test_broken_deflate_streams_are_422() -> None:
    good = with_pydicom(source_dicom(16), DeflatedExplicitVRLittleEndian)
    meta_end = good.index(b"1.2.840.10008.1.2.1.99") + len("1.2.840.10008.1.2.1.99")
    for broken in (good[: len(good) - 300],  # truncated stream
                   good[:meta_end] + b"\xff" * 64):  # not deflate at all
        with pytest.raises(CorruptImageError):
            decode_upload(broken, None, LIMITS)


def _replace_first_frame(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([edit(frame)])
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _sof_offset(frame: bytes, markers: tuple[int, ...]) -> int:
    for marker in markers:
        i = frame.find(bytes([0xFF, marker]))
        if i >= 0:
            return i
    raise AssertionError("no SOF")


def test_a_frame_claiming_more_pixels_than_the_limit_is_413_before_decoding(tmp_path: Path) -> None:
    data = with_dcmtk(source_dicom(16), "dcmcjpeg", "+e1", tmp=tmp_path)

    def huge(frame: bytes) -> bytes:
        i = _sof_offset(frame, (0xC3,))
        return frame[: i + 5] + (40000).to_bytes(2, "big") * 2 + frame[i + 9 :]

    with pytest.raises(ImageTooLargeError, match="over the limit of 36000000 pixels"):
        decode_upload(_replace_first_frame(data, huge), None, LIMITS)


def test_a_j2k_frame_claiming_more_pixels_is_413() -> None:
    data = with_pydicom(source_dicom(16), JPEG2000Lossless)

    def huge(frame: bytes) -> bytes:
        assert frame[:4] == b"\xff\x4f\xff\x51"
        return frame[:8] + (50000).to_bytes(4, "big") * 2 + frame[16:]

    with pytest.raises(ImageTooLargeError):
        decode_upload(_replace_first_frame(data, huge), None, LIMITS)


def test_a_frame_disagreeing_with_rows_columns_is_422() -> None:
    data = with_pydicom(source_dicom(16), JPEGLSLossless)

    def other(frame: bytes) -> bytes:
        i = _sof_offset(frame, (0xF7,))
        return frame[: i + 5] + (100).to_bytes(2, "big") + frame[i + 7 :]

    with pytest.raises(CorruptImageError, match="disagrees with Rows and Columns"):
        decode_upload(_replace_first_frame(data, other), None, LIMITS)


@pytest.mark.parametrize("ts", [JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless, RLELossless],
                         ids=["jpeg-lossless", "jpeg-ls", "jpeg2000", "rle"])
def test_truncated_or_garbled_frames_are_422(ts: UID, tmp_path: Path) -> None:
    source = source_dicom(16)
    data = (with_dcmtk(source, "dcmcjpeg", "+e1", tmp=tmp_path) if ts == JPEGLosslessSV1
            else with_pydicom(source, ts))
    for edit in (lambda f: f[: len(f) // 3],  # truncated
                 lambda f: f[:64] + bytes(range(256)) * 8):  # garbage after the header
        with pytest.raises(CorruptImageError):
            decode_upload(_replace_first_frame(data, edit), None, LIMITS)


def test_a_truncated_compressed_file_is_422(tmp_path: Path) -> None:
    for data in (with_dcmtk(source_dicom(16), "dcmcjpeg", "+e1", tmp=tmp_path),
                 with_pydicom(source_dicom(16), JPEG2000Lossless)):
        for cut in (len(data) * 2 // 3, len(data) - 20):
            with pytest.raises(CorruptImageError):
                decode_upload(data[:cut], "x.dcm", LIMITS)


def test_unsupported_transfer_syntax_is_415() -> None:
    data = source_dicom(16)
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.100")  # MPEG2 Main Profile
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\0" * 60])
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    with pytest.raises(UnsupportedMediaError, match="not supported"):
        decode_upload(buf.getvalue(), None, LIMITS)


def test_a_missing_decoder_plugin_is_415(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydicom.pixels.decoders.base import Decoder

    data = with_pydicom(source_dicom(16), JPEGLSLossless)
    monkeypatch.setattr(Decoder, "is_available", property(lambda self: not self.UID.is_encapsulated))
    with pytest.raises(UnsupportedMediaError, match="decoder that is not installed"):
        decode_upload(data, None, LIMITS)
