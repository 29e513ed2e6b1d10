"""Upload decoding: format sniffing, limits before decoding, corrupt input, DICOM spacing."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orchestrator.errors import CorruptImageError, ImageTooLargeError, UnsupportedMediaError
from orchestrator.imaging import decode_upload, jpeg_size, png_size, sniff_format


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 64 * 1024 * 1024
    max_image_pixels: int = 6000 * 6000


LIMITS = Limits()


def film(h: int = 300, w: int = 240) -> np.ndarray:
    """A gradient film with a bright block (so intensity direction is testable)."""
    yy, xx = np.mgrid[0:h, 0:w]
    arr = (xx * 3 + yy).astype(np.float64)
    arr = arr / arr.max() * 3000
    arr[h // 4 : h // 2, w // 4 : w // 2] = 4000
    return arr.astype(np.uint16)


def png_bytes(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def dicom_bytes(arr: np.ndarray, **elements: object) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for key, value in elements.items():
        setattr(ds, key, value)
    ds.PixelData = arr.astype(np.uint16).tobytes()
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def test_not_an_image_is_415() -> None:
    with pytest.raises(UnsupportedMediaError):
        decode_upload(b"hello, this is a text file" * 10, "notes.txt", LIMITS)
    with pytest.raises(UnsupportedMediaError):
        decode_upload(b"", None, LIMITS)
    # a misleading filename does not help
    with pytest.raises(UnsupportedMediaError):
        decode_upload(b"%PDF-1.7 ....", "film.png", LIMITS)


def test_png_decodes_to_working_film() -> None:
    arr = (film() // 16).astype(np.uint8)
    out = decode_upload(png_bytes(arr), "a.png", LIMITS)
    assert out.format == "png" and out.spacing is None
    assert out.image.shape == (512, 512) and out.image.dtype == np.float32
    assert out.image.min() >= 0.0 and out.image.max() <= 1.0
    assert out.resampling.original_size == (300, 240)
    assert out.display_png.startswith(b"\x89PNG")
    assert out.original is None and out.original_mm_per_px is None  # freed unless the lesion reader needs it
    kept = decode_upload(png_bytes(arr), "a.png", LIMITS, keep_original=True).original
    assert kept is not None and kept.shape == (300, 240)


def test_sixteen_bit_and_rgb_png() -> None:
    out16 = decode_upload(png_bytes(film()), None, LIMITS)
    rgb = np.stack([(film() // 16).astype(np.uint8)] * 3, axis=-1)
    out_rgb = decode_upload(png_bytes(rgb), None, LIMITS)
    assert out_rgb.image.shape == (512, 512)
    assert np.corrcoef(out16.image.ravel(), out_rgb.image.ravel())[0, 1] > 0.99


def test_jpeg_decodes() -> None:
    buf = io.BytesIO()
    Image.fromarray((film() // 16).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    assert jpeg_size(data) == (240, 300)
    out = decode_upload(data, "x.jpg", LIMITS)
    assert out.format == "jpeg" and out.image.shape == (512, 512)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_pixels_as_a_viewer_shows_them(fmt: str, orientation: int) -> None:
    """A phone stores a film's pixels as its sensor read them and says in the EXIF Orientation tag how to
    turn them; Hilum reads the film as every viewer shows it (Pillow's ``exif_transpose`` is the reference)."""
    from PIL import ImageOps

    arr = (film() // 16).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    data = buf.getvalue()
    shown = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    out = decode_upload(data, None, LIMITS, keep_original=True)
    assert out.original is not None and out.original.shape == shown.shape
    assert np.array_equal(out.original, shown.astype(np.float32))
    assert out.resampling.original_size == shown.shape
    assert out.info.get("exif_orientation", 1) == orientation


def test_a_broken_exif_orientation_leaves_the_pixels_as_stored() -> None:
    arr = (film() // 16).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 77  # no such orientation
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", exif=exif.tobytes())
    out = decode_upload(buf.getvalue(), None, LIMITS, keep_original=True)
    assert out.original is not None and np.array_equal(out.original, arr.astype(np.float32))
    assert "exif_orientation" not in out.info


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    # a tiny, bogus IDAT: it must never be decoded
    idat = zlib.compress(b"\0" * 64)
    chunk2 = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk + chunk2


def test_png_header_over_pixel_limit_is_413_before_decoding() -> None:
    data = _png_header_only(40000, 40000)
    assert png_size(data) == (40000, 40000)
    with pytest.raises(ImageTooLargeError, match="over the limit of 36000000 pixels"):
        decode_upload(data, "huge.png", LIMITS)


def test_jpeg_header_over_pixel_limit_is_413() -> None:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 40000, 40000, 1) + b"\x01\x11\x00"
    data = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"\0\0" + sof + b"\xff\xd9"
    with pytest.raises(ImageTooLargeError):
        decode_upload(data, None, LIMITS)


def test_upload_over_byte_limit_is_413() -> None:
    with pytest.raises(ImageTooLargeError):
        decode_upload(b"\0" * 2000, None, Limits(max_upload_bytes=1000))


def test_truncated_png_is_422() -> None:
    data = png_bytes((film() // 16).astype(np.uint8))
    with pytest.raises(CorruptImageError):
        decode_upload(data[: len(data) // 2], None, LIMITS)
    with pytest.raises(CorruptImageError):
        decode_upload(data[:20], None, LIMITS)


def test_truncated_dicom_is_422() -> None:
    data = dicom_bytes(film(), ImagerPixelSpacing=[0.15, 0.15])
    for cut in (len(data) // 2, 200, 140):
        with pytest.raises(CorruptImageError):
            decode_upload(data[:cut], "x.dcm", LIMITS)


def test_dicom_without_pixels_is_422() -> None:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Modality = "DX"
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    with pytest.raises(CorruptImageError, match="no pixel data"):
        decode_upload(buf.getvalue(), None, LIMITS)


def test_dicom_spacing_imager_first_with_magnification() -> None:
    arr = film(512, 512)
    data = dicom_bytes(
        arr, ImagerPixelSpacing=[0.2, 0.2], PixelSpacing=[0.5, 0.5], EstimatedRadiographicMagnificationFactor=1.25
    )
    out = decode_upload(data, None, LIMITS)
    assert out.format == "dicom" and out.modality == "DX"
    assert out.spacing is not None and out.spacing.source == "dicom"
    assert out.spacing.row_mm == pytest.approx(0.16) and out.spacing.col_mm == pytest.approx(0.16)
    assert "magnification" in out.spacing.note


def test_dicom_pixel_spacing_fallback_scaled_to_working_image() -> None:
    arr = film(1024, 800)  # padded to 1024 square, scaled by 2
    out = decode_upload(dicom_bytes(arr, PixelSpacing=[0.1, 0.1]), None, LIMITS)
    assert out.resampling.scale == pytest.approx(2.0)
    assert out.spacing is not None
    assert out.spacing.row_mm == pytest.approx(0.2) and out.spacing.col_mm == pytest.approx(0.2)


def test_dicom_without_spacing_has_none() -> None:
    out = decode_upload(dicom_bytes(film()), None, LIMITS)
    assert out.spacing is None


def test_dicom_rows_columns_over_limit_is_413() -> None:
    data = dicom_bytes(film(100, 100))
    with pytest.raises(ImageTooLargeError):
        decode_upload(data, None, Limits(max_image_pixels=5000))


def test_monochrome1_is_inverted() -> None:
    arr = film(512, 512)
    m2 = decode_upload(dicom_bytes(arr), None, LIMITS).image
    m1 = decode_upload(dicom_bytes(arr, PhotometricInterpretation="MONOCHROME1"), None, LIMITS).image
    # the bright block stays bright after inversion of the stored values (dense = bright)
    inv = (arr.max() - arr).astype(np.uint16)
    m1_inv = decode_upload(dicom_bytes(inv, PhotometricInterpretation="MONOCHROME1"), None, LIMITS).image
    assert np.abs(m1_inv - m2).mean() < 0.02
    assert np.corrcoef(m1.ravel(), m2.ravel())[0, 1] < -0.9


def test_sniff_format() -> None:
    assert sniff_format(b"\0" * 128 + b"DICM" + b"\0" * 10) == "dicom"
    assert sniff_format(b"\x89PNG\r\n\x1a\n" + b"\0" * 20) == "png"
    assert sniff_format(b"\xff\xd8\xff\xe0") == "jpeg"


def test_a_letterboxed_upload_is_cut_to_its_film_and_keeps_its_spacing() -> None:
    """A film padded with one value (an export's letterbox) is read as the film: the cut is recorded (the
    resampling's crop, ``info["film_box"]``), the upload's size is still the upload's, and a DICOM's spacing per
    working pixel is the film's own (the cut changes no pixel's size)."""
    rng = np.random.default_rng(3)
    arr = (film(400, 320).astype(np.float64) + rng.normal(0, 40, (400, 320))).clip(0, 4095).astype(np.uint16)
    boxed = np.zeros((900, 700), np.uint16)
    boxed[200:600, 150:470] = arr
    out = decode_upload(dicom_bytes(boxed, ImagerPixelSpacing=[0.2, 0.2]), None, LIMITS, keep_original=True)
    alone = decode_upload(dicom_bytes(arr, ImagerPixelSpacing=[0.2, 0.2]), None, LIMITS)
    assert (out.resampling.crop_x, out.resampling.crop_y) == (150, 200)
    assert out.info["film_box"] == [150, 200, 470, 600] and out.info["original_size"] == [900, 700]
    assert out.resampling.original_size == (400, 320) and out.resampling.upload_size == (900, 700)
    assert out.original is not None and out.original.shape == (900, 700)  # the upload's pixels, as the frame is
    assert out.spacing is not None and alone.spacing is not None
    assert out.spacing.row_mm == pytest.approx(alone.spacing.row_mm)
    assert np.corrcoef(out.image.ravel(), alone.image.ravel())[0, 1] > 0.99
    # the session's frame is against the upload: original = working × scale − pad lands on the upload's pixels
    frame = out.frame
    assert frame.original_size == (900, 700)
    x, y = frame.to_original(*frame.to_working(150.0 + 100.0, 200.0 + 50.0))
    assert (float(x), float(y)) == pytest.approx((250.0, 250.0))
    assert frame.pad_px == (float(out.resampling.pad_x - 150), float(out.resampling.pad_y - 200))
    frame.validate()  # a negative pad (the cut's corner) is a valid frame
    plain = decode_upload(dicom_bytes(arr, ImagerPixelSpacing=[0.2, 0.2]), None, LIMITS)
    assert (plain.resampling.crop_x, plain.resampling.crop_y) == (0, 0) and "film_box" not in plain.info


def _scans(jpeg: bytes) -> list[bytes]:
    """A JPEG's segments from each start-of-scan to the next marker that is not inside its entropy-coded data."""
    out, i = [], jpeg.find(b"\xff\xda")
    while i >= 0:
        j = i + 2 + struct.unpack(">H", jpeg[i + 2:i + 4])[0]
        while j < len(jpeg) - 1 and not (jpeg[j] == 0xFF and jpeg[j + 1] not in (0x00, *range(0xD0, 0xD8))):
            j += 1
        out.append(jpeg[i:j])
        i = jpeg.find(b"\xff\xda", j)
    return out


def scan_bomb(n: int) -> bytes:
    """A progressive JPEG whose last scan is repeated to ``n`` scans in all: each repetition is a few bytes and costs
    the decoder a pass over the whole image."""
    buf = io.BytesIO()
    Image.fromarray((film() >> 4).astype(np.uint8)).save(buf, format="JPEG", progressive=True)
    jpeg = buf.getvalue()
    scans = _scans(jpeg)
    last = scans[-1]
    head = jpeg[:jpeg.rfind(last)]
    return head + last * (n - len(scans) + 1) + b"\xff\xd9"


def test_a_progressive_jpeg_of_too_many_scans_is_refused_before_decoding() -> None:
    """A 1.8 MB progressive JPEG repeating one cheap scan 20,000 times took 51 s of CPU to refuse; its scans are counted
    first, over the plain file and inside a DICOM's frame alike (where it came to 12 ms a scan on a 6000^2 film)."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    from orchestrator.imaging import MAX_JPEG_SCANS

    ordinary = scan_bomb(len(_scans(scan_bomb(1))))  # as Pillow wrote it
    assert decode_upload(ordinary, "film.jpg", LIMITS).image.shape == (512, 512)
    bomb = scan_bomb(MAX_JPEG_SCANS + 1)
    with pytest.raises(CorruptImageError, match="scans"):
        decode_upload(bomb, "film.jpg", LIMITS)
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(film())))
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([bomb])
    ds["PixelData"].is_undefined_length = True
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    with pytest.raises(CorruptImageError, match="scans"):
        decode_upload(buf.getvalue(), "film.dcm", LIMITS)


def test_a_colour_film_is_not_copied_whole_into_float() -> None:
    """A colour upload at the pixel limit cost 0.65-1 GB per request (six at once passed the chart's 4 GiB limit): its
    colourfulness is taken on a subsample made float afterwards, its luma a channel at a time."""
    import tracemalloc

    from orchestrator.imaging import _luma, colourfulness

    rgb = np.random.default_rng(0).integers(0, 255, (3000, 3000, 3), dtype=np.uint8)
    float_rgb = rgb.size * 4  # what the whole film in float32 would take: 108 MB
    tracemalloc.start()
    try:
        colour = colourfulness(rgb)
        chroma_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        grey = _luma(rgb)
        luma_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.1 < colour < 0.5 and chroma_peak < float_rgb / 20
    assert grey.dtype == np.float32 and luma_peak < float_rgb * 0.8
    expected = rgb[:2, :2].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.allclose(grey[:2, :2], expected, atol=1e-3)
