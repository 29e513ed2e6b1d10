"""The lung's bronchopulmonary segments, named in a question ("is A3 in the lingula?", "is A1 in the apical segment?",
"A2在左下叶背段吗?", "which segment is it in?").

Hilum maps lobes (an estimate where they overlap in projection) and zones, never segments: on a frontal film the
segments overlap and their borders do not show. A segment asked about is therefore never answered "yes" from the lobe
or the zone it lies in (it had been: "Yes: A3 is in the left upper lobe" of "is A3 in the lingula?"); the answer says
segments are not mapped, where the finding lies (its lobe territory and zone) and that a lateral view or CT would
settle the segment (``composer.segment_section``).
"""

from __future__ import annotations

import re
from types import MappingProxyType

# segment -> (zh, en) as the answer names it; "any": a segment asked with none named ("which segment is it in?")
SEGMENT_NAMES: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "lingula": ("舌段", "the lingula"),
    "superior_lingular": ("上舌段", "the superior lingular segment"),
    "inferior_lingular": ("下舌段", "the inferior lingular segment"),
    "apical": ("尖段", "the apical segment"),
    "apicoposterior": ("尖后段", "the apicoposterior segment"),
    "posterior": ("后段", "the posterior segment"),
    "anterior": ("前段", "the anterior segment"),
    "superior": ("背段", "the superior segment"),
    "medial": ("内侧段", "the medial segment"),
    "lateral": ("外侧段", "the lateral segment"),
    "anterior_basal": ("前基底段", "the anterior basal segment"),
    "posterior_basal": ("后基底段", "the posterior basal segment"),
    "medial_basal": ("内基底段", "the medial basal segment"),
    "lateral_basal": ("外基底段", "the lateral basal segment"),
    "anteromedial_basal": ("前内基底段", "the anteromedial basal segment"),
    "basal": ("基底段", "a basal segment"),
    "any": ("哪个肺段", "which segment"),
})

# (segment, pattern), the more specific first; the text is the parser's (lower-cased, simplified Chinese)
_SEGMENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("superior_lingular", re.compile(r"\bsuperior lingula|上舌段")),
    ("inferior_lingular", re.compile(r"\binferior lingula|下舌段")),
    ("lingula", re.compile(r"\blingula|舌段|舌叶")),
    ("apicoposterior", re.compile(r"\bapico-?posterior\b|尖后段")),
    ("anteromedial_basal", re.compile(r"\banteromedial[\s-]*basal\b|前内基底段|内前基底段")),
    ("anterior_basal", re.compile(r"\banterior[\s-]*basal\b|前基底段")),
    ("posterior_basal", re.compile(r"\bposterior[\s-]*basal\b|后基底段")),
    ("medial_basal", re.compile(r"\bmedial[\s-]*basal\b|内基底段|内侧基底段")),
    ("lateral_basal", re.compile(r"\blateral[\s-]*basal\b|外基底段|外侧基底段")),
    ("basal", re.compile(r"\bbasa?l(?:ar)? segments?\b|基底段")),
    ("apical", re.compile(r"\bapical segment|尖段")),
    ("superior", re.compile(r"\bsuperior segment|背段|叶上段")),
    ("posterior", re.compile(r"\bposterior segment|(?<![尖基底])后段")),
    ("anterior", re.compile(r"\banterior segment|(?<![基底])前段(?!时)")),
    ("medial", re.compile(r"\bmedial segment|内侧段")),
    ("lateral", re.compile(r"\blateral segment|外侧段")),
    ("any", re.compile(r"\bsegments?\b|\bbronchopulmonary\b|肺段|哪(?:个|一)段|什么段")),
)


def segment_named(text: str) -> str | None:
    """The segment a question names (a key of ``SEGMENT_NAMES``), or None."""
    return next((seg for seg, pattern in _SEGMENTS if pattern.search(text)), None)
