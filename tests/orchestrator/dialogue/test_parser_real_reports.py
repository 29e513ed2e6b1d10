"""The parser on real report language: Indiana University chest X-ray reports (shipped in the
torchxrayvision wheel, read in place, never copied). Each report's MeSH tags such as
``Opacity/lung/upper lobe/right`` give the side and the level; the FINDINGS sentences that name
the tagged finding with one side must parse to that side (laterality is never wrong) and, where
the tag has a level, to that lobe level or zone."""

from __future__ import annotations

import importlib.metadata
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.dialogue.parser import parse

LEVEL = {"RUL": "upper", "LUL": "upper", "RML": "middle", "RLL": "lower", "LLL": "lower"}


def reports_path() -> Path:
    try:
        dist = importlib.metadata.distribution("torchxrayvision")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("torchxrayvision wheel (data carrier) not installed")
    return Path(str(dist.locate_file("torchxrayvision/data/NLMCXR_reports.tgz")))


def tagged_sentences(path: Path) -> Iterator[tuple[str, str, str | None, str]]:
    """(tag, side, level, sentence) for sentences naming a tagged finding on one side."""
    with tarfile.open(path) as tf:
        for member in tf.getmembers():
            fh = tf.extractfile(member) if member.isfile() else None
            if fh is None:
                continue
            root = ET.fromstring(fh.read())
            findings = " ".join((e.text or "") for e in root.iter("AbstractText") if e.get("Label") == "FINDINGS")
            for tag in (e.text for e in root.iter("major") if e.text):
                parts = [x.strip().lower() for x in tag.split("/")]
                side = "right" if "right" in parts else "left" if "left" in parts else None
                if side is None:
                    continue
                level = next((lv for lv in ("upper", "middle", "lower") if any(x.startswith(lv) for x in parts)), None)
                for sentence in re.split(r"(?<=\.)\s+", findings):
                    low = sentence.lower()
                    if parts[0].split()[0] in low and side in low and not ("left" in low and "right" in low):
                        yield tag, side, level, sentence


def test_laterality_and_level_on_indiana_reports() -> None:
    items = list(tagged_sentences(reports_path()))
    assert len(items) >= 500
    side_wrong: list[tuple[str, str]] = []
    reversed_side: list[tuple[str, str]] = []
    levelled = level_right = 0
    for tag, side, level, sentence in items:
        q = parse(sentence)
        if q.side != side:
            side_wrong.append((tag, sentence))
            if q.side is not None:
                reversed_side.append((tag, sentence))
        if level:
            levelled += 1
            level_right += (LEVEL.get(q.lobe) if q.lobe else q.zone) == level
    assert not reversed_side, reversed_side[:5]  # laterality is never wrong
    assert len(side_wrong) / len(items) <= 0.005, side_wrong[:5]
    assert level_right / levelled >= 0.9
