"""How many data elements a DICOM dataset holds, counted from its bytes before any parser sees them.

pydicom keeps a Python object per element (about 300 bytes each), so a 64 MB upload of millions of
empty private elements costs gigabytes to read while a real radiograph holds a few hundred to a few
thousand. :func:`count_elements` walks the encoded dataset without decoding a value and stops at
``cap`` + 1; the reader refuses a film past the cap before parsing it (``orchestrator.imaging``).

The walk reads the bytes as pydicom does, not as the file says it is encoded (a probe built files whose
declared encoding hid millions of elements from a walk that trusted it):

- an explicit-VR element whose VR is not two capital letters is read as implicit VR, element by element
  (pydicom's ``assume_implicit_vr_switch``); a file whose first element reads as the other encoding is read
  that way (:func:`max_count` walks every encoding a parser could settle on and keeps the largest count);
- sequences, and their items, are stepped into (nested elements count: pydicom reads an undefined-length
  sequence whole); so is an undefined-length UN (an implicit-VR sequence), and in implicit VR an
  undefined-length value whose tag the dictionary does not call something else;
- any other value of undefined length (encapsulated pixel data, an encapsulated document) ends where the
  sequence delimiter's bytes first appear, as pydicom finds it, and is stepped over whole.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from pydicom.datadict import dictionary_VR

MAX_DICOM_ELEMENTS = 50_000  # data elements in one film's dataset, nested ones included
# explicit VRs whose length field is 4 bytes, after 2 reserved ones (PS3.5 7.1.2)
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_UNDEFINED = 0xFFFFFFFF
_SEQUENCE_END = 0xE0DD


def count_elements(data: bytes, start: int, implicit_vr: bool, little_endian: bool, cap: int = MAX_DICOM_ELEMENTS) -> int:
    """Data elements in ``data[start:]`` (an encoded dataset) read with this encoding, at most ``cap`` + 1: the walk
    stops there. A truncated or malformed stream ends the count where it breaks (the parser reports it)."""
    order = "<" if little_endian else ">"
    tag_fmt, u16, u32 = struct.Struct(order + "HH"), struct.Struct(order + "H"), struct.Struct(order + "I")
    delimiter = struct.pack(order + "HHI", 0xFFFE, _SEQUENCE_END, 0)
    pos, end, count = start, len(data), 0
    while pos + 8 <= end and count <= cap:
        group, element = tag_fmt.unpack_from(data, pos)
        if group == 0xFFFE:  # item or delimiter: a 4-byte length, no VR; an item's dataset follows inline
            pos += 8
            continue
        count += 1
        vr = data[pos + 4 : pos + 6]
        if implicit_vr or not (b"AA" <= vr <= b"ZZ"):  # implicit VR, or an explicit element switched to it
            length = u32.unpack_from(data, pos + 4)[0]
            pos += 8
            if length == _UNDEFINED:
                pos = pos if _may_be_sequence(group, element) else _past(data, delimiter, pos)
            elif not _is_sequence(group, element):
                pos += length
            continue
        if vr in _LONG_VRS:
            if pos + 12 > end:
                break
            length = u32.unpack_from(data, pos + 8)[0]
            pos += 12
        else:
            length = u16.unpack_from(data, pos + 6)[0]
            pos += 8
        if vr == b"SQ" or (vr == b"UN" and length == _UNDEFINED):
            continue  # step into the sequence: its items follow
        pos = _past(data, delimiter, pos) if length == _UNDEFINED else pos + length
    return count


def max_count(data: bytes, start: int, syntax: str, cap: int = MAX_DICOM_ELEMENTS) -> int:
    """The most elements any encoding a parser could read ``data[start:]`` in finds: implicit and explicit VR (pydicom
    reads the first element as whichever it looks like, whatever the file says), and both byte orders where the file
    names no transfer syntax."""
    orders = (True, False) if not syntax else (syntax != "1.2.840.10008.1.2.2",)
    best = 0
    for little in orders:
        for implicit in (True, False):
            best = max(best, count_elements(data, start, implicit, little, cap))
            if best > cap:
                return best
    return best


def _past(data: bytes, delimiter: bytes, pos: int) -> int:
    """Past the first sequence delimiter from ``pos`` (the end of the data where there is none)."""
    found = data.find(delimiter, pos)
    return len(data) if found < 0 else found + len(delimiter)


@lru_cache(maxsize=4096)
def _is_sequence(group: int, element: int) -> bool:
    """Whether the DICOM dictionary calls this tag a sequence (implicit VR leaves it unsaid)."""
    try:
        return dictionary_VR((group << 16) | element) == "SQ"
    except KeyError:
        return False


@lru_cache(maxsize=4096)
def _may_be_sequence(group: int, element: int) -> bool:
    """An undefined-length implicit-VR value is read as a sequence unless the dictionary names it something else."""
    try:
        return dictionary_VR((group << 16) | element) in ("SQ", "UN")
    except KeyError:
        return True
