"""Upload decoding: bytes (DICOM, PNG or JPEG) → the normalised working film and its spacing.

The format is sniffed from the bytes, never trusted from the filename: DICOM has ``DICM`` at
offset 128 (a ``.dcm`` name also allows a preamble-less dataset), PNG and JPEG by their
magic numbers. PNG and JPEG dimensions are read from the header (IHDR / SOFn) and checked
against ``settings.max_image_pixels`` before any pixel is decoded; DICOM's Rows × Columns
likewise. MONOCHROME1 films are inverted so that dense is bright; colour becomes grayscale.

Pixel spacing (DICOM only): ``ImagerPixelSpacing`` (detector plane) divided by
``EstimatedRadiographicMagnificationFactor`` when present; else ``PixelSpacing`` (already
in the patient plane by definition, so not corrected again). It is scaled to the working
image by the resampling factor. Values outside what a chest film can have (a detector pixel of
0.05-2 mm, a magnification of 1-2, a film of 8-60 cm) are not used: the spacing is left to the
findings layer's estimate, and ``info["spacing_rejected"]`` says why (a code of
``orchestrator.findings.spacing.REJECTIONS``).

Error messages are fixed wording: they never echo a value read from the file, its name, or an
exception's text (which may carry either); our own limits may be named.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from PIL import Image, ImageOps

from orchestrator.contracts.lesion_reader import Frame
from orchestrator.contracts.preprocess import Resampling, prepare_film
from orchestrator.dicom_elements import MAX_DICOM_ELEMENTS, max_count
from orchestrator.errors import CorruptImageError, ImageTooLargeError, InputError, UnsupportedMediaError
from orchestrator.facts import PixelSpacing
from orchestrator.film_box import film_box
from orchestrator.patient_age import patient_age_group

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from orchestrator.dialogue.session import DicomReference

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_MAGIC_OFFSET = 128
# JPEG start-of-frame markers (all SOFn except DHT C4, JPG C8, DAC CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

FilmFormat = Literal["dicom", "png", "jpeg"]
EXIF_ORIENTATION = 0x0112

# what a DICOM result needs to be filed beside its source (PS3.3 Patient, General Study modules):
# the only header attributes of an upload a session keeps (orchestrator/dicom_out)
SOURCE_HEADER_ATTRIBUTES: tuple[str, ...] = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "AccessionNumber", "ReferringPhysicianName", "StudyID",
)
UID_PATTERN = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+")


def valid_uid(value: object) -> bool:
    """A DICOM UID (PS3.5 9.1): dot-separated numbers without leading zeros, at most 64 characters.
    Checked here rather than by pydicom, whose warning would echo the value into the log."""
    return isinstance(value, str) and len(value) <= 64 and UID_PATTERN.fullmatch(value) is not None


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
    # a DICOM upload's identifiers and the header attributes its DICOM results need (PHI: kept in
    # the session store only; never in ``info``, a log line or a repr)
    dicom_reference: DicomReference | None = field(default=None, repr=False)
    # the decoded pixels before they were shrunk to the working size: the lesion reader's crops are
    # cut from them on the first turn; never stored with the session
    original: np.ndarray | None = field(default=None, repr=False)
    original_mm_per_px: tuple[float, float] | None = None  # the file's spacing (DICOM), None without

    @property
    def upload_bytes(self) -> int:
        """The decoded upload's size as a float32 film (what its decoding held at least)."""
        h, w = self.resampling.upload_size or self.resampling.original_size
        return 4 * int(h) * int(w)

    @property
    def frame(self) -> Frame:
        """How the working image was made from the original (the session's ``frame``)."""
        return Frame.from_resampling(self.resampling, int(self.image.shape[0]))


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


def decoded_bytes(data: bytes, filename: str | None = None) -> int:
    """What decoding an upload costs at least, as its header declares it: a raster's pixels as the float32 film it
    becomes (a 280 KB PNG can declare 36 million pixels); a DICOM's own bytes (its Rows and Columns need a parse,
    so the decoded film's size is known after it: ``DecodedFilm.upload_bytes``). 0 for what is not a film."""
    try:
        fmt = sniff_format(data, filename)
        if fmt == "dicom":
            return len(data)
        width, height = png_size(data) if fmt == "png" else jpeg_size(data)
    except InputError:
        return 0
    return 4 * width * height


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


# A progressive JPEG is coded in scans, each a pass over the whole image: libjpeg's own progression uses 6 (grey) to 10
# (colour), optimisers a few more. Every scan costs a pass, even one of a few bytes, so a small file repeating a cheap
# scan thousands of times costs minutes of CPU (a 1.8 MB upload: 51 s). More scans than this is refused before decoding.
MAX_JPEG_SCANS = 64


def check_jpeg_scans(stream: bytes, what: str = "JPEG") -> None:
    """Refuse a JPEG (or JPEG-LS) codestream of more than ``MAX_JPEG_SCANS`` scans. Counting start-of-scan markers in
    the bytes is exact: inside entropy-coded data a 0xFF byte is always followed by a stuffed 0x00 (JPEG) or a byte
    under 0x80 (JPEG-LS), so 0xFF 0xDA occurs only as a marker."""
    if stream.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise CorruptImageError(f"broken {what}: more than {MAX_JPEG_SCANS} scans")


MAX_ASPECT = 4  # a film's longer side over its shorter one (a chest film: ~1.2)
PADDED_PIXELS_FACTOR = 2  # the working film pads to a square: side^2 at most this x the pixel limit


def _check_pixels(width: int, height: int, limits: UploadLimits) -> None:
    """Before any pixel is decoded: the pixel limit, and the square the film is padded to for
    the working image (a 16 x 2,000,000 strip is under the pixel limit, its square is not)."""
    if width * height > limits.max_image_pixels:
        raise ImageTooLargeError(f"the image is over the limit of {limits.max_image_pixels} pixels")
    side = max(width, height)
    if side * side > PADDED_PIXELS_FACTOR * limits.max_image_pixels:
        raise ImageTooLargeError(f"the image's longer side is over the limit of "
                                 f"{math.isqrt(PADDED_PIXELS_FACTOR * limits.max_image_pixels)} pixels")
    if side > MAX_ASPECT * min(width, height):
        raise CorruptImageError(f"the image is not shaped like a film (one side over {MAX_ASPECT} times the other)")


def decode_upload(data: bytes, filename: str | None, settings: UploadLimits, keep_original: bool = False) -> DecodedFilm:
    """Decode, validate and normalise one upload. Raises the InputError subclasses. ``keep_original``:
    keep the decoded pixels on the result (the lesion reader cuts its crops from them); off, they are
    freed as soon as the working image is made (a 6000² film holds 144 MB)."""
    if len(data) > settings.max_upload_bytes:
        raise ImageTooLargeError(f"the upload is over the limit of {settings.max_upload_bytes} bytes")
    fmt = sniff_format(data, filename)
    reference = None
    if fmt == "dicom":
        pixels, spacing_raw, meta, reference = _read_dicom(data, settings)
    else:
        width, height = png_size(data) if fmt == "png" else jpeg_size(data)
        _check_pixels(width, height, settings)
        if fmt == "jpeg":
            check_jpeg_scans(data)
        pixels, colour, orientation = _read_raster(data, fmt)
        spacing_raw, meta = None, {"colourfulness": colour}
        if orientation != 1:
            meta["exif_orientation"] = orientation
    if pixels.ndim != 2 or min(pixels.shape) < 16:
        raise CorruptImageError("the image is not a usable 2D film (it needs at least 16 pixels each way)")
    upload = pixels
    try:
        # a uniform surround (letterbox, a masked shutter, a viewer's screen) is cut off first, so the film is read
        # at the scale the encoder knows; where it started in the upload goes with the resampling
        box = film_box(pixels)
        if box is not None:
            pixels = pixels[box[1]:box[3], box[0]:box[2]]
        image, resampling = prepare_film(pixels)
    except MemoryError as exc:
        raise ImageTooLargeError("the image is too large to process") from exc
    if box is not None:
        resampling = replace(resampling, crop_x=box[0], crop_y=box[1], upload_size=(int(upload.shape[0]), int(upload.shape[1])))
    spacing = None
    if spacing_raw is not None and spacing_raw.rejected is None:
        row_mm, col_mm = spacing_raw.row_mm * resampling.scale, spacing_raw.col_mm * resampling.scale
        if math.isfinite(row_mm) and math.isfinite(col_mm) and row_mm > 0 and col_mm > 0:
            spacing = PixelSpacing(row_mm, col_mm, "dicom",
                                   f"{spacing_raw.note}; x{resampling.scale:.3f} to the working image")
    return DecodedFilm(
        image=image,
        resampling=resampling,
        spacing=spacing,
        format=fmt,
        modality=meta.get("modality"),
        photometric=meta.get("photometric"),
        display_png=display_png(image),
        info={"original_size": list(upload.shape), **({"film_box": list(box)} if box is not None else {}), **meta},
        dicom_reference=reference,
        original=upload if keep_original else None,  # the upload's pixels: the session's frame is taken against them
        original_mm_per_px=(spacing.row_mm / resampling.scale, spacing.col_mm / resampling.scale) if spacing else None,
    )


def display_png(image: np.ndarray) -> bytes:
    """The film as the page shows it under the overlays: 8-bit PNG at the fastest zlib level with
    run-length matching (it is made on every first turn; on a 512² film against Pillow's level 1:
    ~15% faster and ~20% smaller; Pillow's default level is ~6x slower)."""
    import cv2

    ok, buf = cv2.imencode(".png", np.clip(np.round(image * 255), 0, 255).astype(np.uint8),
                           [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE])
    if not ok:  # pragma: no cover - an 8-bit 2-D array always encodes
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


# --- PNG / JPEG -------------------------------------------------------------------------------


def _read_raster(data: bytes, fmt: FilmFormat) -> tuple[np.ndarray, float, int]:
    """Grayscale pixels, turned as the file's EXIF orientation says (``exif_orientation``), the image's
    colourfulness (``colourfulness``) before conversion, and that orientation."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                orientation = exif_orientation(im)
                if orientation != 1:  # turned as every viewer shows it (Pillow's own transforms, in place)
                    ImageOps.exif_transpose(im, in_place=True)
                return _grayscale(im), _raster_colourfulness(im), orientation
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise ImageTooLargeError(f"the {fmt.upper()} is too large to decode") from exc
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file makes Pillow raise is the file's fault
        raise CorruptImageError(f"broken {fmt.upper()}: the image data could not be decoded") from exc


def exif_orientation(im: Image.Image) -> int:
    """The EXIF Orientation tag (1-8; 1 when absent or out of range). A phone or a scanner app stores a
    film's pixels as the sensor read them and says in this tag how to turn them for display; every viewer,
    browsers included, shows the film turned, so the pixels as stored may lie on their side. Without turning them, a
    film photographed upright is read as turned by 90 degrees and refused with a reason the user cannot act on."""
    try:
        value = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block leaves the pixels as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def colourfulness(rgb: np.ndarray) -> float:
    """Mean chroma of an RGB image in [0, 1]: 0 for gray (a radiograph), ~0.1+ for a colour photo.
    The mean absolute difference of the channels from their mean, on a 256-wide scale."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[-1] < 3:
        return 0.0
    step = max(1, int(np.ceil(max(arr.shape[:2]) / 256)))  # a subsample is plenty for a mean
    # subsampled before it is made float: the whole film in float32 was 432 MB at the pixel limit, per upload
    small = arr[::step, ::step, :3].astype(np.float32)
    scale = 65535.0 if small.max() > 255 else 255.0
    return float(np.abs(small - small.mean(axis=-1, keepdims=True)).mean() / scale)


def _raster_colourfulness(im: Image.Image) -> float:
    if im.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        # a subsample, as colourfulness takes one: the whole film in RGB was 108 MB at the pixel limit, per upload
        step = max(1, int(np.ceil(max(im.size) / 256)))
        small = im.resize((max(1, im.size[0] // step), max(1, im.size[1] // step)), Image.Resampling.NEAREST)
        return colourfulness(np.asarray(small.convert("RGB")))
    return 0.0


def _grayscale(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
        return np.asarray(im).astype(np.float32)
    if im.mode in ("LA", "La"):
        return np.asarray(im.getchannel(0)).astype(np.float32)
    return np.asarray(im.convert("RGB").convert("L")).astype(np.float32)


# --- DICOM ------------------------------------------------------------------------------------
#
# Transfer syntaxes read (pydicom's pixel decoders; the compressed ones through pylibjpeg and its
# plugins, JPEG-LS also through pyjpegls): implicit and explicit VR little endian, explicit VR
# big endian, deflated explicit VR little endian, RLE lossless, JPEG baseline (8-bit), extended
# (12-bit), lossless (process 14 and SV1), JPEG-LS lossless and near-lossless, JPEG 2000
# lossless and lossy (and HTJ2K). Anything else is 415; data that cannot be decoded is 422.

DEFLATED_TS = "1.2.840.10008.1.2.1.99"
INFLATE_HEADROOM = 1 << 20  # bytes of non-pixel elements allowed beside 16-bit pixels
JPEG_LS_SOF = 0xF7  # SOF55
J2K_SOC_SIZ = b"\xff\x4f\xff\x51"  # a JPEG 2000 codestream's first two markers


def _read_dicom(data: bytes, limits: UploadLimits
                ) -> tuple[np.ndarray, DicomSpacing | None, dict[str, Any], DicomReference | None]:
    ds = _parse_dicom(data, limits)
    try:
        pixels, spacing, meta = _dicom_film(ds, limits)
        return pixels, spacing, meta, dicom_reference(ds, pixels.shape)
    except InputError:
        raise
    except (MemoryError, OverflowError) as exc:
        raise ImageTooLargeError("DICOM too large to read") from exc
    except Exception as exc:  # noqa: BLE001 - pydicom reads elements lazily: a malformed one raises on use
        raise CorruptImageError("broken DICOM: an element could not be read") from exc


def _dicom_int(ds: Any, keyword: str, default: int = 0) -> int:
    """One unsigned integer element (Rows, Columns, ...): a malformed value (wrong length,
    several values, not a number) is a broken file, never a crash."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return default
        if isinstance(value, list | tuple) or (hasattr(value, "__iter__") and not isinstance(value, str | bytes)):
            raise CorruptImageError(f"broken DICOM: {keyword} must have one value")
        number = int(value)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CorruptImageError(f"broken DICOM: {keyword} is not a valid number") from exc
    if not 0 <= number <= 0xFFFFFFFF:
        raise CorruptImageError(f"broken DICOM: {keyword} is out of range")
    return number


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in float32, a channel at a time (the whole film as float32 RGB was 432 MB at the pixel limit)."""
    grey = rgb[..., 0].astype(np.float32)
    grey *= np.float32(0.299)
    grey += np.float32(0.587) * rgb[..., 1]
    grey += np.float32(0.114) * rgb[..., 2]
    return grey


def _dicom_film(ds: Any, limits: UploadLimits) -> tuple[np.ndarray, DicomSpacing | None, dict[str, Any]]:
    rows, cols = _dicom_int(ds, "Rows"), _dicom_int(ds, "Columns")
    if rows == 0 or cols == 0 or "PixelData" not in ds:
        raise CorruptImageError("broken DICOM: no pixel data (Rows/Columns/PixelData missing)")
    _check_pixels(cols, rows, limits)
    _check_frame_layout(ds, rows, cols, limits)
    arr = _dicom_pixels(ds, limits)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    colour = 0.0
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and not photometric.startswith("MONOCHROME"):
        colour = colourfulness(arr)
        arr = _luma(arr)
    elif arr.ndim == 3:  # multi-frame: the first frame
        arr = arr[0]
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():  # float pixel data: NaN/inf would poison the film
        raise CorruptImageError("broken DICOM: the pixel values are not finite numbers")
    arr = arr.astype(np.float32)
    if photometric == "MONOCHROME1":
        arr = float(arr.max()) + float(arr.min()) - arr
    spacing = dicom_spacing(ds, rows, cols)
    meta = {"modality": str(ds.get("Modality", "") or "")[:16] or None, "photometric": photometric,
            "colourfulness": colour, "transfer_syntax": str(_transfer_syntax(ds)), **dicom_film_tags(ds)}
    if spacing is not None and spacing.rejected is not None:
        meta["spacing_rejected"] = spacing.rejected
    frames = _dicom_int(ds, "NumberOfFrames", 1)
    if frames > 1:  # only the first is read (``_check_frame_layout``): the answers say so
        meta["frames"] = frames
    return arr, spacing, meta


def _check_frame_layout(ds: Any, rows: int, cols: int, limits: UploadLimits) -> None:
    """What one decoded frame will cost, before decoding: samples per pixel 1 or 3, at most 32
    bits allocated, and the frame's bytes within what a 16-bit film at the pixel limit takes
    (colour 8-bit films fit). Only the first frame is ever decoded, whatever NumberOfFrames says."""
    samples = _dicom_int(ds, "SamplesPerPixel", 1)
    bits = _dicom_int(ds, "BitsAllocated", 16)
    if samples not in (1, 3):
        raise CorruptImageError("broken DICOM: SamplesPerPixel must be 1 or 3")
    if bits not in (1, 8, 16, 32):
        raise UnsupportedMediaError("this DICOM's BitsAllocated is not supported (1, 8, 16 or 32)")
    frame_bytes = rows * cols * samples * max(1, bits // 8)
    if frame_bytes > 4 * limits.max_image_pixels:
        raise ImageTooLargeError(f"the image is over the limit of {limits.max_image_pixels} pixels "
                                 "(counting its samples and bytes per pixel)")
    _dicom_int(ds, "NumberOfFrames", 1)  # a malformed count is a broken file


def read_dicom_dataset(data: bytes, limits: UploadLimits) -> Any:
    """A Part 10 object's dataset, read within the upload limits (the DICOM node's first look at
    a received object, before the engine decodes it): over ``max_upload_bytes`` or inflating past
    the limit is ImageTooLargeError, a broken object CorruptImageError; pixel data not decoded."""
    if len(data) > limits.max_upload_bytes:
        raise ImageTooLargeError(f"the object is larger than {limits.max_upload_bytes} bytes")
    return _parse_dicom(data, limits)


def _parse_dicom(data: bytes, limits: UploadLimits) -> Any:
    """The dataset, pixel data not decoded. A deflated dataset is inflated here, never by
    pydicom (which inflates the whole stream at once): at most ``_inflate_limit`` bytes."""
    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_dataset, read_preamble

    try:
        fp = io.BytesIO(data)
        preamble = read_preamble(fp, True)
        file_meta = _read_file_meta_info(fp)  # pydicom's own meta reader (pydicom<4 is pinned)
        syntax = str(file_meta.get("TransferSyntaxUID", ""))
        if syntax != DEFLATED_TS:
            _check_element_count(data, fp.tell(), syntax)
            return pydicom.dcmread(io.BytesIO(data), force=True)
        body = _inflate(data[fp.tell():], _inflate_limit(limits))
        _check_element_count(body, 0, syntax)
        dataset = read_dataset(DicomBytesIO(body), is_implicit_VR=False, is_little_endian=True)
        return pydicom.dataset.FileDataset(DicomBytesIO(body), dataset, preamble, file_meta,
                                           is_implicit_VR=False, is_little_endian=True)
    except InputError:
        raise
    except (MemoryError, OverflowError) as exc:
        raise ImageTooLargeError("DICOM too large to read") from exc
    except RecursionError as exc:
        raise CorruptImageError("broken DICOM: sequences nested too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file makes the parser raise is the file's fault
        raise CorruptImageError("broken DICOM: the dataset could not be read") from exc


def _check_element_count(data: bytes, start: int, syntax: str) -> None:
    """Refuse a dataset of more than ``MAX_DICOM_ELEMENTS`` data elements before pydicom builds an object for each,
    counted in every encoding pydicom could read it in (``orchestrator.dicom_elements.max_count``)."""
    if max_count(data, start, syntax) > MAX_DICOM_ELEMENTS:
        raise ImageTooLargeError(f"this DICOM holds more than {MAX_DICOM_ELEMENTS} data elements")


def _inflate_limit(limits: UploadLimits) -> int:
    """The most a deflated dataset may inflate to: what an uncompressed upload may be, or a
    16-bit film at the pixel limit plus its header, whichever is more."""
    return max(limits.max_upload_bytes, 2 * limits.max_image_pixels + INFLATE_HEADROOM)


def _inflate(deflated: bytes, limit: int) -> bytes:
    """Raw deflate (PS3.5 A.5), stopping at ``limit`` + 1 bytes of output: a bomb is 413, not RAM."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(deflated, limit + 1)
    except zlib.error as exc:
        raise CorruptImageError("broken DICOM: bad deflate stream") from exc
    if len(out) > limit:
        raise ImageTooLargeError(f"deflated DICOM inflates to more than {limit} bytes")
    if not inflater.eof:
        raise CorruptImageError("broken DICOM: deflate stream truncated")
    return out


def _transfer_syntax(ds: Any) -> Any:
    """The dataset's transfer syntax UID; a file without meta information by how it was read."""
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(str(uid))
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        return ExplicitVRLittleEndian
    return ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _dicom_pixels(ds: Any, limits: UploadLimits) -> np.ndarray:
    """The first frame's pixels. 415 when no installed decoder reads the transfer syntax;
    413 when a compressed frame's own header is over the pixel limit; 422 otherwise."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.pixels import get_decoder

    ts = _transfer_syntax(ds)
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as exc:
        raise UnsupportedMediaError("this DICOM transfer syntax is not supported") from exc
    if not decoder.is_available:
        raise UnsupportedMediaError("this DICOM transfer syntax needs a decoder that is not installed")
    if ts.is_encapsulated:
        _check_frame_header(ds, limits)
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:  # a file without meta: as it was read
        ds.file_meta.TransferSyntaxUID = ts
    try:
        arr = _decode_first_frame(decoder, ds)
    except InputError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError("DICOM pixel data too large to decode") from exc
    except Exception as exc:  # noqa: BLE001 - a decoder failing on this file: the file is broken
        raise CorruptImageError("broken DICOM pixel data: the frame could not be decoded") from exc
    except BaseException as exc:  # a Rust decoder's panic (pyo3 PanicException) is a BaseException
        if not _is_panic(exc):
            raise
        raise CorruptImageError("broken DICOM pixel data: the frame could not be decoded") from exc
    return np.asarray(arr)


# Plugins to try first where installed: pydicom otherwise takes pylibjpeg for JPEG-LS, and CharLS
# (pyjpegls) decodes the same frame 3-4x faster (512² 12-bit JPEG-LS lossless: ~10 against ~37 ms).
_PREFERRED_PLUGINS: tuple[str, ...] = ("pyjpegls",)


def _decode_first_frame(decoder: Any, ds: Any) -> np.ndarray:
    """The first frame by the preferred plugin where it serves this transfer syntax; should it
    fail on this file, by pydicom's own order of every installed plugin."""
    for plugin in _PREFERRED_PLUGINS:
        if plugin in decoder.available_plugins:
            try:
                return decoder.as_array(ds, index=0, decoding_plugin=plugin)[0]
            except Exception:  # noqa: BLE001 - the other plugins may still read it
                log.debug("DICOM decoder plugin %s failed; trying the others", plugin)
    return decoder.as_array(ds, index=0)[0]


def _is_panic(exc: BaseException) -> bool:
    """A Rust extension's panic (pyo3's PanicException derives from BaseException, so that
    ``except Exception`` misses it): the decoder gave up on this file's bytes."""
    return type(exc).__name__ == "PanicException"


def _check_frame_header(ds: Any, limits: UploadLimits) -> None:
    """Read the first compressed frame's own size before decoding: a codestream may claim far
    more pixels than Rows x Columns, and the decoder would allocate what it claims. A JPEG,
    JPEG-LS or JPEG 2000 codestream must also end with its end marker: libjpeg decodes a
    truncated stream without complaint, leaving the missing rows blank."""
    from pydicom.encaps import generate_frames

    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        frame = next(generate_frames(bytes(ds.PixelData), number_of_frames=frames))
    except Exception as exc:  # noqa: BLE001
        raise CorruptImageError("broken DICOM: encapsulated pixel data unreadable") from exc
    size = _codestream_size(frame)
    if size is None:  # RLE (sized by Rows x Columns) or an unrecognised stream: the decoder judges
        return
    width, height = size
    _check_pixels(width, height, limits)
    if (width, height) != (int(ds.Columns), int(ds.Rows)):
        raise CorruptImageError("broken DICOM: the compressed frame's size disagrees with Rows and Columns")
    if frame[:2] == b"\xff\xd8":
        check_jpeg_scans(frame, "JPEG frame")
    is_codestream = frame[:2] == b"\xff\xd8" or frame[:4] == J2K_SOC_SIZ  # (a JP2 file may end in other boxes)
    if is_codestream and not frame.rstrip(b"\0").endswith(b"\xff\xd9"):  # EOI / EOC, then even-length padding
        raise CorruptImageError("broken DICOM: the compressed frame has no end marker (truncated?)")


def _codestream_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG / JPEG-LS SOF, a JPEG 2000 SIZ or a JP2 ihdr box; None otherwise."""
    if frame[:4] == J2K_SOC_SIZ:  # J2K: SOC, SIZ (Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz)
        if len(frame) < 24:
            raise CorruptImageError("broken JPEG 2000 frame: truncated SIZ")
        xsiz, ysiz, xo, yo = struct.unpack(">IIII", frame[8:24])
        return max(0, xsiz - xo), max(0, ysiz - yo)
    if frame[4:8] == b"jP  ":  # JP2 file format: the image header box
        i = frame.find(b"ihdr", 0, 1 << 16)
        if i < 0 or len(frame) < i + 12:
            raise CorruptImageError("broken JPEG 2000 frame: no image header")
        height, width = struct.unpack(">II", frame[i + 4 : i + 12])
        return int(width), int(height)
    if frame[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(frame)
    while i + 4 <= n:
        if frame[i] != 0xFF:
            raise CorruptImageError("broken JPEG frame: bad marker")
        marker = frame[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", frame[i + 2 : i + 4])
        if marker in SOF_MARKERS or marker == JPEG_LS_SOF:
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", frame[i + 5 : i + 9])
            return (int(width), int(height)) if height else None  # height 0: set later by DNL
        i += 2 + length
    raise CorruptImageError("broken JPEG frame: no frame header (truncated?)")


def _header_text(ds: Any, keyword: str) -> str:
    try:
        value = ds.get(keyword)
        return "" if value is None else str(value)[:64]
    except Exception:  # noqa: BLE001 - a malformed optional attribute is left out
        return ""


def _raw_uid(ds: Any, keyword: str) -> str:
    """A UID as the file stores it, read without pydicom's value validation (whose warning would
    echo a malformed value into the log); ``valid_uid`` checks it."""
    from pydicom.datadict import tag_for_keyword

    try:
        elem = ds.get_item(tag_for_keyword(keyword))
        value = None if elem is None else elem.value
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        return "" if value is None else str(value).strip("\0 ")[:65]
    except Exception:  # noqa: BLE001 - a malformed UID is as good as an absent one
        return ""


def dicom_reference(ds: Any, shape: tuple[int, ...]) -> DicomReference | None:
    """The reference a DICOM upload's results carry (UIDs, size, Modality, Patient Orientation and
    ``SOURCE_HEADER_ATTRIBUTES``); None when a UID is missing or malformed (the results then
    reference a Secondary Capture of the film). ``shape`` is the decoded film's (rows, cols)."""
    from orchestrator.dialogue.session import DicomReference

    uids = [_raw_uid(ds, k) for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")]
    if not all(valid_uid(u) for u in uids):
        return None
    orientation = dicom_film_tags(ds).get("patient_orientation") or ()
    if len(orientation) != 2 or not all(o and set(o) <= set("APRLHF") for o in orientation):
        orientation = ()
    header = tuple((k, _header_text(ds, k)) for k in SOURCE_HEADER_ATTRIBUTES if k in ds)
    return DicomReference(*uids, rows=int(shape[0]), cols=int(shape[1]),
                          modality=_header_text(ds, "Modality")[:16] or "OT",
                          patient_orientation=tuple(orientation), header=header)


def dicom_film_tags(ds: Any) -> dict[str, Any]:
    """What the file says about the film for the gate: body part, view (View Position and the View Code Sequence's
    first code), orientation, laterality, and the patient's age group (``orchestrator.patient_age``).
    Upper-cased strings, None when absent or unreadable (never trusted for more than the gate)."""
    out: dict[str, Any] = {}
    for key, tag in (("body_part", "BodyPartExamined"), ("view_position", "ViewPosition"),
                     ("image_laterality", "ImageLaterality")):
        try:
            value = ds.get(tag)
            out[key] = str(value).strip().upper()[:64] or None if value is not None else None
        except Exception:  # noqa: BLE001 - a malformed optional tag is as good as an absent one
            out[key] = None
    out["view_code"] = _view_code(ds)
    out["age_group"] = patient_age_group(ds)
    try:
        value = ds.get("PatientOrientation")
        parts = list(value) if isinstance(value, list | tuple) or hasattr(value, "__iter__") and not isinstance(value, str) \
            else str(value or "").split("\\")
        out["patient_orientation"] = tuple(str(p).strip().upper()[:8] for p in parts[:2]) if len(parts) >= 2 else None
    except Exception:  # noqa: BLE001
        out["patient_orientation"] = None
    return out


def _view_code(ds: Any) -> str | None:
    """The first View Code Sequence item as ``"VALUE|MEANING"`` (upper-cased, each at most 64 characters), or None."""
    try:
        seq = ds.get("ViewCodeSequence")
        item = seq[0] if seq else None
        if item is None:
            return None
        value, meaning = (str(item.get(k) or "").strip().upper()[:64] for k in ("CodeValue", "CodeMeaning"))
        return f"{value}|{meaning}" if value or meaning else None
    except Exception:  # noqa: BLE001 - a malformed optional sequence is as good as an absent one
        return None


# Plausible values for a chest film (outside them the file's spacing is not used; the findings
# layer estimates one and the turn says why).
# up to 2 mm: a film exported downsampled (a 256-pixel secondary capture of a 32 cm field is 1.25 mm)
DETECTOR_PIXEL_MM = (0.05, 2.0)  # ImagerPixelSpacing: a detector's (or a digitiser's) pixel
PATIENT_PIXEL_MM = (0.025, 2.0)  # PixelSpacing, or ImagerPixelSpacing / magnification
MAGNIFICATION = (0.999, 2.0)  # EstimatedRadiographicMagnificationFactor (>= 1 by geometry)
PIXEL_ASPECT = (0.5, 2.0)  # row / column spacing
FILM_MM = (80.0, 600.0)  # the film's longer side, in the patient plane (a 43 cm detector: 430)


@dataclass(frozen=True)
class DicomSpacing:
    """mm per pixel of the original film (patient plane), or why the file's values are not used."""

    row_mm: float = 0.0
    col_mm: float = 0.0
    note: str = ""
    rejected: str | None = None  # "spacing" | "magnification" | "film_size" (findings.spacing.REJECTIONS)


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return math.isfinite(value) and bounds[0] <= value <= bounds[1]


def _two_numbers(value: Any) -> tuple[float, float]:
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError("two values expected")
    return float(value[0]), float(value[1])


def dicom_spacing(ds: Any, rows: int = 0, cols: int = 0) -> DicomSpacing | None:
    """The film's pixel spacing from ``ImagerPixelSpacing`` (/ magnification) or ``PixelSpacing``;
    None when neither is present; ``rejected`` set when the values are not plausible for a chest
    film of ``rows`` x ``cols`` pixels. Never raises: a malformed tag is an implausible one."""
    for tag in ("ImagerPixelSpacing", "PixelSpacing"):
        try:
            value = ds.get(tag)
            if value is None or value == "":
                continue
            row_mm, col_mm = _two_numbers(value)
        except Exception:  # noqa: BLE001 - malformed: present but unusable
            return DicomSpacing(rejected="spacing")
        bounds = DETECTOR_PIXEL_MM if tag == "ImagerPixelSpacing" else PATIENT_PIXEL_MM
        if not (_within(row_mm, bounds) and _within(col_mm, bounds)):
            return DicomSpacing(rejected="spacing")
        note = f"DICOM {tag} {row_mm:g}/{col_mm:g} mm"
        if tag == "ImagerPixelSpacing":
            try:
                emf = ds.get("EstimatedRadiographicMagnificationFactor")
                factor = None if emf is None or emf == "" else float(emf)
            except Exception:  # noqa: BLE001
                return DicomSpacing(rejected="magnification")
            if factor is not None:
                if not _within(factor, MAGNIFICATION):
                    return DicomSpacing(rejected="magnification")
                row_mm, col_mm = row_mm / factor, col_mm / factor
                note += f" / magnification {factor:g}"
            if not (_within(row_mm, PATIENT_PIXEL_MM) and _within(col_mm, PATIENT_PIXEL_MM)):
                return DicomSpacing(rejected="spacing")
        if not _within(row_mm / col_mm, PIXEL_ASPECT):
            return DicomSpacing(rejected="spacing")
        if rows and cols and not _within(max(rows * row_mm, cols * col_mm), FILM_MM):
            return DicomSpacing(rejected="film_size")
        return DicomSpacing(row_mm, col_mm, note)
    return None
