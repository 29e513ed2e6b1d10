from __future__ import annotations

import pytest

from loadtests.fit_entropy_limit import fit, main


def test_the_rule_sits_below_the_surest_mirrored_film() -> None:
    out = fit({"upright": [0.04, 0.05], "mirrored": [0.1, 0.08, 0.09], "families": [0.05, 0.071, 0.09]})
    assert out["entropy_max"] == round(0.88 * 0.08, 3) == 0.07
    assert out["mirrored_min"] == 0.08
    assert out["films"]["upright"]["under_limit"] == 2
    assert out["films"]["families"]["under_limit"] == 1
    assert out["films"]["mirrored"]["under_limit"] == 0


def test_test_seeds_are_refused() -> None:
    with pytest.raises(SystemExit, match="validation seeds only"):
        main(["--seeds", "40-60"])
