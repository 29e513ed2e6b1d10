"""Control characters in text that callers send and in text Hilum writes into DICOM objects.

A question may carry TAB, LF and CR (a pasted paragraph) and no other control character (C0, DEL,
C1): NUL, BEL, ESC and the like are never part of a question, and they break what the question is
copied into (logs, terminals, the SR's text items). The engine refuses such a question as it refuses an
empty or over-long one (``orchestrator.dialogue.engine.question_problem``: 422 / INVALID_ARGUMENT
``invalid_question``, without repeating it), for every shell alike. ``without_controls`` is the DICOM
side's cleaning (``orchestrator/dicom_out/source.py``).
"""

from __future__ import annotations

import functools
import re

# C0 controls but TAB (09), LF (0A) and CR (0D); DEL; C1 controls
QUESTION_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
@functools.lru_cache(maxsize=8)
def _control_runs(keep: str) -> re.Pattern[str]:
    controls = "".join(re.escape(chr(c)) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in keep)
    return re.compile(f"[{controls}]+")


def without_controls(text: str, keep: str = "", replacement: str = " ") -> str:
    """``text`` with each run of control characters (C0, DEL, C1; but those in ``keep``) replaced by
    ``replacement``."""
    return _control_runs(keep).sub(replacement, text)
