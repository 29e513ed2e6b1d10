"""Upload decoding: bytes (DICOM, PNG or JPEG) → the normalised working film and its spacing.

The format is sniffed from the bytes, never trusted from the filename: DICOM has ``DICM`` at
offset 128 (a ``.dcm`` name also allows a preamble-less dataset), PNG and JPEG by their
magic numbers. PNG and JPEG dimensions are read from the header (IHDR / SOFn) and checked
against ``settings.max_image_pixels`` before any pixel is decoded; DICOM's Rows × Columns
likewise. MONOCHROME1 films are inverted so that dense is bright; colour becomes grayscale.

Pixel spacing (DICOM only): ``ImagerPixelSpacing`` (detector plane) divided by
``EstimatedRadiographicMagnificationFactor`` when present; else ``PixelSpacing`` (already
in the patient plane by definition, so not corrected again). It is scaled to the working
image by the resampling factor.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image

from encoder.preprocess import Resampling, prepare_film
from orchestrator.errors import CorruptImageError, ImageTooLargeError, UnsupportedMediaError
from orchestrator.facts import PixelSpacing

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_MAGIC_OFFSET = 128
# JPEG start-of-frame markers (all SOFn except DHT C4, JPG C8, DAC CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

FilmFormat = Literal["dicom", "png", "jpeg"]


class UploadLimits(Protocol):
    max_upload_bytes: int
    max_image_pixels: int


@dataclass(frozen=True, eq=False)
class DecodedFilm:
    """A decoded upload, ready for the encoder."""

    image: np.ndarray  # (512, 512) float32 in [0, 1]
    resampling: Resampling
    spacing: PixelSpacing | None  # working-image mm per pixel; None without DICOM spacing
    format: FilmFormat
    modality: str | None = None  # DICOM Modality (DX, CR, ...)
    photometric: str | None = None
    display_png: bytes = b""
    info: dict[str, Any] = field(default_factory=dict)


def sniff_format(data: bytes, filename: str | None = None) -> FilmFormat:
    if len(data) >= DICOM_MAGIC_OFFSET + 4 and data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "dicom"
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if filename and filename.lower().endswith((".dcm", ".dicom")) and _looks_like_raw_dicom(data):
        return "dicom"
    raise UnsupportedMediaError("not a supported image: expected DICOM, PNG or JPEG")


def _looks_like_raw_dicom(data: bytes) -> bool:
    """A preamble-less DICOM dataset starts with a group 0x0008 (or 0x0002) element, little endian."""
    return len(data) >= 8 and data[0:2] in (b"\x08\x00", b"\x02\x00")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise CorruptImageError("broken PNG: missing IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise CorruptImageError("broken PNG: zero width or height")
    return int(width), int(height)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOFn segment."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise CorruptImageError("broken JPEG: bad marker")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in SOF_MARKERS:
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            if width == 0 or height == 0:
                raise CorruptImageError("broken JPEG: zero width or height")
            return int(width), int(height)
        i += 2 + length
    raise CorruptImageError("broken JPEG: no frame header (truncated?)")


def _check_pixels(width: int, height: int, limits: UploadLimits) -> None:
    if width * height > limits.max_image_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} = {width * height} pixels; the limit is {limits.max_image_pixels}"
        )


def decode_upload(data: bytes, filename: str | None, settings: UploadLimits) -> DecodedFilm:
    """Decode, validate and normalise one upload. Raises the InputError subclasses."""
    if len(data) > settings.max_upload_bytes:
        raise ImageTooLargeError(f"upload is {len(data)} bytes; the limit is {settings.max_upload_bytes}")
    fmt = sniff_format(data, filename)
    if fmt == "dicom":
        pixels, spacing_raw, meta = _read_dicom(data, settings)
    else:
        width, height = png_size(data) if fmt == "png" else jpeg_size(data)
        _check_pixels(width, height, settings)
        pixels, colour = _read_raster(data, fmt)
        spacing_raw, meta = None, {"colourfulness": colour}
    if pixels.ndim != 2 or min(pixels.shape) < 16:
        raise CorruptImageError(f"image of shape {pixels.shape} is not a usable 2D film")
    image, resampling = prepare_film(pixels)
    spacing = None
    if spacing_raw is not None:
        row_mm, col_mm, note = spacing_raw
        spacing = PixelSpacing(
            row_mm * resampling.scale,
            col_mm * resampling.scale,
            "dicom",
            f"{note}; x{resampling.scale:.3f} to the working image",
        )
    return DecodedFilm(
        image=image,
        resampling=resampling,
        spacing=spacing,
        format=fmt,
        modality=meta.get("modality"),
        photometric=meta.get("photometric"),
        display_png=display_png(image),
        info={"original_size": list(resampling.original_size), **meta},
    )


def display_png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(image * 255), 0, 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


# --- PNG / JPEG -------------------------------------------------------------------------------


def _read_raster(data: bytes, fmt: FilmFormat) -> tuple[np.ndarray, float]:
    """Grayscale pixels and the image's colourfulness (``colourfulness``) before conversion."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return _grayscale(im), _raster_colourfulness(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image too large to decode: {exc}") from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise CorruptImageError(f"broken {fmt.upper()}: {exc}") from exc


def colourfulness(rgb: np.ndarray) -> float:
    """Mean chroma of an RGB image in [0, 1]: 0 for gray (a radiograph), ~0.1+ for a colour photo.
    The mean absolute difference of the channels from their mean, on a 256-wide scale."""
    arr = np.asarray(rgb, dtype=np.float32)[..., :3]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        return 0.0
    step = max(1, int(np.ceil(max(arr.shape[:2]) / 256)))  # a subsample is plenty for a mean
    small = arr[::step, ::step]
    scale = 65535.0 if small.max() > 255 else 255.0
    return float(np.abs(small - small.mean(axis=-1, keepdims=True)).mean() / scale)


def _raster_colourfulness(im: Image.Image) -> float:
    if im.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        return colourfulness(np.asarray(im.convert("RGB")))
    return 0.0


def _grayscale(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
        return np.asarray(im).astype(np.float32)
    if im.mode in ("LA", "La"):
        return np.asarray(im.getchannel(0)).astype(np.float32)
    return np.asarray(im.convert("RGB").convert("L")).astype(np.float32)


# --- DICOM ------------------------------------------------------------------------------------


def _read_dicom(data: bytes, limits: UploadLimits) -> tuple[np.ndarray, tuple[float, float, str] | None, dict[str, Any]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, struct.error, KeyError) as exc:
        raise CorruptImageError(f"broken DICOM: {exc}") from exc
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows == 0 or cols == 0 or "PixelData" not in ds:
        raise CorruptImageError("broken DICOM: no pixel data (Rows/Columns/PixelData missing)")
    _check_pixels(cols, rows, limits)
    arr = _dicom_pixels(ds)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    colour = 0.0
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and not photometric.startswith("MONOCHROME"):
        colour = colourfulness(arr)
        arr = arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    elif arr.ndim == 3:  # multi-frame: the first frame
        arr = arr[0]
    arr = arr.astype(np.float32)
    if photometric == "MONOCHROME1":
        arr = float(arr.max()) + float(arr.min()) - arr
    meta = {"modality": str(ds.get("Modality", "")) or None, "photometric": photometric,
            "colourfulness": colour, **dicom_film_tags(ds)}
    return arr, dicom_spacing(ds), meta


def _dicom_pixels(ds: Any) -> np.ndarray:
    try:
        return np.asarray(ds.pixel_array)
    except (NotImplementedError, RuntimeError) as exc:
        raise UnsupportedMediaError(f"DICOM transfer syntax not supported: {exc}") from exc
    except (ValueError, EOFError, OSError, AttributeError, KeyError, struct.error) as exc:
        raise CorruptImageError(f"broken DICOM pixel data (truncated?): {exc}") from exc


def dicom_film_tags(ds: Any) -> dict[str, Any]:
    """What the file says about the film for the gate: body part, view, orientation, laterality.
    Upper-cased strings, None when absent or unreadable (never trusted for more than the gate)."""
    out: dict[str, Any] = {}
    for key, tag in (("body_part", "BodyPartExamined"), ("view_position", "ViewPosition"),
                     ("image_laterality", "ImageLaterality")):
        try:
            value = ds.get(tag)
            out[key] = str(value).strip().upper()[:64] or None if value is not None else None
        except Exception:  # noqa: BLE001 - a malformed optional tag is as good as an absent one
            out[key] = None
    try:
        value = ds.get("PatientOrientation")
        parts = list(value) if isinstance(value, list | tuple) or hasattr(value, "__iter__") and not isinstance(value, str) \
            else str(value or "").split("\\")
        out["patient_orientation"] = tuple(str(p).strip().upper()[:8] for p in parts[:2]) if len(parts) >= 2 else None
    except Exception:  # noqa: BLE001
        out["patient_orientation"] = None
    return out


def dicom_spacing(ds: Any) -> tuple[float, float, str] | None:
    """(row_mm, col_mm, note) in the original film's pixels, or None when absent or invalid."""
    for tag in ("ImagerPixelSpacing", "PixelSpacing"):
        value = ds.get(tag)
        if value is None:
            continue
        try:
            row_mm, col_mm = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if not (row_mm > 0 and col_mm > 0):
            continue
        note = f"DICOM {tag} {row_mm:g}/{col_mm:g} mm"
        emf = ds.get("EstimatedRadiographicMagnificationFactor")
        if tag == "ImagerPixelSpacing" and emf is not None:
            try:
                factor = float(emf)
            except (TypeError, ValueError):
                factor = 0.0
            if factor > 0:
                row_mm, col_mm = row_mm / factor, col_mm / factor
                note += f" / magnification {factor:g}"
        return row_mm, col_mm, note
    return None
