"""loadtests/score_other_ct.py end to end on a small CT written in pyradiomics' layout: every film
goes through the engine as an upload and comes back as a scored row, and the table names the case."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoder.phantom.other_ct import Lesion, write_nrrd
from loadtests.score_other_ct import found_by_size, miss_lines, miss_row, run, summarise


def test_films_of_a_ct_are_scored_through_the_engine(tmp_path: Path) -> None:
    hu = np.full((128, 96, 40), -1000, dtype=np.int16)
    hu[8:120, 10:86, :] = 40
    hu[16:60, 20:76, 4:36] = -850  # patient's right lung (low x in LPS)
    hu[68:112, 20:76, 4:36] = -850
    hu[60:68, 70:84, :] = 500  # the spine, posterior
    label = np.zeros(hu.shape, dtype=np.int16)
    label[30:36, 40:46, 18:21] = 1
    write_nrrd(tmp_path / "tiny_image.nrrd", hu, (2.5, 2.5, 5.0))
    write_nrrd(tmp_path / "tiny_label.nrrd", label, (2.5, 2.5, 5.0))
    result = run(tmp_path, 2, 0, ("phantom", "linear"), tmp_path / "sheet.png", cases=("tiny",))
    rows = result["rows"]
    assert [(r["seed"], r["rendering"], r["normal"]) for r in rows] == [
        (0, "phantom", True), (0, "linear", True), (1, "phantom", False), (1, "linear", False)]
    for r in rows:
        assert r["outcome"] in ("localised", "withheld") or r["outcome"].startswith("refused:")
        assert r["lesions"] == (0 if r["normal"] else 4)  # three inserted nodules and the tumour
        assert 0 <= r["found"] <= r["lesions"] and 0 <= r["raw_found"] <= r["lesions"]
        if not r["outcome"].startswith("refused"):  # each lesion the answers missed, with the map's peak on it
            assert len(r["missed"]) == r["lesions"] - r["found"]
    table = summarise(rows)
    assert "| tiny | phantom | 2 |" in table and "| tiny | linear | 2 |" in table
    assert (tmp_path / "sheet.png").stat().st_size > 0


def test_a_missed_lesion_is_told_by_the_lesion_maps_peak_on_it() -> None:
    """``--misses``: the reading weights' map on a missed lesion says whether the map never drew it (perception) or drew
    it and something after lost it; the nearest finding says how far off the answers were."""
    lesion_map = np.zeros((64, 64), dtype=np.float32)
    lesion_map[30:34, 40:44] = 0.97  # drawn over the gate on the lesion
    les = Lesion(x_px=42.0, y_px=32.0, diameter_mm=8.0, side="left", kind="inserted")
    row = miss_row(lesion_map, 42.0, 32.0, les, 1.0, [{"center_px": [10.0, 32.0]}])
    assert row == {"kind": "inserted", "diameter_mm": 8.0, "side": "left", "map_peak": 0.97, "nearest_finding_mm": 32.0}
    assert miss_row(lesion_map, 10.0, 10.0, les, 1.0, [])["map_peak"] == 0.0  # nothing drawn there, no finding at all

    def row_of(ct: str, outcome: str, peaks: list[float], kind: str = "inserted") -> dict:
        return {"ct": ct, "seed": 0, "rendering": "linear", "outcome": outcome,
                "missed": [{"kind": kind, "diameter_mm": 12.0, "side": "right", "map_peak": p, "nearest_finding_mm": None,
                            "read_alone": True} for p in peaks]}

    rows = [row_of("a", "localised", [0.1, 0.6, 0.99]), row_of("a", "withheld", [0.99], "tumour"),
            row_of("a", "refused:not_chest", [0.1]), row_of("b", "localised", [0.2], "tumour")]
    listed = miss_lines(rows)
    assert "  a: 4: " in listed and "not drawn 1 (0)" in listed and "under the gate 1 (0)" in listed
    assert "drawn, then lost 1 (0)" in listed and "withheld film 1 (1)" in listed
    assert "  b: 1: not drawn 1 (1)" in listed and listed.count("\n  a seed 0 linear") == 4  # a refused film lists none


def test_the_nodules_found_are_counted_by_size_on_localised_films_only() -> None:
    """What a reader of such films may miss, by size: the 9 mm nodules apart from the 25 mm ones, the tumour apart; a
    withheld film's lesions are not the answers' misses."""
    def row_of(outcome: str, lesions: list[tuple[str, float, bool]], ct: str = "a") -> dict:
        return {"ct": ct, "outcome": outcome,
                "by_lesion": [{"kind": k, "diameter_mm": d, "found": f} for k, d, f in lesions]}

    rows = [row_of("localised", [("inserted", 9.0, False), ("inserted", 25.0, True), ("tumour", 55.3, False)]),
            row_of("localised", [("inserted", 9.0, True), ("inserted", 9.0, False)]),
            row_of("withheld", [("inserted", 9.0, True)]), row_of("withheld", [("inserted", 12.0, True)], "b")]
    assert found_by_size(rows) == ("a, found on localised films by size: 9 mm 1/3, 25 mm 1/1, tumour 0/1\n"
                                   "b, found on localised films by size: none localised")
