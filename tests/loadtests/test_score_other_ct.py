"""loadtests/score_other_ct.py end to end on a small CT written in pyradiomics' layout: every film
goes through the engine as an upload and comes back as a scored row, and the table names the case."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoder.phantom.other_ct import write_nrrd
from loadtests.score_other_ct import run, summarise


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
    table = summarise(rows)
    assert "| tiny | phantom | 2 |" in table and "| tiny | linear | 2 |" in table
    assert (tmp_path / "sheet.png").stat().st_size > 0
