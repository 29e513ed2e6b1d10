"""The units a question asks in, and a size range it checks, read apart from the rest of the parse
(``parser.parse_uncached``), and the measurements of an answer said again in the unit asked.

"How big is it in inches?" / "结节多少英寸" / "in pixels?" / "how far is it from the chest wall in cm?": the parser reads the
question with the unit's words said in millimetres ("how big is it in mm?"), and the ``Query`` keeps the unit asked
(``Query.unit``: cm | inch | px | mm); the answer leads with its measurements in that unit, then gives them in mm as
always (``unit_line``). Inches are exact (25.4 mm to the inch); pixels are the uploaded film's where the session knows
how its working image was made from it (``Frame``), else the working image's, and the answer says which.

"Is it bigger than 20 px?" / "超过20像素吗": a threshold (or a range) in pixels keeps its number in the millimetres'
place for the parser, and ``Query.threshold_px`` says it is pixels: the composer converts it with the film's spacing
and says so (``px_in_mm``). A threshold in inches is converted here ("bigger than half an inch": 12.7 mm).

"Is the nodule between 8 and 15 mm?" / "is it 1-2 cm?" / "是不是在8到15毫米之间": ``size_range`` reads the two bounds
(in mm; in pixels where the range is given in pixels), which the size answer checks against both (``Query.size_op``
"between", ``size_mm`` the lower bound and ``size_to_mm`` the upper).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

INCH_MM = 25.4
UNITS = ("cm", "mm", "inch", "px")

_NUM = r"\d+(?:\.\d+)?"
# a number of pixels or of inches, said as a threshold or a range ("20 px", "20 pixels", "20像素", "1 inch", "半英寸")
_PX_VALUE = re.compile(rf"({_NUM})\s*(?:px|pixels?|个?像素)(?![a-z])", re.I)
_INCH_VALUE = re.compile(rf"(?<![a-z])({_NUM}|half an?|an?|one|two|three)\s*(?:inch(?:es)?|in\.|英寸|吋)(?![a-z])"
                         r"|([一两二三半])\s*(?:个)?\s*(?:英寸|吋)", re.I)
_THRESHOLD_CUE = re.compile(r"(?<![a-z])(?:than|exceed\w*|over|under|above|below|within|at (?:least|most))(?![a-z])|"
                            r"超过|大于|小于|不到|少于|多于|以上|以下|以内|之内", re.I)
_INCH_WORDS = {"half a": 0.5, "half an": 0.5, "a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0,
               "一": 1.0, "两": 2.0, "二": 2.0, "三": 3.0, "半": 0.5}
# the unit an answer is asked in: "in inches", "into cm", "as pixels", "how many pixels", "多少英寸", "用像素表示"
_UNIT_WORD = r"(inch(?:es)?|pixels?|px|cm|centimet(?:er|re)s?|mm|millimet(?:er|re)s?)"
_IN_UNIT_EN = re.compile(rf"(?<![a-z])(?:in|into|as|to|using)\s+(?:the\s+)?{_UNIT_WORD}(?![a-z])", re.I)
_HOW_MANY_EN = re.compile(rf"(?<![a-z])how many\s+{_UNIT_WORD}(?![a-z])", re.I)
_UNIT_ZH = re.compile(r"(多少|几个?|换算成|换成|改成|改用|用|以)?\s*(英寸|吋|像素|厘米|公分|毫米)")
_ZH_UNITS = {"英寸": "inch", "吋": "inch", "像素": "px", "厘米": "cm", "公分": "cm", "毫米": "mm"}


def _unit_name(word: str) -> str:
    w = word.lower()
    return ("inch" if w.startswith("inch") else "px" if w.startswith(("pixel", "px")) else "cm" if w.startswith("c")
            else "mm")


@dataclass(frozen=True)
class UnitsAsked:
    text: str  # the question with the unit's words said in mm (what the parser reads)
    unit: str | None = None  # the unit the answer is asked in: cm | mm | inch | px
    threshold_px: bool = False  # a threshold or range in pixels: its numbers stand in the mm's place in ``text``


def read_units(question: str) -> UnitsAsked:
    """The question as the parser reads it, with the unit it asks in and whether its threshold is in pixels."""
    text, threshold_px = question, False
    if _PX_VALUE.search(text):  # (a number of pixels said as a threshold or a range: "is the film 512 pixels wide?" is not)
        said_mm = _PX_VALUE.sub(lambda m: f"{m.group(1)} mm", text)
        if _THRESHOLD_CUE.search(text) or size_range(said_mm) is not None:
            text, threshold_px = said_mm, True

    def inches(m: re.Match[str]) -> str:
        said = (m.group(1) or m.group(2) or "").lower()
        value = _INCH_WORDS.get(said) or float(said)
        return f"{value * INCH_MM:.1f} mm"

    text = _INCH_VALUE.sub(inches, text)
    unit: str | None = None
    m = _IN_UNIT_EN.search(text) or _HOW_MANY_EN.search(text)
    if m is not None:
        unit = _unit_name(m.group(1))
        if unit in ("inch", "px"):  # the parser knows mm: "how big is it in inches?" reads "how big is it in mm?"
            text = text[: m.start(1)] + "mm" + text[m.end(1):]
    else:
        # (a unit word alone asks in it only where it is inches: "像素间距" is the pixel spacing)
        z = next((z for z in _UNIT_ZH.finditer(text) if z.group(1) or z.group(2) in ("英寸", "吋")), None)
        if z is not None and not re.match(rf"{_NUM}\s*$", text[max(0, z.start() - 6): z.start(2)]):
            unit = _ZH_UNITS[z.group(2)]
            if unit in ("inch", "px"):
                text = text[: z.start(2)] + "毫米" + text[z.end(2):]
    return UnitsAsked(text, unit, threshold_px)


_RANGE_UNIT = r"(mm|millimet\w*|cm|centimet\w*|毫米|厘米|公分)"
_RANGES = (
    # "between 8 and 15 mm" / "between 0.8 cm and 1.5 cm"
    re.compile(rf"(?<![a-z])between\s+({_NUM})\s*{_RANGE_UNIT}?\s*(?:and|to|-|–)\s*({_NUM})\s*{_RANGE_UNIT}", re.I),
    # "1-2 cm" / "8 to 15 mm" / "from 8 mm to 15 mm" / "8到15毫米" / "1-2厘米" / "8至15毫米之间"
    re.compile(rf"(?<![a-z0-9.])({_NUM})\s*{_RANGE_UNIT}?\s*(?:-|–|—|~|～|to|到|至)\s*({_NUM})\s*{_RANGE_UNIT}", re.I),
    # "介于8和15毫米之间"
    re.compile(rf"({_NUM})\s*{_RANGE_UNIT}?\s*(?:和|与|跟)\s*({_NUM})\s*{_RANGE_UNIT}\s*之间", re.I),
)


def in_mm(value: float, unit: str) -> float:
    """A length said in cm or mm ("cm", "centimetres", "厘米", "公分"; anything else is mm) in mm: the one conversion the
    parser's thresholds and sizes named, a size the reader states (``pointing``) and a range's bounds use."""
    return value * 10.0 if unit.lower().startswith(("c", "厘", "公")) else value


def size_range(text: str) -> tuple[float, float] | None:
    """The two bounds of a range asked ("between 8 and 15 mm" -> (8.0, 15.0); "1-2 cm" -> (10.0, 20.0)), low first,
    in mm (a bound with no unit of its own takes the other's); None where the text holds none."""
    for pattern in _RANGES:
        m = pattern.search(text)
        if m is None:
            continue
        lo_v, lo_u, hi_v, hi_u = m.groups()
        lo, hi = in_mm(float(lo_v), lo_u or hi_u), in_mm(float(hi_v), hi_u)
        if 0 < lo < hi:
            return lo, hi
    return None


# --- the answer in the unit asked ---------------------------------------------------------------


@dataclass(frozen=True)
class PixelScale:
    """What a millimetre is in the pixels an answer counts: ``mm_per_px`` of those pixels, and which pixels they are."""

    mm_per_px: float
    original: bool  # the uploaded film's pixels (else the working image's)
    size: tuple[int, int]  # (H, W) of the image whose pixels these are
    estimated: bool  # the spacing is estimated, not the file's


def pixel_scale(spacing: Any, image_size: tuple[int, int], frame: Any | None) -> PixelScale:
    """The film's pixels: the uploaded film's where ``frame`` says how the working image was made from it (original =
    working × scale), else the working image's."""
    per_working = (float(spacing.row_mm) + float(spacing.col_mm)) / 2.0
    estimated = getattr(spacing, "source", "dicom") != "dicom"
    if frame is not None and float(frame.scale) > 0:
        return PixelScale(per_working / float(frame.scale), True, tuple(int(v) for v in frame.original_size), estimated)  # type: ignore[arg-type]
    return PixelScale(per_working, False, (int(image_size[0]), int(image_size[1])), estimated)


def px_in_mm(value_px: float, scale: PixelScale) -> float:
    return value_px * scale.mm_per_px


def in_unit(value_mm: float, unit: str, scale: PixelScale | None = None, lang: str = "en") -> str:
    """A length in the unit asked, with the unit's symbol, and in mm: "0.42 in (10.6 mm)", "0.8 cm (8.2 mm)", "17 px
    (10.6 mm)" ("0.42 in(10.6 mm)" in Chinese)."""
    if unit == "inch":
        said = f"{value_mm / INCH_MM:.2f} in"
    elif unit == "px" and scale is not None:
        said = f"{value_mm / scale.mm_per_px:.0f} px"
    elif unit == "cm":
        said = f"{value_mm / 10.0:.1f} cm"
    else:
        return f"{value_mm:.1f} mm"
    return f"{said}({value_mm:.1f} mm)" if lang == "zh" else f"{said} ({value_mm:.1f} mm)"


def pixels_said(scale: PixelScale, lang: str) -> tuple[str, str]:
    """Which pixels a count is in, (zh, en): the uploaded film's (its size and mm per pixel), else the working image's."""
    h, w = scale.size
    how_zh = "估计的" if scale.estimated else ""
    how_en = "an estimated " if scale.estimated else ""
    if scale.original:
        return (f"原片像素,原片{w}×{h}像素,按{how_zh}像素间距每像素约{scale.mm_per_px:.3f} mm",
                f"pixels of the uploaded film, {w} × {h}, at {how_en}{scale.mm_per_px:.3f} mm per pixel")
    return (f"Hilum工作图像的像素,{w}×{h},按{how_zh}像素间距每像素约{scale.mm_per_px:.3f} mm(原片尺寸此处未知)",
            f"pixels of Hilum's {w} × {h} working image, at {how_en}{scale.mm_per_px:.3f} mm per pixel (the uploaded "
            "film's own size is not known here)")


_UNIT_NAMES = {"inch": ("英寸", "inches"), "px": ("像素", "pixels"), "cm": ("厘米", "centimetres")}


def unit_line(measurements: tuple[dict[str, Any], ...], unit: str, lang: str, names: dict[str, tuple[str, str]],
              scale: PixelScale | None) -> str:
    """The answer's sizes and distances (its ``measurements``) in the unit asked, one clause each, each with its mm;
    "" where it has none, or mm is asked (the answers give mm). ``names``: what each measurement's ``to`` is called,
    (zh, en)."""
    if unit not in _UNIT_NAMES or (unit == "px" and scale is None):
        return ""
    zh = lang == "zh"
    parts: list[str] = []
    for m in measurements:
        if m.get("kind") == "diameter":
            if m.get("size_kind") == "axes" and len(m.get("size_mm") or ()) == 2:
                a, b = (in_unit(float(v), unit, scale, lang) for v in m["size_mm"])
                parts.append(f"{m['of']}约{a}×{b}" if zh else f"{m['of']} about {a} × {b}")
            else:
                d, lng = in_unit(float(m["mm"]), unit, scale, lang), in_unit(float(m["longest_mm"]), unit, scale, lang)
                parts.append(f"{m['of']}等效直径约{d},最长径{lng}" if zh else f"{m['of']} about {d} across, longest {lng}")
        elif m.get("kind") in ("distance", "gap") and m.get("mm") is not None:
            to_zh, to_en = names.get(str(m.get("to")), (str(m.get("to")), str(m.get("to"))))
            v = in_unit(float(m["mm"]), unit, scale, lang)
            gap = m.get("kind") == "gap"
            parts.append(f"{m['from']}{'边缘' if gap else ''}至{to_zh}约{v}" if zh
                         else f"{m['from']}{chr(39) + 's edge' if gap else ''} to {to_en} about {v}")
    if not parts:
        return ""
    if unit == "inch":
        lead = ("按英寸(1英寸=25.4 mm):", "In inches (1 in = 25.4 mm): ")
    elif unit == "px" and scale is not None:
        which_zh, which_en = pixels_said(scale, lang)
        lead = (f"按{which_zh}:", f"In {which_en}: ")
    else:
        lead = ("按厘米:", "In centimetres: ")
    return lead[0] + ";".join(parts) + "。" if zh else lead[1] + "; ".join(parts) + "."
