"""The structured session report: the film, the anchors, every turn's question and answer, and a
summary of the findings, measurements and checklists established over the session, and the comparison with an
earlier film where one was uploaded with it."""

from __future__ import annotations

from typing import Any

from orchestrator.dialogue.composer import finding_dict
from orchestrator.dialogue.session import SessionState, frame_to_jsonable
from orchestrator.dialogue.turn import Turn
from orchestrator.facts import to_jsonable
from orchestrator.findings.spacing import assumed_width_mm

REPORT_SCHEMA = "hilum-report/1"


def build_report(state: SessionState, turns: tuple[Turn, ...] | None = None, lang: str | None = None) -> dict[str, Any]:
    """``turns`` and ``lang``: the session's turns composed again in one language (``DialogueEngine.report``); by
    default the turns as answered, and the session's language."""
    lang = lang or state.lang
    facts = state.facts
    answered = turns if turns is not None else tuple(state.turns)
    findings = []
    for f in facts.findings:
        a = state.registry.for_finding(f.id)
        findings.append(finding_dict(f, a.id if a else ""))
    measurements: list[dict[str, Any]] = []
    checklists: list[dict[str, Any]] = []
    turn_list: list[dict[str, Any]] = []
    for i, t in enumerate(answered):
        question = state.questions[i] if i < len(state.questions) else ""
        turn_list.append({"turn": t.turn, "question": question, "intent": t.intent, "lang": t.lang,
                      "answer": t.answer.text, "sections": [dict(s) for s in t.answer.sections],
                      "referenced_anchor_ids": list(t.referenced_anchor_ids),
                      "clarification": t.clarification})
        for m in t.measurements:
            _add_measurement(measurements, m)
        if t.checklist and all(c["name"] != t.checklist["name"] for c in checklists):
            checklists.append({**t.checklist, "lang": t.lang})  # its labels and evidence are in the turn's language
    frames = [s.get("frame") for s in (answered[0].answer.sections if answered else ()) if s.get("frame")]
    return {
        "schema": REPORT_SCHEMA,
        "session_id": state.session_id,
        "lang": lang,
        "image": {
            "size": list(facts.image_size),
            "pixel_spacing_mm": [facts.spacing.row_mm, facts.spacing.col_mm],
            "spacing_source": facts.spacing.source,
            # an estimate scaled from the lung fields: the chest width it took (an adult's), else None
            "assumed_chest_width_mm": assumed_width_mm(facts.spacing),
            # how the working image (every *_px above and below) was made from the original film: original = working
            # x scale - pad (None: an older session, or one made from facts)
            "frame": frame_to_jsonable(state.frame),
        },
        "frame": frames[0] if frames else None,
        "anchors": [a.to_dict(lang) for a in state.registry.anchors],
        "findings": findings,
        # dense objects the findings layer set aside (orchestrator/findings/external_objects.py): where, never what
        "objects_set_aside": [to_jsonable(o) for o in facts.objects],
        "measurements": measurements,
        "checklists": checklists,
        "checked": list(facts.checked),
        # an earlier film uploaded with this one: the comparison the screening turn states (None: none)
        "comparison": state.interval.to_dict() if state.interval is not None else None,
        "turns": turn_list,
        "disclaimer": "影像征象描述,不构成诊断。" if lang == "zh" else "Image observations, not a diagnosis.",
    }


def measurement_key(m: dict[str, Any]) -> tuple[Any, ...]:
    """What a measurement is of, whatever else a turn adds to it: the key the page's table counts one row by
    (``uniqueMeasurements`` in ``orchestrator/web/app.js``)."""
    return m.get("kind"), m.get("from") or m.get("of"), m.get("to"), m.get("earlier_finding_id"), m.get("mm")


def _add_measurement(measurements: list[dict[str, Any]], m: dict[str, Any]) -> None:
    """One row per measurement: one measured again by another turn (a checklist's centre-to-hilum, then "how far is it
    from the hilum?") is the same row, with what the later turn adds (its points, its relation anchor)."""
    same = next((r for r in measurements if measurement_key(r) == measurement_key(m)), None)
    if same is None:
        measurements.append(dict(m))
    else:
        same.update({k: v for k, v in m.items() if k not in same})
