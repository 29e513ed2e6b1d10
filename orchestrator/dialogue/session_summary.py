"""What a session has stated so far, for "summarise the session" / "write the report" / "总结一下".

A summary asked for after the screening turn repeats the findings (the screening's summary line) and adds what
earlier turns of this session worked out: the measurements they stated (a centre-to-hilum distance, a gap, a size
with its axes, an effusion's height) and the sign checklists they counted, each as its turn stated it. They are read
from the session's turn records (``Turn.measurements``, ``Turn.checklist``), one row per measurement as the report
counts them (``report.measurement_key``), never measured again, and are said to be observations, not a diagnosis.
The comparison with an earlier film is not repeated here: the summary's screening states it whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from orchestrator.dialogue.composer import LANDMARK_NAMES, Composition, Context, section
from orchestrator.dialogue.report import measurement_key
from orchestrator.dialogue.turn import Turn
from orchestrator.dialogue.words import mm, word

SECTION = "session_summary"
# measurement rows a summary does not restate: the comparison with an earlier film (its screening states it)
_NOT_RESTATED = frozenset({"interval_change"})


def summary_asked_later(ctx: Context) -> bool:
    """A summary asked for after the screening turn, of the whole film (not "summarise the right lung")."""
    q = ctx.query
    return q.intent == "screen" and q.summary_asked and ctx.turn > 1 and not (
        q.has_location or q.kinds or q.anatomy or q.anchor_ids)


def stated_measurements(turns: Iterable[Turn]) -> list[tuple[int, dict[str, Any]]]:
    """(turn, row) for each measurement the turns stated, the first turn that stated it; interval rows left out."""
    out: list[tuple[int, dict[str, Any]]] = []
    seen: set[tuple[Any, ...]] = set()
    for t in turns:
        for m in t.measurements:
            key = measurement_key(m)
            if m.get("kind") in _NOT_RESTATED or m.get("mm") is None or key in seen:
                continue
            seen.add(key)
            out.append((t.turn, m))
    return out


def stated_checklists(turns: Iterable[Turn]) -> list[tuple[int, dict[str, Any]]]:
    """(turn, checklist) for each checklist the turns counted, per checklist and finding: the latest count."""
    latest: dict[tuple[Any, Any], tuple[int, dict[str, Any]]] = {}
    for t in turns:
        if t.checklist and t.checklist.get("name"):
            latest[(t.checklist["name"], t.checklist.get("subject_anchor_id"))] = (t.turn, t.checklist)
    return sorted(latest.values(), key=lambda item: item[0])


def _anchor_name(ctx: Context, anchor_id: Any) -> str:
    """"A3 (right hilum)" for an anatomy anchor, "A1" for a finding, a landmark's name for one measured to."""
    a = ctx.registry.get(str(anchor_id)) if anchor_id else None
    if a is not None:
        if a.kind in ("anatomy", "point"):
            return f"{a.id}({a.label_zh})" if ctx.zh else f"{a.id} ({a.label_en})"
        return a.id
    names = LANDMARK_NAMES.get(str(anchor_id))
    if names is not None:
        return names[0] if ctx.zh else f"the {names[1]}"
    return word("anatomy", str(anchor_id), ctx.lang)


def _measurement_line(ctx: Context, m: dict[str, Any]) -> str | None:
    kind, value = m.get("kind"), m.get("mm")
    if kind == "diameter":
        axes = m.get("size_kind") == "axes" and m.get("size_mm")
        size = " × ".join(mm(float(v)) for v in m["size_mm"]) if axes else mm(float(value))
        return ctx.t(f"{m.get('of')}大小约{size} mm", f"{m.get('of')}: size about {size} mm")
    if kind == "gap":  # a lesion's edge to the nearest hilar structure
        a, b = _anchor_name(ctx, m.get("from")), _anchor_name(ctx, m.get("to"))
        return ctx.t(f"{a}边缘至{b}最近的肺门结构约{mm(float(value))} mm",
                     f"{a}'s edge to the nearest hilar structure of {b}: about {mm(float(value))} mm")
    if kind == "distance":  # centre to an anchor's centre; edge to a landmark (the pleura, the diaphragm, the heart)
        a, b = _anchor_name(ctx, m.get("from")), _anchor_name(ctx, m.get("to"))
        centre = ctx.registry.get(str(m.get("to"))) is not None
        return ctx.t(f"{a}{'中心' if centre else '边缘'}至{b}约{mm(float(value))} mm",
                     f"{a}'s {'centre' if centre else 'edge'} to {b}: about {mm(float(value))} mm")
    if kind == "effusion_height":
        return ctx.t(f"{m.get('of')}积液高度约{mm(float(value))} mm", f"{m.get('of')}: fluid height about {mm(float(value))} mm")
    return None


def _checklist_line(ctx: Context, card: dict[str, Any]) -> str:
    checklist = ctx.ontology.checklist(str(card["name"]))
    title = checklist.title(ctx.lang) if checklist is not None else str(card.get("title") or card["name"])
    subject = card.get("subject_anchor_id")
    matched, total = int(card.get("matched") or 0), int(card.get("total") or 0)
    undecided = int(card.get("uncertain") or 0)
    of = ctx.t(f"({subject})" if subject else "", f" against {subject}" if subject else "")
    rest = ctx.t(f",{undecided}项本片无法判定" if undecided else "",
                 f"; {undecided} could not be decided on the film" if undecided else "")
    return ctx.t(f"{title}的典型征象{of}:可判定的{total}项中符合{matched}项{rest}",
                 f"the typical signs of {title}{of}: {matched} of the {total} decidable signs present{rest}")


def session_section(ctx: Context, turns: tuple[Turn, ...]) -> dict[str, Any] | None:
    """What the earlier turns stated (measurements, checklist counts), each with its turn; None when they stated none."""
    lines = [(t, line) for t, m in stated_measurements(turns) if (line := _measurement_line(ctx, m))]
    lines += [(t, _checklist_line(ctx, card)) for t, card in stated_checklists(turns)]
    if not lines:
        return None
    items = [ctx.t(f"{line}(第{t}轮)", f"{line} (turn {t})") for t, line in lines]
    text = ctx.t("本次会话中已给出的测量与征象核对(影像所见,非诊断):" + ";".join(items) + "。",
                 "Stated earlier in this session (image observations, not a diagnosis): " + "; ".join(items) + ".")
    return section(SECTION, ctx.t("本次会话所见", "This session so far"), text)


def with_session(ctx: Context, composition: Composition, turns: tuple[Turn, ...]) -> Composition:
    """A later summary's answer with what the session stated after its summary line, and those measurements as its own
    rows (the report and the page count each once)."""
    if not summary_asked_later(ctx):
        return composition
    extra = session_section(ctx, turns)
    if extra is None:
        return composition
    sections = list(composition.sections)
    at = next((i + 1 for i, s in enumerate(sections) if s.get("kind") == "summary"), 0)
    sections.insert(at, extra)
    rows = list(composition.measurements)
    keys = {measurement_key(r) for r in rows}
    rows += [m for _, m in stated_measurements(turns) if measurement_key(m) not in keys]
    return dataclasses.replace(composition, sections=tuple(sections), measurements=tuple(rows))
