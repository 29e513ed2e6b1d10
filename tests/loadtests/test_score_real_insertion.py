"""Nodules inserted into real films: the sphere drawn, where it is put, how a read is scored, and the whole scenario
once through the served engine on a phantom film standing in for a real one (the real films beside the clone are
for the command, not for the suite)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from loadtests import score_real_insertion as sri
from orchestrator.facts import AnatomyFacts, AnatomyRegion, ImageFacts, PixelSpacing


def test_the_sphere_peaks_where_asked_and_falls_as_a_sphere_does() -> None:
    s = sri.sphere((200, 200), 100.0, 80.0, 20.0, 12.0, 0.0)
    assert s[80, 100] == pytest.approx(12.0, abs=0.05)
    assert s[80, 110] == pytest.approx(12.0 * math.sqrt(1 - 0.25), abs=0.1)  # half the radius out: sqrt(3)/2
    assert s[80, 121] == 0.0 and s[80, 79] == 0.0 and s[0, 0] == 0.0
    blurred = sri.sphere((200, 200), 100.0, 80.0, 20.0, 12.0, 1.5)
    assert 0.0 < blurred[80, 121] < 1.0 and blurred[80, 100] == pytest.approx(12.0, abs=0.2)
    edge = sri.sphere((50, 50), 2.0, 2.0, 10.0, 5.0, 1.0)  # cut by the film's border, not wrapped
    assert edge.shape == (50, 50) and edge[2, 2] > 4.5 and edge[49, 49] == 0.0


def _facts() -> ImageFacts:
    def box(name: str, x0: float, y0: float, x1: float, y1: float) -> AnatomyRegion:
        poly = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        return AnatomyRegion(name, ((x0 + x1) / 2, (y0 + y1) / 2), (x0, y0, x1, y1), poly)

    regions = (box("lung_right", 60, 80, 230, 420), box("lung_left", 290, 80, 460, 420),
               box("heart", 200, 260, 340, 400), box("mediastinum", 225, 60, 295, 260))
    return ImageFacts((512, 512), PixelSpacing(0.7, 0.7, "estimated"),
                      AnatomyFacts(regions, {}, (), None, None, None), (), ())


def test_places_lie_inside_a_lung_field_clear_of_its_edge_and_the_heart() -> None:
    facts = _facts()
    spots = sri.places(facts, 10, 15.0, np.random.default_rng(0))
    assert [p.side for p in spots] == ["right", "left"] * 5
    keep = (15.0 + sri.CLEAR_MM) / 0.7
    for p in spots:
        x0, y0, x1, y1 = facts.anatomy.region(f"lung_{p.side}").bbox_px  # type: ignore[union-attr]
        assert x0 + keep - 1 <= p.x <= x1 - keep + 1 and y0 + keep - 1 <= p.y <= y1 - keep + 1, p
        hx0, hy0, hx1, hy1 = facts.anatomy.region("heart").bbox_px  # type: ignore[union-attr]
        assert not (hx0 - keep < p.x < hx1 + keep and hy0 - keep < p.y < hy1 + keep), p
    again = sri.places(facts, 10, 15.0, np.random.default_rng(0))
    assert again == spots  # seeded: every size and contrast is put at the same places


def test_a_read_is_scored_by_the_nearest_finding_within_10_mm() -> None:
    from dataclasses import dataclass

    @dataclass
    class F:
        center_px: tuple[float, float]
        side: str
        diameter_mm: float

    place = sri.Place("right", 100.0, 100.0)
    far, near = F((100.0, 130.0), "right", 20.0), F((105.0, 100.0), "left", 13.0)  # 21 mm and 3.5 mm away
    assert sri.score([far, near], place, 10.0, 0.7) == (True, False, 1.3, 1)
    assert sri.score([far], place, 10.0, 0.7) == (False, False, None, 1)
    reads = [sri.Read(10.0, 0.5, place, True, True, 1.1), sri.Read(10.0, 0.5, place, True, False, 1.5, false=1),
             sri.Read(10.0, 0.5, place, False, refused="not_chest"), sri.Read(20.0, 0.5, place, False)]
    rows = {r["size_mm"]: r for r in sri.table(reads)}
    assert (rows[10.0]["nodules"], rows[10.0]["found"], rows[10.0]["side_right"], rows[10.0]["size_within"],
            rows[10.0]["refused"], rows[10.0]["false_per_film"]) == (3, 2, 1, 1, 1, 0.33)
    assert rows[20.0]["found"] == 0 and rows[20.0]["size_ratio_median"] is None


def test_the_scenario_once_through_the_served_engine(tmp_path: Path) -> None:
    """A phantom film with no lesion, written as an 8-bit PNG and labelled normal, read clean and then with one 30 mm
    nodule put in: the nodule is where the table counts it, every read is scored, nothing is refused."""
    from encoder.phantom import CaseSpec, generate_case
    from loadtests.score_film_gate import served_engine

    case = generate_case(7, CaseSpec(lesion_mix="none"))
    ok, png = cv2.imencode(".png", np.clip(case.image * 255.0, 0, 255).astype(np.uint8))
    assert ok
    (tmp_path / "normal.png").write_bytes(png.tobytes())
    (tmp_path / "labels.json").write_text(json.dumps({"normal.png": {"label": "normal"}}), encoding="utf-8")
    with served_engine() as engine:
        reads, tiles = sri.run(engine, tmp_path, [30.0], [1.0], per_film=2)
        clean = sri.read_film(engine, (tmp_path / "normal.png").read_bytes(), "normal.png")
        pixels = cv2.imdecode(np.frombuffer(png.tobytes(), np.uint8), cv2.IMREAD_UNCHANGED)
        place = reads[0].place
        with_nodule = sri.insert(pixels, clean.frame, clean.facts.spacing.row_mm, place, 30.0, 60.0)
    assert len(reads) == 2 and len(tiles) == 2 and all(r.refused is None for r in reads)
    assert {r.place.side for r in reads} == {"right", "left"}
    added = cv2.imdecode(np.frombuffer(with_nodule, np.uint8), cv2.IMREAD_UNCHANGED).astype(np.int32) - pixels
    x, y = clean.frame.to_original(place.x, place.y)
    assert added[int(round(float(y))), int(round(float(x)))] >= 50  # the nodule is where the read is scored
    assert added.max() <= 60 and (added > 0).sum() < 0.05 * added.size
    assert tiles[0].shape == (160, 160, 3)
    rows = sri.table(reads)
    assert rows[0]["nodules"] == 2 and rows[0]["found"] == sum(r.found for r in reads)


def test_what_the_answers_quote_is_what_the_committed_run_measured() -> None:
    """``second_reader.ALONE_REAL_INSERTED`` (what "could you have missed anything?" says of a film read alone) sums the
    plain rows (c 0.5 and 1) of the committed run, ``loadtests/results/real_insertion.json``."""
    from orchestrator.encoders.second_reader import ALONE_REAL_INSERTED

    doc = json.loads((Path(sri.__file__).parent / "results" / "real_insertion.json").read_text(encoding="utf-8"))
    assert "score_real_insertion" in doc["command"]
    for lo, hi, found, put in ALONE_REAL_INSERTED:
        rows = [r for r in doc["rows"] if lo <= r["size_mm"] <= hi and r["contrast"] >= 0.5]
        assert rows and (sum(r["found"] for r in rows), sum(r["nodules"] for r in rows)) == (found, put)
