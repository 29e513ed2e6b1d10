"""loadtests/scale_agreement.py: a run on one validation film reports each rule, none keeping more than the
single encoding found; the test ranges are refused. (The rescaling and the agreement it measures are
``orchestrator/encoders/second_look.py``'s, tested in ``tests/orchestrator/encoders/test_second_look.py``.)"""

from __future__ import annotations

import pytest

from loadtests.scale_agreement import RULES, main


def test_one_validation_film_and_the_test_ranges_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--seeds", "0-1"])
    assert main(["--seeds", "52"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| phantom")]
    assert [r[2].strip() for r in rows] == list(RULES)
    false = [float(r[5]) for r in rows]
    assert max(false) == false[0]  # no rule keeps more than the single encoding found
