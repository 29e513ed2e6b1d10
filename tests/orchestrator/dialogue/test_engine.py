from __future__ import annotations

import dataclasses
import functools
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from evaluation.synthetic import star_mask, strand_mask, synthetic_maps
from orchestrator.anatomy_maps import AnatomyMaps
from orchestrator.dialogue.engine import AskEvent, DialogueEngine
from orchestrator.dialogue.parser import parse
from orchestrator.dialogue.session import InMemorySessionStore, SessionState, TurnRecord, record_bytes
from orchestrator.errors import (
    InvalidQuestionError,
    NotAChestFilmError,
    SessionFullError,
    SessionNotFoundError,
)
from orchestrator.narration.base import ComposerNarrator, NarrationRequest, NarrationResult
from orchestrator.settings import Settings

SHAPE = (512, 512)


class SyntheticMapsEncoderDouble:
    """Stands in for the encoder: returns the findings layer's synthetic maps (a spiculated
    nodule in the right middle zone, a strand at the left base) and counts its passes."""

    name = "synthetic-double"

    def __init__(self) -> None:
        self.calls = 0
        self.maps = synthetic_maps([star_mask(SHAPE, (120, 250), 9, 5, 6), strand_mask(SHAPE, (330, 360), (370, 380), 8)])

    def encode(self, image: np.ndarray) -> AnatomyMaps:
        self.calls += 1
        return self.maps

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        return None


class RecordingNarratorDouble(ComposerNarrator):
    """Records requests; pretends an LLM (one that reads the earlier turns) fell back to the composer."""

    name = "recording-double"
    uses_history = True

    def __init__(self) -> None:
        self.requests: list[NarrationRequest] = []

    def narrate(self, request: NarrationRequest) -> NarrationResult:
        self.requests.append(request)
        return NarrationResult(request.composer_text, "composer", fallback_reason="deadline")

    def stream(self, request: NarrationRequest) -> Iterator[str]:
        self.requests.append(request)
        text = request.composer_text
        yield text[: len(text) // 2]
        yield text[len(text) // 2 :]


@functools.cache
def phantom_png() -> bytes:
    """The upload: a phantom chest film (the film gate runs on it; the double supplies the maps)."""
    from encoder.phantom import generate_case

    buf = io.BytesIO()
    Image.fromarray((generate_case(7).image * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_bytes(encoder: SyntheticMapsEncoderDouble) -> bytes:
    return phantom_png()


@pytest.fixture()
def setup() -> tuple[DialogueEngine, SyntheticMapsEncoderDouble, RecordingNarratorDouble, str]:
    enc = SyntheticMapsEncoderDouble()
    nar = RecordingNarratorDouble()
    eng = DialogueEngine(enc, Settings(), narrator=nar)  # type: ignore[arg-type]
    view = eng.create_session(png_bytes(enc), filename="film.png", lang="zh", tenant="t1")
    return eng, enc, nar, view.session_id


def test_create_session_runs_one_encoder_pass_and_screens(setup: Any) -> None:
    eng, enc, _, sid = setup
    view = eng.get_session(sid, tenant="t1")
    d = view.to_dict()
    assert set(d) == {"session_id", "lang", "image", "frame", "turns", "anchors", "questions"}
    assert d["questions"] == [""]  # the screening turn has no question of the reader's
    h, w = Image.open(io.BytesIO(phantom_png())).size[::-1]
    assert d["frame"]["original_size"] == [h, w] and d["frame"]["working_size"] == [512, 512]
    assert d["frame"]["scale"] == max(h, w) / 512
    assert d["image"]["size"] == [512, 512] and d["image"]["spacing_source"] == "estimated"
    t1 = view.turns[0]
    assert t1.intent == "screen" and t1.turn == 1 and enc.calls == 1
    assert [a["kind"] for a in t1.anchors][:2] == ["finding", "finding"]
    assert {"decode", "encode", "findings", "compose", "narrate"} <= set(t1.timings)
    assert "估计" in t1.answer.text  # estimated spacing is always said
    assert eng.image_png(sid, tenant="t1").startswith(b"\x89PNG")


class WholeLogCountingStore(InMemorySessionStore):
    """The in-process store, counting the reads of a whole session (its log decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.whole_reads = 0

    def get(self, session_id: str) -> SessionState | None:
        self.whole_reads += 1
        return super().get(session_id)


def test_an_elliptical_follow_up_reads_the_last_turn_not_the_log() -> None:
    """"那右边那个呢" asks again what the previous turn asked: that turn's parse comes from one record,
    so the follow-up costs the same at turn 3 as at turn 300 (no whole-log read)."""
    store = WholeLogCountingStore()
    eng = DialogueEngine(SyntheticMapsEncoderDouble(), Settings(), store=store)  # type: ignore[arg-type]
    sid = eng.create_session(phantom_png(), filename="film.png", lang="zh", tenant="t1").session_id
    for _ in range(3):
        eng.ask(sid, "左下肺那个条索影边缘光滑吗?", tenant="t1")
    t = eng.ask(sid, "那右边那个呢", tenant="t1")
    assert t.intent == "describe_margin" and store.whole_reads == 0


def test_a_stored_record_holds_the_answer_bytes_and_reads_back_as_it_was(setup: Any) -> None:
    """The turn is serialised once (``Turn.json_bytes``): the REST answer's body and the record's turn
    are the same bytes, the record is the JSON of ``to_jsonable``, and it parses back."""
    eng, _, _, sid = setup
    eng.ask(sid, "这个结节距离右肺门有多远?", tenant="t1")
    for record in eng.store.get(sid).records():  # type: ignore[union-attr]
        line = record_bytes(record)
        assert json.loads(line) == json.loads(json.dumps(record.to_jsonable()))  # what the whole record would write
        assert TurnRecord.from_jsonable(json.loads(line)) == record
        # a narrator view not made (the composer's turns) is still stored with its three strings: a
        # replica of the previous version (reading d["prior"][...]) reads what this one wrote
        bare = dataclasses.replace(record, prior=None)
        stored = json.loads(record_bytes(bare))
        assert set(stored["prior"]) == {"question", "answer_text", "facts_json"}
        assert TurnRecord.from_jsonable(stored) == bare and bare.narrator_view == record.prior
        assert json.loads(record.turn.json_bytes) == record.turn.to_dict() and "右肺门" in line.decode()


def test_the_session_json_is_the_views_dict_with_each_turns_bytes(setup: Any) -> None:
    """``SessionView.json_bytes`` (the REST body of a session) says what ``to_dict`` says, valid under the
    REST ``Session`` model; a store's read takes the parsed records' parts (``owned``), a caller's dict is copied."""
    from orchestrator.api.protocol import Session
    from orchestrator.dialogue.turn import Turn

    eng, _, _, sid = setup
    eng.ask(sid, "这个结节距离右肺门有多远?", tenant="t1")
    view = eng.get_session(sid, tenant="t1")
    body = json.loads(view.json_bytes())
    assert body == json.loads(json.dumps(view.to_dict())) and len(body["turns"]) == 2
    assert Session.model_validate(body).session_id == sid
    d = json.loads(view.turns[1].json_bytes)
    assert Turn.from_dict(d, owned=True).anchors[0] is d["anchors"][0]
    assert Turn.from_dict(d).anchors[0] == d["anchors"][0] and Turn.from_dict(d).anchors[0] is not d["anchors"][0]


def test_follow_ups_never_encode_and_repeat_numbers(setup: Any) -> None:
    eng, enc, _, sid = setup
    a = eng.ask(sid, "这个结节距离右肺门有多远?", tenant="t1")
    b = eng.ask(sid, "这个结节距离右肺门有多远?", tenant="t1")
    assert enc.calls == 1
    assert a.measurements == b.measurements and a.measurements[0]["mm"] > 0
    assert re.findall(r"\d+\.\d", a.answer.text) == re.findall(r"\d+\.\d", b.answer.text)


def test_narration_request_and_fallback_recorded(setup: Any) -> None:
    eng, _, nar, sid = setup
    turn = eng.ask(sid, "How big is the right middle lobe nodule?", tenant="t1")
    req = nar.requests[-1]
    assert req.lang == "en" and req.session_id == sid
    assert req.image_facts_json == json.dumps(json.loads(req.image_facts_json), sort_keys=True,
                                              separators=(",", ":"), ensure_ascii=False)
    assert [p.question for p in req.prior_turns] == ["肺部是否有异常?"]
    assert req.turn_facts["intent"] == "size" and req.composer_text == turn.answer.text
    assert turn.narration.source == "composer" and turn.narration.fallback_reason == "deadline"


def test_ask_stream_yields_stages_text_and_turn(setup: Any) -> None:
    eng, enc, _, sid = setup
    events: list[AskEvent] = list(eng.ask_stream(sid, "Is it calcified? the right middle lobe nodule", tenant="t1"))
    kinds = [e.kind for e in events]
    assert kinds[0] == "stage" and kinds[-1] == "turn" and kinds.count("text") == 2
    turn = events[-1].turn
    assert turn is not None and "".join(e.text or "" for e in events if e.kind == "text") == turn.answer.text
    assert eng.get_session(sid, tenant="t1").turns[-1] == turn and enc.calls == 1


def test_errors(setup: Any) -> None:
    eng, _, _, sid = setup
    with pytest.raises(InvalidQuestionError):
        eng.ask(sid, "   ", tenant="t1")
    with pytest.raises(InvalidQuestionError):
        eng.ask(sid, "x" * 5000, tenant="t1")
    with pytest.raises(SessionNotFoundError):
        eng.ask("nope", "how big?", tenant="t1")
    with pytest.raises(SessionNotFoundError):  # another tenant's session is not confirmed to exist
        eng.ask(sid, "how big?", tenant="other")
    with pytest.raises(SessionNotFoundError):
        eng.report(sid, tenant="other")
    with pytest.raises(InvalidQuestionError):  # raised when called, before any event is streamed
        eng.ask_stream(sid, "", tenant="t1")
    with pytest.raises(SessionNotFoundError):
        eng.ask_stream("nope", "how big?", tenant="t1")
    assert len(eng.get_session(sid, tenant="t1").turns) == 1  # nothing lost


def test_report_and_close(setup: Any) -> None:
    eng, _, _, sid = setup
    eng.ask(sid, "右肺中叶那个圆形影,边缘是否规则?", tenant="t1")
    eng.ask(sid, "如果这是早期肺癌,典型X线表现应该有哪些?当前影像符合几条?", tenant="t1")
    rep = eng.report(sid, tenant="t1")
    assert rep["schema"] == "hilum-report/1" and len(rep["turns"]) == 3
    assert rep["checklists"][0]["name"] == "early_lung_cancer" and rep["frame"] == "nodule_analysis"
    # no DICOM spacing: scaled from the lung fields, taken as an adult's chest (the SR says so)
    assert rep["image"]["spacing_source"] == "estimated" and rep["image"]["assumed_chest_width_mm"] == 265.0
    json.dumps(rep)
    eng.close_session(sid, tenant="t1")
    with pytest.raises(SessionNotFoundError):
        eng.get_session(sid, tenant="t1")


def test_clarification_and_plain_none(setup: Any) -> None:
    eng, _, _, sid = setup
    t = eng.ask(sid, "这个病灶有多大?", tenant="t1")
    assert t.clarification is not None and {c["anchor_id"] for c in t.clarification["candidates"]} == {"A1", "A2"}
    assert t.referenced_anchor_ids == () and {a["id"] for a in t.anchors} == {"A1", "A2"}
    assert {o["anchor_id"] for o in t.overlays if o["type"] == "polygon"} == {"A1", "A2"}
    t = eng.ask(sid, "Is the margin of the nodule in the left upper lobe smooth?", tenant="t1")
    assert t.clarification is None and t.findings == () and "no lesion matching" in t.answer.text


class RecordingObserverDouble:
    def __init__(self) -> None:
        self.stages: list[str] = []
        self.turns: list[str] = []
        self.resolutions: list[str] = []
        self.errors: list[str] = []
        self.active: list[int] = []
        self.films: list[str] = []

    def film(self, outcome: str) -> None:
        self.films.append(outcome)

    def stage(self, stage: str, seconds: float) -> None:
        self.stages.append(stage)

    def turn(self, intent: str, seconds: float) -> None:
        self.turns.append(intent)

    def anchor_resolution(self, outcome: str) -> None:
        self.resolutions.append(outcome)

    def error(self, kind: str) -> None:
        self.errors.append(kind)

    def sessions_active(self, count: int) -> None:
        self.active.append(count)


def test_observer_sees_stages_turns_resolutions_and_errors() -> None:
    enc = SyntheticMapsEncoderDouble()
    obs = RecordingObserverDouble()
    eng = DialogueEngine(enc, Settings(), observer=obs)  # type: ignore[arg-type]
    sid = eng.create_session(png_bytes(enc), "film.png").session_id
    assert {"decode", "encode", "findings", "compose", "narrate"} <= set(obs.stages) and obs.active == [1]
    assert obs.films == ["read"]
    eng.ask(sid, "How big is it?")
    eng.ask(sid, "How big is the right middle lobe nodule?")
    assert obs.resolutions == ["ambiguous", "resolved"] and obs.turns == ["size", "size"]
    with pytest.raises(SessionNotFoundError):
        eng.ask("missing", "how big?")
    assert obs.errors == ["session_not_found"]
    eng.close_session(sid)
    assert obs.active[-1] == 0
    noise = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512), dtype=np.uint8)).save(noise, format="PNG")
    with pytest.raises(NotAChestFilmError):  # a film the gate refuses is counted as refused
        eng.create_session(noise.getvalue(), "noise.png")
    assert obs.films == ["read", "refused"]


def test_concurrent_asks_on_one_session_lose_no_turn(setup: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    eng, enc, _, sid = setup
    questions = ["How big is the right middle lobe nodule?", "Where is the strand at the left base?"] * 6
    with ThreadPoolExecutor(max_workers=6) as pool:
        turns = list(pool.map(lambda q: eng.ask(sid, q, tenant="t1"), questions))
    numbers = sorted(t.turn for t in turns)
    assert numbers == list(range(2, 14))
    assert len(eng.get_session(sid, tenant="t1").turns) == 13 and enc.calls == 1


def test_history_is_made_once_per_turn_and_loaded_only_for_a_narrator_that_reads_it(setup: Any) -> None:
    eng, _, nar, sid = setup
    questions = ["How big is the right middle lobe nodule?", "Is it calcified?", "How far is it from the right hilum?"]
    for q in questions:
        eng.ask(sid, q, tenant="t1")
    req = nar.requests[-1]
    assert [p.question for p in req.prior_turns] == ["肺部是否有异常?", *questions[:2]]
    turns = eng.get_session(sid, tenant="t1").turns
    assert [p.answer_text for p in req.prior_turns] == [t.answer.text for t in turns[:3]]
    state = eng.store.get(sid)
    assert state is not None and len(state.history) == len(state.turns) == 4  # one record per stored turn

    class PlainRecordingDouble(RecordingNarratorDouble):
        uses_history = False  # retells this turn only (as the composer does)

    plain = PlainRecordingDouble()
    eng2 = DialogueEngine(SyntheticMapsEncoderDouble(), Settings(), narrator=plain)  # type: ignore[arg-type]
    sid2 = eng2.create_session(phantom_png(), filename="film.png", lang="en").session_id
    eng2.ask(sid2, questions[0])
    assert plain.requests[-1].prior_turns == ()


def test_a_session_answers_at_most_max_turns_then_a_fork_goes_on() -> None:
    obs = RecordingObserverDouble()
    eng = DialogueEngine(SyntheticMapsEncoderDouble(), Settings(max_turns_per_session=3), observer=obs)  # type: ignore[arg-type]
    sid = eng.create_session(phantom_png(), filename="film.png", lang="en").session_id
    eng.ask(sid, "How big is the right middle lobe nodule?")
    eng.ask(sid, "Is it calcified?")
    for call in (lambda: eng.ask(sid, "How far is it from the right hilum?"),
                 lambda: list(eng.ask_stream(sid, "How far is it from the right hilum?"))):
        with pytest.raises(SessionFullError) as full:
            call()
        assert full.value.http_status == 409 and full.value.kind == "session_full"
    assert obs.errors.count("session_full") == 2
    assert len(eng.get_session(sid).turns) == 3  # nothing stored past the cap
    forked = eng.fork(sid, 3, "How far is it from the right hilum?")
    assert len(forked.turns) == 3 and forked.turns[-1].intent == "measure_relation"


def test_a_streamed_turn_is_parsed_and_composed_once(setup: Any) -> None:
    obs = RecordingObserverDouble()
    eng = DialogueEngine(SyntheticMapsEncoderDouble(), Settings(), observer=obs)  # type: ignore[arg-type]
    sid = eng.create_session(phantom_png(), filename="film.png", lang="en").session_id
    obs.stages.clear()
    events = list(eng.ask_stream(sid, "How big is the right middle lobe nodule?"))
    assert events[-1].turn is not None and events[-1].turn.turn == 2
    assert obs.stages.count("parse") == 1 and obs.stages.count("compose") == 1 and obs.turns == ["size"]


def test_a_streamed_turn_drafted_before_another_is_stored_is_composed_again_as_the_next(setup: Any) -> None:
    eng, _, _, sid = setup
    stream = eng.ask_stream(sid, "How big is the right middle lobe nodule?", tenant="t1")  # drafted as turn 2
    eng.ask(sid, "Is it calcified?", tenant="t1")  # stored as turn 2 first
    events = list(stream)
    assert events[-1].turn is not None and events[-1].turn.turn == 3
    assert [t.turn for t in eng.get_session(sid, tenant="t1").turns] == [1, 2, 3]


def test_the_heatmap_is_the_sessions_picture_not_part_of_any_answer(setup: Any) -> None:
    eng, _, _, sid = setup
    view = eng.get_session(sid, tenant="t1")
    png = eng.heatmap_png(sid, tenant="t1")
    assert png is not None and Image.open(io.BytesIO(png)).mode == "RGBA"
    heat = [o for o in view.turns[0].overlays if o["type"] == "heatmap"]
    assert len(heat) == 1 and heat[0]["resource"] == "heatmap.png" and "image" not in heat[0]
    assert "data:image" not in json.dumps(view.to_dict())
    bare = eng.start_session(eng.store.get(sid).facts, lang="en")  # type: ignore[union-attr]
    assert eng.heatmap_png(bare.session_id) is None
    assert not [o for o in bare.turns[0].overlays if o["type"] == "heatmap"]


def test_a_held_turn_is_a_record_not_an_object_graph_the_collector_scans() -> None:
    """Thousands of held turns as object graphs made the cyclic collector's full passes stall every
    request (1.7 s after 20,000 turns); the in-process store holds each turn as one JSON record."""
    import gc

    eng = DialogueEngine(SyntheticMapsEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.create_session(phantom_png(), filename="film.png", lang="en").session_id
    question = "How far is the right middle lobe nodule from the right hilum?"
    for _ in range(5):  # caches warm (the parser's, the composer's)
        eng.ask(sid, question)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(200):
        eng.ask(sid, question)
    gc.collect()
    assert len(gc.get_objects()) - before < 200 * 5  # a few tracked objects per turn, not hundreds
    assert len(eng.get_session(sid).turns) == 206  # and every turn is still there


class FactsOnlyEncoderDouble:
    """Stands in for the encoder of sessions started from hand-built facts: never called."""

    name = "facts-only-double"

    def encode(self, image: Any) -> Any:
        raise AssertionError("a session over facts never encodes")


def _ask_fresh(facts: Any, *questions: str) -> Any:
    eng = DialogueEngine(FactsOnlyEncoderDouble(), Settings())  # type: ignore[arg-type]
    sid = eng.start_session(facts, lang="en").session_id
    turn = None
    for q in questions:
        turn = eng.ask(sid, q)
    return turn


def _finding_ids(turn: Any) -> list[str]:
    return [a["id"] for a in turn.anchors if a["kind"] == "finding"]


def test_a_screening_question_for_a_kind_not_on_the_film_says_none_is_seen_or_that_it_is_not_read(make_facts: Any) -> None:
    t = _ask_fresh(make_facts(), "any ground-glass opacity?")  # the film has a solid nodule and a strand
    assert t.intent == "screen" and _finding_ids(t) == [] and t.findings == ()
    # Hilum does not read ground glass: never "none seen", the reason, and what the film shows
    assert "does not tell ground-glass opacity from solid" in t.answer.text and "A1 (" in t.answer.text
    assert "No ground-glass" not in t.answer.text
    t = _ask_fresh(make_facts(), "有磨玻璃影吗")
    assert _finding_ids(t) == [] and "未见磨玻璃" not in t.answer.text and "薄层CT" in t.answer.text
    t = _ask_fresh(make_facts(), "双肺有没有钙化结节")
    assert _finding_ids(t) == [] and "未见钙化结节" in t.answer.text
    t = _ask_fresh(make_facts(), "有没有看到实性小结节")  # a kind that is there: only those findings
    assert _finding_ids(t) == ["A1"]
    t = _ask_fresh(make_facts(), "右肺中叶那个圆形影,边缘是否规则?", "有没有空洞?")  # asked of the finding in focus
    assert t.intent == "density" and _finding_ids(t) == ["A1"]


def test_the_cavity_named_binds_the_lesion_that_holds_one_or_none(make_facts: Any) -> None:
    t = _ask_fresh(make_facts(), "how big is the cavity in the right lung")  # the right-lung nodule has none
    assert t.intent == "size" and _finding_ids(t) == [] and "no lesion matching" in t.answer.text
    base = make_facts()
    f1, f2 = base.findings
    hollow = dataclasses.replace(f1, density=dataclasses.replace(f1.density, cavity=True))
    t = _ask_fresh(dataclasses.replace(base, findings=(hollow, f2)), "how big is the cavity in the right lung")
    assert _finding_ids(t) == ["A1"]
    cavity = dataclasses.replace(f2, kind="cavity", density=dataclasses.replace(f2.density, cavity=True))
    t = _ask_fresh(dataclasses.replace(base, findings=(f1, cavity)), "空洞有多大")
    assert t.intent == "size" and _finding_ids(t) == ["A2"]


@pytest.mark.parametrize(("questions", "order"), [
    (("compare A2 and A1",), ["A2", "A1"]),
    (("compare A1 and A2",), ["A1", "A2"]),
    (("比较一下第二个和第一个病灶",), ["A2", "A1"]),
    (("左边的和右边的比起来哪个密度高",), ["A2", "A1"]),
    (("the strand vs the nodule, which is more worrying?",), ["A2", "A1"]),
    (("左下肺那个条索影边缘光滑吗?", "Is the other one more irregular than this one?"), ["A1", "A2"]),
    (("distance between lesion 2 and lesion 1, mm",), ["A2", "A1"]),
])
def test_findings_compared_are_listed_in_the_order_named(make_facts: Any, questions: tuple[str, ...],
                                                          order: list[str]) -> None:
    t = _ask_fresh(make_facts(), *questions)
    assert t.intent in ("compare", "measure_relation") and _finding_ids(t)[:2] == order


@pytest.mark.parametrize(("question", "counted"), [
    ("which one is bigger?", False), ("哪个更大", False), ("哪个离肺门更近", False), ("which one lies higher?", False),
    ("which one is more suspicious?", True), ("哪个更可疑?", True), ("which is more worrying?", True),
    ("compare A1 and A2", False), ("比较一下两个病灶", False), ("which side is worse?", False), ("哪侧更严重", False),
])
def test_a_comparison_counts_lung_cancer_signs_only_where_concern_or_the_whole_is_asked(
        make_facts: Any, question: str, counted: bool) -> None:
    """A child's pneumonia film, read alone, asked "A1和A2哪个大", was told "早期肺癌典型X线表现(可判定者):A2符合3/4条":
    a lung-cancer sign count nobody asked for. One thing asked of two findings gets that thing compared; which is of
    more concern keeps the count; the two compared whole, or the lungs graded, count only a checklist the dialogue
    asked about (tests/orchestrator/dialogue/test_comparisons.py)."""
    text = _ask_fresh(make_facts(), question).answer.text
    assert _ask_fresh(make_facts(), question).intent == "compare"
    assert (("Typical signs of early lung cancer" in text) or ("早期肺癌典型X线表现" in text)) is counted
    assert "A1" in text and "A2" in text


@pytest.mark.parametrize(("question", "said"), [
    ("where are the hila?", ["A3 (right hilum, marked on the film) lies about 3.5 cm to the patient's right of the middle "
                             "between the two hila, in the middle third of the lung fields' height.",
                             "A4 (left hilum, marked on the film) lies about 3.5 cm to the patient's left"]),
    ("肺门在哪", ["A3(右肺门,已标在片上)位于两侧肺门之间的中线右侧约3.5 cm、肺野高度的中1/3。", "A4(左肺门,已标在片上)位于"]),
    ("where is the costophrenic angle?", ["(right costophrenic angle, marked on the film) lies about 12.2 cm to the "
                                         "patient's right", "(left costophrenic angle, marked on the film) lies"]),
    ("where is the trachea?", ["No position for the trachea was established on this film."]),
])
def test_where_a_structure_is_never_answers_nothing(make_facts: Any, question: str, said: list[str]) -> None:
    """"肺门在哪" on a real film, and "where are the hila?", got an empty answer: a structure of two sides named with
    neither side resolved to no anchor. Both sides are placed; a structure this film's maps place nowhere is said so.
    Where each lies is said in words, never as bare pixel coordinates ("A3 (right hilum) is at image position (205,
    230)" told a reader nothing)."""
    turn = _ask_fresh(make_facts(), question)
    assert turn.intent == "locate" and turn.answer.text.strip()
    assert all(s in turn.answer.text for s in said)
    assert "image position" not in turn.answer.text and "图像坐标" not in turn.answer.text
    assert not re.search(r"\(\d+, \d+\)", turn.answer.text)


# the SCENARIO's hila lie at (205, 230) and (305, 232): 100.0 x 2.0 px at 0.7 mm a pixel, 70.0 mm apart
_HILA_APART_EN = "A1 (right hilum) and A2 (left hilum) are about 7.0 cm (70.0 mm) apart, centre to centre, using "
_HILA_APART_ZH = "A1(右肺门)与A2(左肺门)中心之间的距离约7.0 cm(70.0 mm,按"


@pytest.mark.parametrize(("question", "said"), [
    ("how far is the right hilum from the left hilum?", _HILA_APART_EN), ("how far apart are the hila?", _HILA_APART_EN),
    ("distance between A1 and A2", _HILA_APART_EN), ("两侧肺门相距多少?", _HILA_APART_ZH),
    ("右肺门离左肺门多远", _HILA_APART_ZH),
])
def test_the_hila_apart_on_a_film_with_no_lesion_is_their_distance(make_facts: Any, question: str, said: str) -> None:
    """"How far is the right hilum from the left hilum?" on a real child's film with no lesion found was told "No lesion
    was found on this film, so there is nothing to describe": the session's two hila anchors and the film's spacing
    answer it, centre to centre."""
    turn = _ask_fresh(dataclasses.replace(make_facts(), findings=()), question)
    assert turn.intent == "measure_relation" and turn.answer.text.startswith(said)
    assert "DICOM" in turn.answer.text and "No lesion" not in turn.answer.text
    assert [(m["from"], m["to"], m["mm"], m["spacing_source"]) for m in turn.measurements] == [("A1", "A2", 70.0, "dicom")]
    assert turn.referenced_anchor_ids[:2] == ("A1", "A2")


def test_the_hila_apart_say_an_estimated_spacing_a_film_read_alone_and_a_hilum_not_placed(make_facts: Any) -> None:
    """As every measurement says: an estimated spacing is said to be estimated, and on a film the second reader read
    alone the hila's positions are its estimates, as "where is the right hilum?" says of one."""
    from orchestrator.encoders.second_reader import WARNING as READ_ALONE

    empty = dataclasses.replace(make_facts(source="estimated"), findings=())
    text = _ask_fresh(empty, "how far apart are the hila?").answer.text
    assert "using an estimated pixel spacing" in text and "this film carries no DICOM pixel spacing" in text
    assert "second reader alone" not in text
    alone = dataclasses.replace(empty, film_check=dataclasses.replace(empty.film_check, warnings=(READ_ALONE,)))
    assert ("This film was read by the second reader alone: each position is its estimate and needs a radiologist's "
            "check.") in _ask_fresh(alone, "how far apart are the hila?").answer.text
    zh = _ask_fresh(alone, "两侧肺门相距多少?").answer.text
    assert all(s in zh for s in ("按估计的像素间距换算", "本片无DICOM像素间距", "本片由第二读片模型单独读取,以上位置为其估计"))
    anatomy = empty.anatomy
    one = dataclasses.replace(empty, anatomy=dataclasses.replace(
        anatomy, hilum_px={"right": anatomy.hilum_px["right"]},
        regions=tuple(r for r in anatomy.regions if r.name != "hilum_left")))
    assert _ask_fresh(one, "how far apart are the hila?").answer.text == "Both hila could not be placed on this film."


def test_a_lesions_distance_to_the_hilum_is_still_the_lesions(make_facts: Any) -> None:
    """With lesions found, a lesion's distance to a hilum is the lesion's, as before; the hila apart are the hila's
    (it asked "which one do you mean?" of the two lesions)."""
    turn = _ask_fresh(make_facts(), "how far is the nodule from the right hilum?")
    assert turn.answer.text.startswith("A1's centre is about 5.0 cm (50.1 mm) from the right hilum (A3)")
    zh = _ask_fresh(make_facts(), "结节离右肺门多远")
    assert zh.answer.text.startswith("A1中心至右肺门(A3)的距离约5.0 cm(50.1 mm")
    assert not parse("how far is it from both hila?").hila_apart and not parse("离左肺门多远").hila_apart
    hila = _ask_fresh(make_facts(), "how far apart are the hila?")
    assert hila.answer.text.startswith("A3 (right hilum) and A4 (left hilum) are about 7.0 cm (70.0 mm) apart")
    assert not hila.findings and "A1" not in hila.answer.text


@pytest.mark.parametrize(("question", "lang", "intent", "said"), [
    ("is A2 a real lesion?", "en", "confidence", "that it is a real lesion, about 0.70 (hedged)"),
    ("A2是真的病灶吗", "zh", "confidence", "是真实病灶约0.70(措辞保留)"),
    ("why is A2 only possible?", "en", "confidence", "that it is a real lesion, about 0.70 (hedged)"),
    ("is it PA?", "en", "film_info", "PA (posteroanterior, as the file says)"),
    ("片子有旋转吗", "zh", "film_info", "Hilum 不评价投照质量(患者体位旋转"),
    ("一共几个", "zh", "screen", "共发现2处候选病灶"),
    ("bye", "en", "out_of_scope", "Goodbye."), ("再见", "zh", "out_of_scope", "再见。"),
])
def test_what_a_radiologists_probe_asked_is_answered(make_facts: Any, question: str, lang: str, intent: str,
                                                      said: str) -> None:
    """A probe of one session's questions in each language: "is A2 a real lesion?" was answered with where A2 lies
    ("A2是真的病灶吗" with the whole screening), "why is A2 only possible?" with its place, "is it PA?" with "which one
    do you mean?", "片子有旋转吗" with the screening, "一共几个" and "bye" / "再见" with "outside what a chest radiograph
    can show"."""
    eng = DialogueEngine(FactsOnlyEncoderDouble(), Settings())  # type: ignore[arg-type]
    turn = eng.ask(eng.start_session(make_facts(), lang=lang).session_id, question)
    assert turn.intent == intent and said in turn.answer.text
    assert "outside what a chest radiograph" not in turn.answer.text and "超出了一张胸部X线片" not in turn.answer.text


@pytest.mark.parametrize(("questions", "said"), [
    (("where is A1?", "is it in the upper lobe?"), "You asked about an upper lobe; A1 projects over the right middle lobe."),
    (("A1在哪", "它在上叶吗"), "您问的是上叶;A1投影于右肺中叶。"),
])
def test_a_lobe_level_asked_of_a_finding_elsewhere_says_it_is_not_there(make_facts: Any, questions: tuple[str, ...],
                                                                         said: str) -> None:
    """"Is it in the upper lobe?" of the middle-lobe nodule answered where A1 lies with no word that it was not in an
    upper lobe, as "is it in the left lung?" and "is it in the RUL?" say."""
    turn = _ask_fresh(make_facts(), *questions)
    assert turn.intent == "locate" and turn.answer.text.startswith(said)
    assert "You asked about" not in _ask_fresh(make_facts(), "where is A2?", "is it in the lower lobe?").answer.text


def test_closer_to_one_landmark_or_another_measures_both(make_facts: Any) -> None:
    """"Is A1 closer to the heart or to the pleura?" was answered with A1's place ("A1离心脏近还是离胸膜近" with its
    distance to the pleura alone): each distance is measured, then the nearer is said."""
    turn = _ask_fresh(make_facts(), "is A1 closer to the pleura or the diaphragm?")
    assert turn.intent == "measure_relation" and turn.answer.text.startswith("A1 is closer to the pleura.")
    assert [m["to"] for m in turn.measurements] == ["pleura", "diaphragm"]
    assert "14.0 mm from the pleura" in turn.answer.text and "60.0 mm from the diaphragm" in turn.answer.text
    heart = _ask_fresh(make_facts(), "A1离心脏近还是离胸膜近")  # these facts draw no heart outline: said, not guessed
    assert "A1边缘距胸膜约14.0 mm" in heart.answer.text and "本片未能勾画出心影的轮廓" in heart.answer.text
    assert "较近" not in heart.answer.text


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("should I worry?", "en", "Hilum does not judge how serious or urgent a film is"),
    ("要紧吗", "zh", "Hilum 不判断片子是否严重或紧急"), ("严重吗", "zh", "Hilum 不判断片子是否严重或紧急"),
])
def test_how_serious_the_film_is_is_not_judged_and_what_can_be_asked_is_said(
        make_facts: Any, question: str, lang: str, said: str) -> None:
    """"Should I worry?" / "要紧吗" were told "outside what a chest radiograph can show (treatment, prognosis, lab
    values or other modalities)": a template for another question. A worry about another organ or a symptom
    ("甲状腺结节要紧吗", "他咳嗽严重吗") stays out of scope."""
    eng = DialogueEngine(FactsOnlyEncoderDouble(), Settings())  # type: ignore[arg-type]
    turn = eng.ask(eng.start_session(make_facts(), lang=lang).session_id, question)
    assert turn.intent == "out_of_scope" and turn.answer.text.startswith(said)
    assert ("A1" in turn.answer.text) and ("A2" in turn.answer.text)
    for other in ("甲状腺结节要紧吗", "他咳嗽严重吗"):
        assert not parse(other).worry_asked


@pytest.mark.parametrize("question", ["tell me about the first one", "第一个详细说说", "tell me about A2"])
def test_a_finding_named_and_described_is_described_whole(make_facts: Any, question: str) -> None:
    """"Tell me about the first one" / "第一个详细说说" got only where it lies; "describe A1" got it whole."""
    turn = _ask_fresh(make_facts(), question)
    assert turn.intent == "describe_margin" and [s["kind"] for s in turn.answer.sections][:2] == ["location", "size"]


@pytest.mark.parametrize(("question", "said"), [
    ("compare the two hila", "The two hila lie at about the same height"),
    ("compare the left and right hila", "The two hila lie at about the same height"),
    ("what's the left angle in degrees?", "The left costophrenic angle is sharp (about 38°)."),
    ("what's the left costophrenic angle?", "The left costophrenic angle is sharp (about 38°)."),
    ("左肋膈角是什么?", "左肋膈角锐利(角度约38°)。"),
    ("what language do you speak?", "Hilum answers in English and in Chinese (中文)"),
    ("你会说什么语言?", "Hilum 用中文和英文回答"),
    ("which hilum is higher?", "The two hila lie at about the same height"),
    ("两侧肺门比较一下", "两侧肺门高度相近"), ("哪侧肺门高", "两侧肺门高度相近"),
    ("is the aorta calcified?", "Aortic atheromatosis: Hilum does not read this sign."),
    ("主动脉钙化吗", "主动脉粥样硬化:本系统不判读此征象。"),
])
def test_the_hila_compared_and_the_aorta_asked_are_not_the_findings(make_facts: Any, question: str, said: str) -> None:
    """"Compare the two hila" / "which hilum is higher?" / "两侧肺门比较一下" compared A1 with A2, and "is the aorta
    calcified?" / "主动脉钙化吗" answered A1's calcification; "what's the left angle in degrees?" located A2, "what's
    the left costophrenic angle?" defined the term (a definition names no side), and "what language do you speak?" was
    "outside what a chest radiograph can show"."""
    turn = _ask_fresh(make_facts(), question)
    assert turn.answer.text.startswith(said) and "A1" not in turn.answer.text


@pytest.mark.parametrize(("questions", "intent", "said"), [
    (("how big is A1?", "repeat that"), "size", "A1: equivalent diameter 12.0 mm"),
    (("A1边缘光滑吗", "再说一遍"), "describe_margin", "A1边缘不规则,呈毛刺状"),
    (("how big is A1?", "再说一遍"), "size", "A1等效直径12.0 mm"),  # in the language it is asked in
])
def test_repeat_that_answers_the_previous_question_again(make_facts: Any, questions: tuple[str, ...], intent: str,
                                                         said: str) -> None:
    """"Repeat that" asked back "which one do you mean?" and "再说一遍" was "outside what a chest radiograph can show"."""
    turn = _ask_fresh(make_facts(), *questions)
    assert turn.intent == intent and turn.answer.text.startswith(said)


@pytest.mark.parametrize("questions", [("A1在哪", "这是什么"), ("A1在哪", "这叫什么"), ("这叫什么",)])
def test_what_this_is_called_is_the_screening_without_a_diagnosis(make_facts: Any, questions: tuple[str, ...]) -> None:
    """With a finding in focus, "这是什么" was "no such term" and "这叫什么" "outside what a chest radiograph can show";
    as "那这个到底是什么?" is (a dev set's label), what the film shows, with no diagnosis given."""
    turn = _ask_fresh(make_facts(), *questions)
    assert turn.intent == "screen" and turn.answer.text.startswith("Hilum辅助阅片者,不做诊断")


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is the nodule big?", "en", "A1: equivalent diameter 12.0 mm"),  # its margin before
    ("is A1 large?", "en", "A1: equivalent diameter 12.0 mm"),  # its place before
    ("is the strand thick?", "en", "A2: about 25.0 × 18.0 mm (longest × shortest)"),
    ("结节大吗", "zh", "A1等效直径12.0 mm"),
    ("条索影粗吗", "zh", "A2约25.0 × 18.0 mm"),
])
def test_a_size_asked_as_yes_or_no_gives_the_size(make_facts: Any, question: str, lang: str, said: str) -> None:
    """"Is the nodule big?" answered its margin, "is A1 large?" and "条索影粗吗" where it lies."""
    eng = DialogueEngine(FactsOnlyEncoderDouble(), Settings())  # type: ignore[arg-type]
    turn = eng.ask(eng.start_session(make_facts(), lang=lang).session_id, question)
    assert turn.intent == "size" and turn.answer.text.startswith(said)
    # a structure's size ("心影大吗") is still its sign, and two findings' sizes still compared
    assert parse("心影大吗").intent == "assess_anatomy" and parse("A1和A2哪个大").intent == "compare"
    assert parse("is the big one calcified?").intent == "density"


@pytest.mark.parametrize(("question", "lang"), [("how long are the spicules?", "en"), ("where are the notches?", "en"),
                                                ("毛刺多长", "zh")])
def test_the_spicules_measured_are_the_findings_that_has_them(make_facts: Any, question: str, lang: str) -> None:
    """"How long are the spicules?" with nothing in focus asked "which one do you mean — A1 or A2?", where only A1's margin
    has spicules and notches; whether a finding has them ("有没有分叶或者毛刺?") still asks which is meant."""
    eng = DialogueEngine(FactsOnlyEncoderDouble(), Settings())  # type: ignore[arg-type]
    turn = eng.ask(eng.start_session(make_facts(), lang=lang).session_id, question)
    assert turn.intent == "describe_margin" and turn.clarification is None and turn.referenced_anchor_ids == ("A1",)
    asked_whether = eng.ask(eng.start_session(make_facts(), lang="zh").session_id, "有没有分叶或者毛刺?")
    assert asked_whether.clarification is not None


@pytest.mark.parametrize(("questions", "lang", "intent", "said"), [
    # the finding's size before, whatever was asked
    (("how far is A1 from the right hilum?", "in mm?"), "en", "measure_relation", "A1's centre is about 5.0 cm (50.1 mm)"),
    # ... in inches too (it had said the answer again in mm and cm only)
    (("how far is A1 from the right hilum?", "and in inches?"), "en", "measure_relation",
     "In inches (1 in = 25.4 mm): A1 to the right hilum (A3) about 1.97 in (50.1 mm)"),
    (("A1离右肺门多远", "换算成毫米呢"), "zh", "measure_relation", "A1中心至右肺门(A3)的距离约5.0 cm(50.1 mm"),
    # answered in English: an anchor id is no English word
    (("A1离右肺门多远", "A2呢"), "zh", "measure_relation", "A2中心至右肺门(A3)的距离约"),
])
def test_a_unit_asked_says_the_last_answer_again(make_facts: Any, questions: tuple[str, ...], lang: str, intent: str,
                                                 said: str) -> None:
    """"In mm?" after a distance answered the finding's size; "A2呢" was answered in English."""
    turn = _ask_fresh(make_facts(), *questions)
    assert turn.intent == intent and turn.lang == lang and turn.answer.text.startswith(said)
    assert parse("A2呢").lang == "zh" and parse("is A1 bigger than A2?").lang == "en"


@pytest.mark.parametrize(("question", "lang"), [("is it serious?", "en"), ("how urgent is this?", "en"),
                                                ("是不是很严重", "zh")])
def test_how_serious_with_no_finding_named_is_not_judged(make_facts: Any, question: str, lang: str) -> None:
    """"Is it serious?" / "how urgent is this?" asked back which finding was meant, "是不是很严重" counted a finding's
    lung-cancer signs: with no finding named they ask what "should I worry?" does."""
    turn = _ask_fresh(make_facts(), question)
    assert turn.intent == "out_of_scope"
    assert turn.answer.text.startswith(("Hilum does not judge how serious or urgent a film is", "Hilum 不判断片子是否严重或紧急"))
    assert parse("is the nodule serious?").intent == "sign_checklist"  # of a finding named: its checklist


@pytest.mark.parametrize(("question", "lang", "said"), [
    ("is the nodule benign or malignant?", "en", "Early lung cancer (malignant solitary nodule): 3 of the 5 decidable"),
    ("结节是良性还是恶性", "zh", "早期肺癌(恶性孤立性结节):可判定的5条中符合3条"),
])
def test_benign_or_malignant_checks_both_side_by_side(make_facts: Any, question: str, lang: str, said: str) -> None:
    """"Benign or malignant?" got the benign-nodule checklist alone (the first named): both are checked, unweighed."""
    turn = _ask_fresh(make_facts(), question)
    assert turn.intent == "sign_checklist" and said in turn.answer.text
    assert ("Benign nodule: 1 of the 4" in turn.answer.text) or ("良性结节:可判定的4条中符合1条" in turn.answer.text)
    assert parse("is the nodule malignant?").checklist == "early_lung_cancer"  # one asked: that one
