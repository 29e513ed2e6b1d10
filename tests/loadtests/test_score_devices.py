"""``loadtests/score_devices.py``: devices over the chest, read as served, one row per kind beside the bare films."""

from __future__ import annotations

import pytest

from loadtests import score_devices


def test_a_row_per_kind_beside_the_bare_films(capsys: pytest.CaptureFixture[str]) -> None:
    assert score_devices.main(["--seeds", "60-60", "--kinds", "pacemaker,ecg", "--lesions"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    names = [r.split("|")[1].strip() for r in rows]
    assert names == ["devices", "none (bare)", "ecg", "pacemaker", "devices", "none (bare)", "ecg", "pacemaker"]
    bare = rows[1].split("|")
    assert float(bare[2]) >= 0.0 and bare[3].strip() in ("0", "1")  # films read alone, of one film
    assert "confirmer" in out and "alone reader" in out  # the served readers, named


def test_reading_alone_names_the_alone_reader(capsys: pytest.CaptureFixture[str]) -> None:
    assert score_devices.main(["--seeds", "60-60", "--kinds", "button", "--alone"]) == 0
    out = capsys.readouterr().out
    assert "every film read alone by" in out
    assert [r.split("|")[1].strip() for r in out.splitlines() if r.startswith("| ") and "---" not in r] == [
        "devices", "none (bare)", "button"]
