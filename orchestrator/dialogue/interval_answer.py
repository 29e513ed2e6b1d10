"""What the answers say of an earlier film compared with this one (``orchestrator.findings.interval``).

One section, ``interval``, in the screening turn of a session made with an earlier film and in the answer to
"has it grown?" / "和以前比有变化吗" (intent ``interval_change``), with one measurement row per finding compared
(``kind: "interval_change"``). Sizes are the two films' own measurements, a change is called only past what one
measurement can be off by, a doubling time is said to be a sphere's at a steady rate, and nothing is a diagnosis.
"""

from __future__ import annotations

from typing import Any

from orchestrator.dialogue.anchors import Anchor, Registry
from orchestrator.dialogue.words import pleural_space, r1, word
from orchestrator.findings.interval import (
    CHANGE_MM,
    CHANGE_SHARE,
    SIZE_ERROR,
    FindingChange,
    IntervalComparison,
)

INTENT = "interval_change"


def _anchor_of(registry: Registry, finding_id: str | None) -> Anchor | None:
    return next((a for a in registry.findings() if finding_id and a.finding_id == finding_id), None)


def _what(c: FindingChange, lang: str) -> str:
    kind, lobe = word("kind", c.kind, lang), word("lobe", c.lobe, lang)
    if c.kind == "effusion":  # pleural fluid: its side's pleural space, never a lobe
        place = pleural_space(c.side, lang)
        return f"{place}{kind}" if lang == "zh" else f"the {kind} in the {place}"
    return f"{lobe}{kind}" if lang == "zh" else f"the {kind} in the {lobe}"


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


# the statuses that measure one size against the other (a change called, or none)
MEASURED = frozenset({"larger", "smaller", "no_measurable_change"})


def change_measured(c: FindingChange) -> bool:
    """Whether the pair's change is a measurement to state: both readings sized as round lesions, and the earlier one
    more than a "possibly" (a size change from a reading that may be no lesion at all is no number to give)."""
    return c.status in MEASURED and not c.earlier_uncertain


def _from_a_possible_reading(name: str, c: FindingChange, zh: bool) -> str:
    """Seen now; the earlier film only possibly shows a lesion at its place: neither a change in mm and % nor "no
    change" is stated from that reading, and what would settle it is said."""
    if zh:
        return (f"{name}:本片可见(约{c.now_mm} mm);以前的片子上该处仅可能为病灶,因此是否增大、增大多少无法由这两张片子测量"
                "(由阅片者对照两张片子,或CT可明确)。")
    return (f"{name}: seen on this film ({c.now_mm} mm); at its place the earlier film only possibly shows a lesion, so "
            "whether it has grown, and by how much, cannot be measured from these films (a reader comparing the two "
            "films, or CT, would settle it).")


def _line(c: FindingChange, a: Anchor | None, zh: bool) -> str:
    lang = "zh" if zh else "en"
    name = (f"{a.id}({_what(c, lang)})" if zh else f"{a.id} ({_what(c, lang)})") if a is not None else _what(c, lang)
    now, then = c.now_mm, c.then_mm
    if c.status == "new":
        return (f"{name}:以前的片子上未见(现约{now} mm;以前若较小或较淡可能未被发现,请在以前的片子上对照该处)。" if zh
                else f"{name}: not found on the earlier film ({now} mm now; a smaller or fainter lesion there may "
                     "not have been found: look at that place on the earlier film).")
    if c.status == "not_seen_now":  # its zone too: one of its lobe may still be there
        zone = word("zone", c.zone, lang) if c.zone else ""
        # "not found" is this film's reading, which can miss a lesion too: never "resolved"
        if zh:
            return (f"以前的片子上{_what(c, lang)}({zone + '、' if zone else ''}约{then} mm)本片未见"
                    "(本片的读取也可能漏检,请在本片该处对照)。")
        return (f"On the earlier film, {_what(c, lang)} ({zone + ', ' if zone else ''}{then} mm) is not found on this "
                "film (this film's reading can miss a lesion too: look at that place on this film).")
    read_as = ""
    if c.earlier_kind:  # the same place read as another kind on the earlier film
        other = word("kind", c.earlier_kind, lang)
        read_as = f"(以前的片子上读为{other})" if zh else f" (read as {_article(other)} {other} there)"
    if c.earlier_uncertain and c.status in MEASURED:  # a size change from a "possibly" is no measurement to state
        return _from_a_possible_reading(name, c, zh)
    if c.earlier_uncertain:  # the earlier film's reading was a "possibly"
        read_as += "(以前的片子上该处仅可能为病灶)" if zh else " (where the earlier film only possibly shows a lesion)"
    head = (f"{name}:现约{now} mm,以前约{then} mm{read_as}" if zh
            else f"{name}: {now} mm now, {then} mm on the earlier film{read_as}")
    if c.status == "seen_on_both":
        return head + (",两片均见;其大小不作对比(只有两片上都读为圆形病灶时才比较直径;条索、实变等的轮廓随体位和曝光而变)。"
                       if zh else ": seen on both films; its size is not compared (diameters are compared only where "
                       "both films read a round lesion: the outline of a strand, consolidation or effusion on a "
                       "radiograph changes with positioning and exposure).")
    if c.status == "no_measurable_change":
        return head + (",无可测量的变化。" if zh else ": no measurable change.")
    pct = round(abs(c.change_share or 0.0) * 100)
    grew = c.status == "larger"
    diff = abs(c.change_mm or 0.0)
    text = head + (f",{'增大' if grew else '缩小'}{diff} mm({pct}%)。" if zh
                   else f": {'larger' if grew else 'smaller'} by {diff} mm ({pct}%).")
    if c.doubling_days is not None:
        share = round(SIZE_ERROR * 100)
        lo, hi = c.doubling_range or (c.doubling_days, c.doubling_days)
        if zh:
            spread = f"{int(lo)}–{int(hi)}天" if hi is not None else f"至少{int(lo)}天,也可能并未增长"
            text += (f"若按球形匀速增长,体积倍增时间约{int(c.doubling_days)}天"
                     f"(任一直径相差{share}%时为{spread})。")
        else:
            spread = f"{int(lo)}-{int(hi)} days" if hi is not None else f"at least {int(lo)} days, or no growth"
            text += (f" Grown at that rate as a sphere, its volume would double in about {int(c.doubling_days)} days "
                     f"({spread} were either diameter off by {share}%).")
    return text


# what a comparison rests on, said wherever it is stated (the answers, the DICOM SR's comparison note)
CAVEATS: dict[str, tuple[str, str]] = {
    "coarse": ("至少一张片子的像素较粗(不足以由病灶细读模型测量),其大小可能相差多达三分之一:这里的变化提示需对照两张片子,"
               "而不是可以据此处理的测量,也因此不给出倍增时间。",
               "At least one film's pixels are too coarse for the lesion reader, and too coarse to measure a change on: "
               "sizes can be off by up to a third, so a change called here is a reason to compare the films, not a "
               "measurement to act on, and no doubling time is given."),
    "identity": ("两张片子未都注明患者ID,Hilum 无法核对是否为同一患者;请确认。",
                 "The two films do not both name a patient ID, so Hilum could not check that they are the same "
                 "patient's: please make sure they are."),
    "names": ("两张片子上的患者姓名不同(ID相同):请确认为同一患者。",
              "The two films name the patient differently: please make sure they are the same patient's."),
    "estimated": ("至少一张片子的像素间距为估算(按胸廓宽度),大小是相对于胸廓的。",
                  "At least one film's pixel spacing is estimated (from the thorax's width), so sizes are relative to "
                  "the thorax."),
}


def comparison_caveats(comparison: IntervalComparison, lang: str) -> list[str]:
    """What this comparison rests on that a reader must weigh: coarse films, a patient not checked or named
    differently, an estimated spacing (``CAVEATS``), in the answer's language."""
    on = {"coarse": comparison.coarse, "identity": not comparison.identity_checked,
          "names": comparison.names_differ, "estimated": not comparison.sizes_from_file}
    return [CAVEATS[k][0 if lang == "zh" else 1] for k, flag in on.items() if flag]


def interval_section(comparison: IntervalComparison, registry: Registry, lang: str,
                     finding_ids: tuple[str, ...] | None = None) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """(the section, its measurement rows); ``finding_ids``: only these of this film's findings (None: every one,
    and what the earlier film showed that this one does not)."""
    zh = lang == "zh"
    title = "与以前的片子对比" if zh else "Compared with the earlier film"
    if not comparison.comparable:
        text = ("以前的片子未能可靠读取(其解剖结构未能确定),因此不作对比。" if zh else
                "The earlier film could not be read reliably (its anatomy was not established), so the two are not "
                "compared.") if comparison.reason == "earlier_unreadable" else (
                "本片未能可靠读取,因此不与以前的片子对比。" if zh else
                "This film could not be read reliably, so it is not compared with the earlier film.")
        return {"kind": "interval", "title": title, "text": text}, ()
    days = comparison.interval_days
    if days is None:
        head = ("与以前的片子对比(日期未知,故不给出增长速度):" if zh else
                "Compared with the earlier film (its date or this film's is not known, so no growth rate is given):")
    elif days == 0:
        head = "与以前的片子对比(同一天所摄):" if zh else "Compared with the earlier film (taken the same day):"
    else:
        head = f"与以前的片子对比(相隔{days}天):" if zh else f"Compared with the earlier film ({days} days before this one):"
    changes = [c for c in comparison.changes
               if finding_ids is None or (c.finding_id is not None and c.finding_id in finding_ids)]
    lines = [_line(c, _anchor_of(registry, c.finding_id), zh) for c in changes]
    if not comparison.changes:
        lines = ["两张片子均未发现病灶。" if zh else "No finding on either film."]
    elif not lines:
        lines = ["所问的病灶未能与以前的片子对比。" if zh else "The finding asked about could not be compared."]
    share = round(CHANGE_SHARE * 100)
    note = (f"大小为两张片子各自的测量;小于{CHANGE_MM:g} mm或{share}%的差别在X线片单次测量的误差之内,不称为变化。"
            if zh else f"Sizes are each film's own measurement; a difference under {CHANGE_MM:g} mm or {share}% is "
            "within what one measurement on a radiograph can be off by and is not called a change.")
    note += "".join(("" if zh else " ") + caveat for caveat in comparison_caveats(comparison, lang))
    note += ("薄层CT测量大小变化更可靠;此处只比较测量值,不作诊断。" if zh else
             " A thin-section CT measures a change in size more reliably; this compares measurements and is not a "
             "diagnosis.")
    sep = "" if zh else " "
    text = head + sep + sep.join(lines) + sep + note
    rows = tuple(_row(c, registry, comparison) for c in changes)
    return {"kind": "interval", "title": title, "text": text}, rows


def _row(c: FindingChange, registry: Registry, comparison: IntervalComparison) -> dict[str, Any]:
    """One finding's measurement row; no change (mm, doubling time) from an earlier reading that was only a
    "possibly" (``change_measured``), as the text states none."""
    from_possible = c.status in MEASURED and not change_measured(c)
    return {"kind": INTENT, "from": getattr(_anchor_of(registry, c.finding_id), "id", None), "finding_id": c.finding_id,
            "earlier_finding_id": c.earlier_id, "earlier_kind": c.earlier_kind, "status": c.status,
            "mm": r1(c.now_mm) if c.now_mm is not None else None,
            "earlier_mm": r1(c.then_mm) if c.then_mm is not None else None,
            "change_mm": None if from_possible else c.change_mm,
            "earlier_uncertain": c.earlier_uncertain,
            "interval_days": comparison.interval_days, "doubling_days": None if from_possible else c.doubling_days,
            "doubling_days_range": (list(c.doubling_range) if c.doubling_range is not None and not from_possible
                                    else None),
            "earlier_bbox_px": list(c.earlier_bbox_px) if c.earlier_bbox_px is not None else None,
            # the same, carried onto this film by its place in the lung field (None: not carried)
            "earlier_bbox_here_px": list(c.earlier_bbox_here_px) if c.earlier_bbox_here_px is not None else None,
            "spacing_source": "dicom" if comparison.sizes_from_file else "estimated"}


def earlier_place_section(rows: tuple[dict[str, Any], ...], lang: str) -> dict[str, Any]:
    """"Show me where it was on the earlier film": what is drawn on this film of the earlier film's findings (their
    places carried over by the lung field, ``earlier_bbox_here_px``), and what is not, and why."""
    zh = lang == "zh"
    drawn = [r for r in rows if r.get("earlier_bbox_here_px")]
    new = [r for r in rows if r.get("status") == "new"]
    held = [r for r in rows if r not in drawn and r not in new]
    sep = "、" if zh else ", "

    def ids(some: list[dict[str, Any]]) -> str:
        return sep.join(str(r.get("from") or ("以前的片子上的病灶" if zh else "a finding of the earlier film")) for r in some)

    lines = []
    if drawn:
        lines.append(f"本片上以虚线框标出{ids(drawn)}在以前的片子上的位置(标注“以前的片子”),按其在该侧肺野中的相对位置换算到本片;"
                     "两张片子并未逐点配准(体位和吸气深度会使其移动),框出的是对照的部位,不是准确的轮廓。" if zh else
                     f"Drawn on this film with a dashed box labelled \"earlier film\": where {ids(drawn)} lay on the "
                     "earlier film, carried onto this film by its place within its lung field; the two films are not "
                     "registered point to point (positioning and inspiration move it), so the box marks the place to "
                     "compare, not an exact outline.")
    if new:
        lines.append(f"{ids(new)}在以前的片子上未见,没有以前的位置可标出。" if zh else
                     f"{ids(new)} was not found on the earlier film, so there is no earlier position to draw.")
    if held:
        lines.append(f"{ids(held)}在以前的片子上的位置未在本片标出:比较只保存了它在以前那张片子自身坐标中的位置。" if zh else
                     f"Where {ids(held)} lay on the earlier film is not drawn on this film: the comparison holds that "
                     "position in the earlier film's own frame only.")
    if not rows:
        lines.append("没有可标出的以前片子上的病灶位置。" if zh else "There is no earlier position to draw.")
    return {"kind": "earlier_place", "title": "以前的位置" if zh else "Where it was before",
            "text": ("" if zh else " ").join(lines)}


_UPLOAD_HINT = ("把以前的片子与本片一起上传(页面上的“以前的片子”,或 REST 的 earlier 字段),Hilum 即可对照两者;",
                " Upload an earlier film together with this one (the page's \"earlier film\", or the REST field "
                "`earlier`) and Hilum compares the two; ")
NO_EARLIER_HINT = (_UPLOAD_HINT[0] + "也可以先让我描述本片上病灶现在的位置、大小、边缘和密度,供您对照。",
                   _UPLOAD_HINT[1] + "or ask me where each finding is now, its size, margin and density, to compare "
                   "yourself.")
# the same on a film where Hilum found nothing: there is no finding to describe now
NO_EARLIER_HINT_NOTHING_FOUND = (
    _UPLOAD_HINT[0] + "本片未发现病灶,以前的片子上若有病灶,对照后会说明本片是否仍可见。",
    _UPLOAD_HINT[1] + "Hilum found no lesion on this film, so a comparison would say whether one the earlier film "
    "showed is still seen.")
