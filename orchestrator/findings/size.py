"""One size per finding: what the answer text, the findings table, the overlay and the report
all state. An elongated opacity (strand, consolidation, effusion, or a long axis more than
``AXES_RATIO`` times the short one) is given as long axis × short axis; anything else as its
diameter (the equivalent circle's). Values are rounded to 0.1 mm here, once."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.facts import Finding

AXES_RATIO = 1.3
AXES_KINDS: frozenset[str] = frozenset({"strand", "consolidation", "effusion"})


@dataclass(frozen=True)
class Size:
    kind: str  # "axes" (long × short) or "diameter"
    mm: tuple[float, ...]  # (long, short) or (diameter,)

    def text(self) -> str:
        """"21.3 × 18.8 mm" or "12.3 mm"."""
        return " × ".join(f"{v:.1f}" for v in self.mm) + " mm"


def finding_size(f: Finding) -> Size:
    if f.kind in AXES_KINDS or f.longest_mm > AXES_RATIO * max(f.shortest_mm, 1e-6):
        return Size("axes", (round(f.longest_mm, 1), round(f.shortest_mm, 1)))
    return Size("diameter", (round(f.diameter_mm, 1),))
