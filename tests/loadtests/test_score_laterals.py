"""The lateral films' scorer (loadtests/score_laterals.py) end to end on a few films."""

from __future__ import annotations

import pytest

from loadtests import score_laterals


def test_laterals_are_scored_as_served(capsys: pytest.CaptureFixture[str]) -> None:
    assert score_laterals.main(["--seeds", "727-729"]) == 0
    out = capsys.readouterr().out
    assert "phantom: 3 laterals:" in out and out.rstrip().endswith("read as a frontal chest: 0")

