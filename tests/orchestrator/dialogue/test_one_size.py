"""One size per finding (issue 26): the answer text, the findings table (``size_mm``), the
compare table and the session report all state the size ``orchestrator.findings.size`` gives.

Runs the real embedded encoder on docs/SCENARIO.md's phantom film (seed 7: a 12 mm nodule, given
as a diameter, and a strand, given as long × short axis), so both kinds of size are checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.settings import Settings

phantom = pytest.importorskip("encoder.phantom")

SIZE_RE = re.compile(r"(\d+\.\d)(?: × (\d+\.\d))? mm")


def _stated(text: str, anchor_id: str) -> list[float]:
    """The size the answer's line for ``anchor_id`` states, in mm (the last "… mm" on the line)."""
    line = re.search(rf"(?<![A-Za-z0-9]){anchor_id}[::](.*?)(?=\bA\d+[::]|\n|$)", text)
    assert line is not None, (anchor_id, text)
    *_, last = SIZE_RE.finditer(line.group(1))
    return [float(v) for v in last.groups() if v is not None]


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = phantom.generate_case(7, phantom.scenario_spec())
    out = tmp_path_factory.mktemp("one_size")
    case.write(out)
    return out / "image.dcm"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_text_table_compare_and_report_state_one_size(film: Path, lang: str) -> None:
    from orchestrator.encoders.factory import build_encoder

    settings = Settings()
    if not settings.onnx_path.exists():
        pytest.skip(f"no encoder weights at {settings.onnx_path}")
    enc = build_encoder(settings)
    try:
        engine = DialogueEngine(enc, settings)
        view = engine.create_session(film.read_bytes(), "image.dcm", lang=lang)
        screen = view.turns[0]
        rows: dict[str, dict[str, Any]] = {f["anchor_id"]: f for f in screen.findings}
        assert {r["size_kind"] for r in rows.values()} == {"axes", "diameter"}, rows  # both kinds on this film
        for aid, row in rows.items():
            assert _stated(screen.answer.text, aid) == row["size_mm"], (aid, screen.answer.text, row)
            want = [row["longest_mm"], row["shortest_mm"]] if row["size_kind"] == "axes" else [row["diameter_mm"]]
            assert row["size_mm"] == want
        compare = engine.ask(view.session_id, "比较这两个病灶" if lang == "zh" else "compare the two lesions")
        assert compare.intent == "compare"
        table = next(s for s in compare.answer.sections if s.get("rows"))["rows"]
        for r in table:
            assert r["size_mm"] == rows[r["anchor_id"]]["size_mm"]
            assert _stated(compare.answer.text, r["anchor_id"]) == r["size_mm"]
        report = engine.report(view.session_id)
        assert {f["anchor_id"]: f["size_mm"] for f in report["findings"]} == {a: r["size_mm"] for a, r in rows.items()}
    finally:
        enc.close()
