"""How blank the encoder's lung fields lie (loadtests/lung_blank_share.py), end to end on a few films."""

from __future__ import annotations

import pytest

from loadtests import lung_blank_share


def test_blank_and_edge_shares_are_measured_per_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert lung_blank_share.main(["--seeds", "1000-1001", "--laterals", "727-727", "--cut", "0.4"]) == 0
    out = capsys.readouterr().out
    assert "phantom: 2 films, larger blank share" in out and "phantom: 2 films, larger edge share" in out
    # the strip a lateral film was cut to, read as a normal chest before: its lung fields on blank film
    assert "lateral: 1 films, larger blank share" in out and "over the limit 1: lateral 727" in out
    edge = next(line for line in out.splitlines() if line.startswith("cut to 0.4: 20 films, larger edge share"))
    assert edge.split("over the limit ")[1].startswith("20")  # a film cut to its middle 40%: every one at the edge
