"""``orchestrator/film_analysis.py``: first turns in worker processes (``HILUM_ANALYSIS_PROCESSES``) give
the same session as in the request's thread; the film gate's refusals cross the process boundary with
their kind and reason; a killed worker costs at most the films it held (503) and a fresh pool takes the
next; a full pool answers 429 at once; the workers run at a lower priority than the server; a service
with workers answers over REST."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.encoders.factory import build_encoder
from orchestrator.errors import EncoderError, EncoderOverloadedError, NotAChestFilmError
from orchestrator.facts import to_jsonable
from orchestrator.film_analysis import AnalysisPool
from orchestrator.narration.prompt import canonical_json
from orchestrator.server import Service, build_services
from orchestrator.settings import Settings


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysisPool]:
    analyser = AnalysisPool(Settings(), processes=1)
    analyser.warm()
    yield analyser
    analyser.close()


def noise_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (512, 512), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_a_worker_makes_the_same_session_as_the_requests_thread(pool: AnalysisPool, phantom_dir: Path) -> None:
    settings = Settings()
    encoder = build_encoder(settings)
    film = (phantom_dir / "image.dcm").read_bytes()
    here = DialogueEngine(encoder, settings).create_session(film, lang="en")
    there = DialogueEngine(encoder, settings, analyser=pool).create_session(film, lang="en")
    assert there.turns[0].findings and there.turns[0].findings == here.turns[0].findings
    assert there.turns[0].answer == here.turns[0].answer
    assert there.frame == here.frame and there.spacing == here.spacing
    assert set(there.turns[0].timings) >= {"decode", "gate", "encode", "findings"}  # the worker's stage times
    made = pool.analyse(film, None, {})  # the facts' canonical JSON is the worker's to make, as the thread makes it
    assert made.facts_json and made.facts_json == canonical_json(to_jsonable(made.facts))


def test_the_workers_run_below_the_servers_priority(pool: AnalysisPool) -> None:
    """Uploads take what the follow-up turns leave: the workers are ``analysis_nice`` nicer than the server."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    pids = pool.worker_pids()
    assert pids and Settings().analysis_nice > 0
    assert all(os.getpriority(os.PRIO_PROCESS, pid) == min(19, mine + Settings().analysis_nice) for pid in pids)


def test_a_refusal_crosses_the_process_boundary_with_its_kind_and_reason(pool: AnalysisPool) -> None:
    engine = DialogueEngine(build_encoder(Settings()), Settings(), analyser=pool)
    with pytest.raises(NotAChestFilmError) as refused:
        engine.create_session(noise_png(), lang="zh")
    assert refused.value.kind == "not_a_chest_film" and refused.value.reason == "not_chest"
    assert refused.value.message and refused.value.http_status == 422


def test_a_killed_worker_costs_its_films_and_a_fresh_pool_takes_the_next(phantom_dir: Path) -> None:
    analyser = AnalysisPool(Settings(), processes=1)
    try:
        analyser.warm()
        engine = DialogueEngine(build_encoder(Settings()), Settings(), analyser=analyser)
        (pid,) = analyser.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        film = (phantom_dir / "image.dcm").read_bytes()
        outcomes = []
        for _ in range(3):  # the first upload may meet the broken pool (503); a fresh one answers after
            try:
                outcomes.append(bool(engine.create_session(film).turns[0].findings))
                break
            except EncoderError as exc:
                assert exc.http_status == 503 and exc.retry_after_s
                outcomes.append(False)
        assert outcomes[-1] is True and len(outcomes) <= 2, outcomes
        assert pid not in analyser.worker_pids()
    finally:
        analyser.close()


def test_a_full_pool_answers_overloaded_at_once(phantom_dir: Path) -> None:
    """``encoder_queue_size`` films in the pool: the next is refused before it is sent (429)."""
    analyser = AnalysisPool(Settings(encoder_queue_size=1), processes=1)
    try:
        analyser._inflight = 1  # one film in the pool (held there for the test)
        t0 = time.monotonic()
        with pytest.raises(EncoderOverloadedError) as busy:
            analyser.analyse((phantom_dir / "image.dcm").read_bytes(), None, {}, "en")
        assert busy.value.http_status == 429 and time.monotonic() - t0 < 5
    finally:
        analyser._inflight = 0
        analyser.close()


def test_a_service_with_analysis_workers_answers_over_rest(phantom_dir: Path) -> None:
    settings = Settings(host="127.0.0.1", analysis_processes=1)
    with Service(build_services(settings), "127.0.0.1", 0, 0) as svc:
        svc.wait_ready()
        assert isinstance(svc.services.engine.analyser, AnalysisPool) and svc.services.engine.analyser.worker_pids()
        with httpx.Client(base_url=svc.url, timeout=180) as c:
            made = c.post("/v1/sessions", files={"file": ("f.dcm", (phantom_dir / "image.dcm").read_bytes())})
            assert made.status_code == 201 and made.json()["turns"][0]["findings"]
            refused = c.post("/v1/sessions", files={"file": ("n.png", noise_png())})
            assert refused.status_code == 422 and refused.json()["error"]["kind"] == "not_a_chest_film"
            turn = c.post(f"/v1/sessions/{made.json()['session_id']}/turns", json={"question": "how big is it?"})
            assert turn.status_code == 200


def test_the_analyser_judges_maps_by_the_limit_of_the_weights_it_serves(tmp_path: Path) -> None:
    """Candidate weights in their own folder, with the limit fitted for them, are judged by it; served by
    Triton (the repository holds the shipped weights) or without a limit beside them, by the shipped one."""
    from orchestrator.film_analysis import FilmAnalyser
    from orchestrator.findings.fitted import LIMIT_BESIDE_WEIGHTS, weights_tag
    from orchestrator.findings.plausibility import ENTROPY_MAX

    onnx = tmp_path / "anatomy_encoder.onnx"
    onnx.write_bytes(Path(Settings().onnx_path).read_bytes())
    assert FilmAnalyser(None, None, Settings(onnx_path=onnx)).entropy_max == ENTROPY_MAX  # type: ignore[arg-type]
    (tmp_path / LIMIT_BESIDE_WEIGHTS).write_text(f'{{"weights": "{weights_tag(onnx)}", "entropy_max": 0.083}}')
    assert FilmAnalyser(None, None, Settings(onnx_path=onnx)).entropy_max == 0.083  # type: ignore[arg-type]
    served = Settings(onnx_path=onnx, encoder="triton://127.0.0.1:1")
    assert FilmAnalyser(None, None, served).entropy_max == ENTROPY_MAX  # type: ignore[arg-type]
