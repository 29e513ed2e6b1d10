"""How many data elements a DICOM dataset holds, counted from its bytes before any parser sees them.

pydicom keeps a Python object per element (about 300 bytes each), so a 64 MB upload of millions of
empty private elements costs gigabytes to read while a real radiograph holds a few hundred to a few
thousand. :func:`count_elements` walks the encoded dataset without decoding a value, stepping into
sequences and their items (nested elements count: pydicom reads an undefined-length sequence whole)
and over the fragments of encapsulated pixel data, and stops at ``cap`` + 1; the reader refuses a
film past the cap before parsing it (``orchestrator.imaging``).

Implicit VR names no VR: a value of undefined length is a sequence, and so is a defined-length value
whose tag the DICOM dictionary calls one (pydicom reads it as one when the engine asks for it); any
other value, a private one included, is stepped over whole, as pydicom leaves it raw.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from pydicom.datadict import dictionary_VR

MAX_DICOM_ELEMENTS = 50_000  # data elements in one film's dataset, nested ones included
# explicit VRs whose length field is 4 bytes, after 2 reserved ones (PS3.5 7.1.2)
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD


def count_elements(data: bytes, start: int, implicit_vr: bool, little_endian: bool, cap: int = MAX_DICOM_ELEMENTS) -> int:
    """Data elements in ``data[start:]`` (an encoded dataset), at most ``cap`` + 1: the walk stops
    there. A truncated or malformed stream ends the count where it breaks (the parser reports it)."""
    order = "<" if little_endian else ">"
    tag_fmt, u16, u32 = struct.Struct(order + "HH"), struct.Struct(order + "H"), struct.Struct(order + "I")
    pos, end, count = start, len(data), 0
    fragments = 0  # > 0: inside encapsulated pixel data, whose items are raw fragments
    while pos + 8 <= end and count <= cap:
        group, element = tag_fmt.unpack_from(data, pos)
        if group == 0xFFFE:  # item or delimiter: a 4-byte length, no VR
            length = u32.unpack_from(data, pos + 4)[0]
            pos += 8
            if element == _ITEM and fragments and length != _UNDEFINED:
                pos += length  # a pixel-data fragment: skip its bytes
            elif element == _SEQUENCE_END and fragments:
                fragments -= 1
            continue  # an item's dataset follows inline: its elements are counted as the walk meets them
        count += 1
        if implicit_vr:
            length = u32.unpack_from(data, pos + 4)[0]
            pos += 8
            if length != _UNDEFINED and not _is_sequence(group, element):
                pos += length
            continue  # a sequence: its items follow
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > end:
                break
            length = u32.unpack_from(data, pos + 8)[0]
            pos += 12
        else:
            length = u16.unpack_from(data, pos + 6)[0]
            pos += 8
        if vr == b"SQ":
            continue  # step into the sequence (defined length or not): its items follow
        if length == _UNDEFINED:
            fragments += 1  # encapsulated pixel data: fragments follow, up to a sequence delimiter
            continue
        pos += length
    return count


@lru_cache(maxsize=4096)
def _is_sequence(group: int, element: int) -> bool:
    """Whether the DICOM dictionary calls this tag a sequence (implicit VR leaves it unsaid)."""
    try:
        return dictionary_VR((group << 16) | element) == "SQ"
    except KeyError:
        return False
