"""Calibrated confidence: raw 1-D scores the findings layer already has -> probabilities.

Every finding carries ``confidence`` (the probability that it is a real lesion) and
``attribute_confidence``: for each stated attribute, the probability that the statement is
right. The tables are isotonic regressions fitted on validation phantom seeds (never trained
on; never the test ranges 0-49 and 200-399) by ``loadtests/calibrate_confidence.py`` and
committed as ``data/calibration.json``. Here they are only read: a probability is the
piecewise-linear interpolation of the isotonic steps (flat beyond the end knots). No fitting
code is imported at serving time.

Three kinds of table:

- ``correct``: raw score -> P(the statement is right) (presence, size, density, lobe);
- ``positive``: raw score -> P(the truth is positive) (margin: irregular); the statement's
  probability is p when the finding states the positive value and 1 - p when it states the
  negative one;
- ``toward``: the raw score's distance from the flag's own threshold ``pivot``, counted
  towards the stated value (raw - pivot when the flag is set, pivot - raw when not) ->
  P(the statement is right) (calcification, cavity: rare flags, where one table for both
  statements fits better out of sample than a ``positive`` one).

A statement that a lesion *has* something (a calcification, a cavity, an irregular margin) is right only where there
is a lesion, and the tables for those are fitted on findings lying on one: its probability is the finding's presence
times the table's (:func:`held_to_presence`). A region that is no lesion at all (on a real film read alone, a rib
crossing called a calcified nodule) then does not carry a flat "calcification present" into the benign-nodule
checklist as a "yes". Statements that it has none stay the table's.

Below ``THRESHOLD`` the answers hedge: a finding becomes "possibly" / "可能", an attribute
"cannot be judged on this film" / "本片无法判断" (``orchestrator.dialogue.composer``), and a
checklist item that rests on it is ``uncertain`` (``orchestrator.dialogue.checklists``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.facts import Finding
from orchestrator.findings.candidates import MASS_MM

CALIBRATION_PATH = Path(__file__).with_name("data") / "calibration.json"
ATTRIBUTES: tuple[str, ...] = ("presence", "margin", "size", "density", "calcification", "cavity", "lobe")
# A statement is made flatly only when validation films show it right at least 4 times in 5;
# below, the answer hedges. See the README ("Calibrated confidence") for why 0.8.
THRESHOLD = 0.8
# the statements that claim something of a lesion, held to its presence when stated positive (held_to_presence)
CLAIMS_ON_PRESENCE: tuple[str, ...] = ("margin", "calcification", "cavity")
# readings whose "present" no film has shown right, stated only when absent (``present_stated``): the phantom draws no
# bubble-like lucency, so no table can be fitted, and each one the density read reported on validation films (6 of 231
# findings, own look and the families with the varied mix, seeds 50-149) lay on a lesion without one; a lucency it
# reads is described as a lucency, and a checklist counts the sign uncertain
PRESENT_UNSHOWN: tuple[str, ...] = ("bubble_lucency",)

_RAW_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("calibration_raw_mode", default=False)
_TABLES: contextvars.ContextVar[Calibration | None] = contextvars.ContextVar("calibration_tables", default=None)


@dataclass(frozen=True)
class Curve:
    """One attribute's table: knots ``x`` (raw score, increasing) and ``y`` (probability)."""

    target: str  # correct | positive | toward
    score: str  # the key of ``raw_scores`` it reads
    x: tuple[float, ...]
    y: tuple[float, ...]
    pivot: float = 0.0  # ``toward`` tables: the flag's threshold on the raw score

    def __post_init__(self) -> None:
        if self.target not in ("correct", "positive", "toward"):
            raise ValueError(f"unknown calibration target {self.target!r}")
        if not self.x or len(self.x) != len(self.y):
            raise ValueError("a calibration curve needs as many knots as values, at least one")
        if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ValueError("calibration knots must be increasing")
        if any(not 0.0 <= v <= 1.0 for v in self.y):
            raise ValueError("calibration values must lie in [0, 1]")

    def __call__(self, raw: float) -> float:
        return float(np.interp(raw, self.x, self.y))


@dataclass(frozen=True)
class Calibration:
    curves: Mapping[str, Curve]
    # the most any statement of an attribute is given, whatever its table says (:meth:`capped`)
    ceilings: Mapping[str, float] = field(default_factory=dict)

    def capped(self, name: str, ceiling: float) -> Calibration:
        """These tables with no probability of ``name`` above ``ceiling``: for films the tables were not fitted on
        (the second reader's, on a film it reads alone: ``orchestrator.encoders.second_reader``)."""
        return replace(self, ceilings={**self.ceilings, name: ceiling})

    def ceiling(self, name: str) -> float:
        return float(self.ceilings.get(name, 1.0))

    def probability(self, name: str, raw: float, stated_positive: bool | None = None) -> float | None:
        """P(the stated value of ``name`` is right) for raw score ``raw``; None when there is
        no table or no score."""
        curve = self.curves.get(name)
        if curve is None or raw is None or not math.isfinite(raw):
            return None
        if curve.target == "toward":
            p = curve(raw - curve.pivot if stated_positive else curve.pivot - raw)
        else:
            p = curve(raw)
        if curve.target == "positive":
            p = p if stated_positive else 1.0 - p
        return round(min(self.ceiling(name), max(0.0, p)), 3)

    def probabilities(self, raw: Mapping[str, float], stated: Mapping[str, bool]) -> dict[str, float]:
        """Every attribute that has a table and a score. In ``raw_mode`` (the fitter) the raw
        scores themselves, every one of them, come back instead."""
        if _RAW_MODE.get():
            return {k: float(v) for k, v in raw.items()}
        out: dict[str, float] = {}
        for name, curve in self.curves.items():
            p = self.probability(name, raw.get(curve.score, float("nan")), stated.get(name))
            if p is not None:
                out[name] = p
        return out


def from_dict(doc: Mapping[str, Any]) -> Calibration:
    curves = {
        name: Curve(str(c["target"]), str(c.get("score", name)), tuple(map(float, c["x"])), tuple(map(float, c["y"])),
                    float(c.get("pivot", 0.0)))
        for name, c in doc.get("attributes", {}).items()
    }
    return Calibration(curves)


def load(path: Path | None = None) -> Calibration:
    """The tables in force: ``path``'s, else those of the weights whose maps are being described
    (:func:`tables_of`), else the committed ones."""
    if path is not None:
        return read(path)
    tables = _TABLES.get()
    return tables if tables is not None else read(CALIBRATION_PATH)


@functools.cache
def read(path: Path) -> Calibration:
    """The tables in ``path`` (an empty calibration when the file is missing: no probabilities)."""
    if not path.exists():
        return Calibration({})
    return from_dict(json.loads(path.read_text(encoding="utf-8")))


@contextlib.contextmanager
def tables_of(tables: Calibration | None) -> Iterator[None]:
    """Within it, findings are given ``tables`` (other weights' own, fitted on their maps: the second reader's,
    ``orchestrator.encoders.second_reader``); None: the committed tables."""
    token = _TABLES.set(tables)
    try:
        yield
    finally:
        _TABLES.reset(token)


@contextlib.contextmanager
def raw_mode() -> Iterator[None]:
    """Within it, ``attribute_confidence`` carries the raw scores (for the fitter only)."""
    token = _RAW_MODE.set(True)
    try:
        yield
    finally:
        _RAW_MODE.reset(token)


def in_raw_mode() -> bool:
    return _RAW_MODE.get()


def held_to_presence(probabilities: Mapping[str, float], presence: float, stated: Mapping[str, bool]) -> dict[str, float]:
    """``probabilities`` (each attribute's, as its table gives it for a finding on a lesion) with each statement of
    ``CLAIMS_ON_PRESENCE`` that is stated positive (``stated``: an irregular margin, a calcification, a cavity) times
    ``presence``, the probability that there is a lesion to have it. In ``raw_mode`` (the fitter) unchanged."""
    if _RAW_MODE.get():
        return dict(probabilities)
    return {name: round(p * presence, 3) if name in CLAIMS_ON_PRESENCE and stated.get(name) else p
            for name, p in probabilities.items()}


def stated_kind(f: Finding) -> str:
    """The kind the answers name a finding by: a calcified nodule or a cavity only where that reading is stated (its
    probability at the threshold), else the nodule or mass it is by its size (``candidates.MASS_MM``), as the density
    answer then says the calcification or the cavity cannot be judged. The finding JSON carries it as ``named_kind``
    for the page and the presentation state."""
    conf = f.attribute_confidence
    if ((f.kind == "calcified_nodule" and not is_confident(conf.get("calcification")))
            or (f.kind == "cavity" and not is_confident(conf.get("cavity")))):
        return "mass" if f.diameter_mm >= MASS_MM else "nodule"
    return f.kind


# A "no cavity" on a lesion this large (its equivalent diameter) is no exclusion, whatever its table gives. Measured on
# phantom validation films (seeds 50-149, the default and the varied lesion mix, 200 films, the shipped weights, each
# film analysed as ``hilum ask`` does, findings matched to the truth by ``evaluation.scoring.match_findings``): of the 24
# cavities found, 7 were read "no cavity" (29%), every one on a finding of 15.8 mm or more, 5 of them at 0.85-0.98,
# stated flatly. The table's high probability of "no cavity" is the many lesions without one (on findings of 15 mm or
# more, "no cavity" was right 151 times in 158): it does not say that a cavity there would be seen. Below 15 mm no
# "no cavity" was wrong (54 findings), though the phantom draws no cavity that small.
CAVITY_UNEXCLUDED_MM = 15.0
CAVITIES_MISSED = (7, 24)  # (read "no cavity", cavities found) on those films, findings of CAVITY_UNEXCLUDED_MM or more


def cavity_unexcluded(f: Finding) -> bool:
    """Whether ``f``'s "no cavity" is hedged, not stated, whatever its probability: a lesion at least
    ``CAVITY_UNEXCLUDED_MM`` across read without a cavity (fluid's contents are not read at all). The answers then say
    a cavity is not seen and cannot be excluded."""
    return not f.density.cavity and f.kind != "effusion" and f.diameter_mm >= CAVITY_UNEXCLUDED_MM


def present_stated(name: str, present: bool) -> bool:
    """Whether a reading (``Density``'s field ``name``) is stated as read: an absence always, a presence unless it is
    one of ``PRESENT_UNSHOWN``."""
    return not (present and name in PRESENT_UNSHOWN)


def is_confident(p: float | None, threshold: float = THRESHOLD) -> bool:
    """Whether a statement with probability ``p`` is made flatly. No probability (old facts,
    an attribute without a table): flat, as before calibration."""
    return p is None or p >= threshold
