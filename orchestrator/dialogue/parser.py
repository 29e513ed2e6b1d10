"""Question → ``Query``: intent, language, location, anatomy, descriptors and references.

Vocabularies come from ``data/vocab.json`` (locations, intents, descriptors, references) and
from the sign ontology (``orchestrator/ontology/signs.json``: every sign's zh/en names and
synonyms are terms that ``explain_term`` recognises). Matching is deterministic: Chinese by
substring, English at word starts after a small typo correction against the vocabulary's
own words. Ties between intents are broken by a fixed order.

Keyword scores are then adjusted by cues (``vocab.json`` "cues", "sign_questions",
"relative_positions", "foreign_languages"): a diagnosis asked for without a disease is the
screening summary; a sign named with a presence question is ``assess_anatomy``; choices offered
("upper, middle or lower zone?") name no zone; a unit with a landmark or a second lesion is a
distance; "bigger than 1 cm" is a size threshold, not "the bigger one"; "which one is closer" and
"the nodule … than the strand" compare; "the one above it" points from the finding in focus; "the one
near the diaphragm" / "离肺门最近的那个" names a landmark and whether the finding is the nearest to it or the
farthest ("proximity": a cue that describes a lesion, never "is it near the pleura?"); a question in a
language Hilum does not speak is out of scope for that reason. A statement before the question and courtesy
("sorry if this is a silly question") ask nothing; a size asked of a structure alone ("how big is the heart?")
assesses it; a finding compared with a tissue ("compared with soft tissue") is no comparison of findings.
"The lateral / medial one" is the finding farthest from / nearest to the midline; how bad a lesion named is
("is the nodule something to worry about?") asks its checklist. The typo correction leaves common English words
and a known word with its ending alone, and reads a vowel slip ("nodual") as its word.

Speed (a follow-up turn's budget is a few ms): every term is lower-cased and indexed once per vocabulary
(``Vocabulary.index``); one search per text finds all of them (``_Matcher``), and each group reads its
terms from that in its own order, so every answer is what looping ``find_term`` over the terms gave. The
typo correction hands difflib only the lexicon words that can pass its length and letter tests. ``parse``
memoises answers for the default vocabulary (``Query`` is deeply immutable); ``parse_uncached`` does not.
"""

from __future__ import annotations

import difflib
import json
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import zhconv

from orchestrator.dialogue.pointing import (
    correction,
    descriptor_pointers,
    height_compared,
    held_named,
    image_side,
    ranked_by_height,
    stated_size,
)
from orchestrator.dialogue.segments import segment_named
from orchestrator.dialogue.units import in_mm, read_units, size_range
from orchestrator.ontology.loader import Ontology, load_ontology

DATA_DIR = Path(__file__).resolve().parent / "data"
VOCAB_PATH = DATA_DIR / "vocab.json"

INTENTS: tuple[str, ...] = (
    "screen",
    "describe_margin",
    "measure_relation",
    "sign_checklist",
    "size",
    "density",
    "locate",
    "compare",
    "explain_term",
    "assess_anatomy",
    "out_of_scope",
    "film_info",  # the film itself: its projection (PA/AP), how it is shown, its pixel spacing
    "confidence",  # "how sure are you?": the calibrated probabilities behind the statements
)
# earlier wins a tie
_TIE_ORDER: tuple[str, ...] = (
    "out_of_scope",
    "explain_term",
    "compare",
    "confidence",
    "sign_checklist",
    "measure_relation",
    "size",
    "density",
    "describe_margin",
    "assess_anatomy",
    "locate",
    "screen",
    "film_info",  # "anything to flag on this PA film?": the film named as the place, not asked about
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z][a-z\-']*")
# "A2" / "f1" / "A 2"; never a value with its unit or decimals ("a 12 mm nodule", "a 1.5 cm one"), nor an age or
# a span of time ("a 58-year-old", "a 6 month old film")
_ANCHOR_ID = re.compile(r"(?<![A-Za-z0-9])([AaFf])\s?(\d{1,2})"
                        r"(?![0-9A-Za-z]|[.,]\d|\s*(?:mm|cm|毫米|厘米|公分|millimet|centimet)"
                        r"|[\s-]*(?:years?|yrs?|y/?o|months?|weeks?|days?|岁|周岁|个月)(?![a-z]))")


@dataclass(frozen=True)
class Query:
    """How a question was understood (before anchors are resolved)."""

    intent: str
    lang: str  # zh | en (for a language Hilum does not speak, ``foreign`` names it and the session's is used)
    side: str | None = None
    lobe: str | None = None
    # "the one in the lower lobe" / "上叶那个": a lobe named with no side (upper | lower): either side's lobe of that name
    lobe_level: str | None = None
    zone: str | None = None
    band: str | None = None
    anatomy: tuple[str, ...] = ()
    descriptors: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    # parse details the engine uses but the turn JSON does not carry
    lesion_side: str | None = None  # the side that locates a lesion (not one bound to anatomy)
    checklist: str | None = None
    term: str | None = None  # ontology sign id for explain_term
    anchor_ids: tuple[str, ...] = ()  # explicit "A2" / "F1" style references, normalised "A2"/"F1"
    ordinal: int | None = None
    other: bool = False
    both: bool = False
    relative: str | None = None  # "the one above it": above | below | left | right of the focused finding
    # "the upper one" / "下面那个" / "which is lower?": ``relative`` (above | below) ranks the findings by height (the
    # highest / lowest of them), not beside the one in focus (``pointing.ranked_by_height``)
    relative_ranked: bool = False
    # "the one on the left side of the image" / "图像左侧那个": the side of the image named (the viewer's: left | right);
    # the engine makes ``side`` / ``lesion_side`` the patient's where the film is shown the standard way
    image_side: str | None = None
    # "it looks bigger to me, like 15 mm" / "the radiologist measured it at 2 cm" / "我觉得有15毫米": a size (mm) the reader
    # states of the finding under discussion, by "reader" or "radiologist" (``stated_by``); compared, never a pointer
    stated_mm: float | None = None
    stated_by: str | None = None
    # "no, I meant the left one" / "不是,我说的是左边那个": the previous question, asked again of the finding pointed at
    correction: bool = False
    proximity: str | None = None  # "the one near the diaphragm": near | far (the finding nearest / farthest) ...
    landmark: str | None = None  # ... to this landmark: pleura | diaphragm | hilum | heart | mediastinum | apex
    it_and_other: bool = False  # "is it bigger than the other one?": the finding in focus, then the other
    signs: tuple[str, ...] = ()  # assess_anatomy: the signs asked about ("is there a pneumothorax?")
    diagnosis: bool = False  # "what is the diagnosis?": answered by the screening summary, never a diagnosis
    foreign: str | None = None  # a language Hilum does not speak (ja, ko, es, fr, ...): out_of_scope says so
    # "is the nodule new?" / "和去年比有变化吗": a change over time, which needs an earlier film; out_of_scope says so
    needs_prior: bool = False
    # "show me where it was on the earlier film" / "以前的片子上它在哪里": a change over time asked as a place to be shown
    # (the answer draws the earlier film's finding where the comparison carried it onto this film, or says it is not drawn)
    earlier_place: bool = False
    # "answer in English please" / "请用中文回答": the language the reader asks answers in (zh | en); out_of_scope says
    # how Hilum chooses it, in that language
    answer_lang: str | None = None
    # sign_checklist: a disease asked about that has no checklist here ("could it be a metastasis?"); the answer says
    # so before the checklist it shows
    unlisted_disease: str | None = None
    # sign_checklist: asked of the film or the patient, or its signs counted ("any signs of lung cancer?", "这片子有没有
    # 肺癌?", "does this patient have cancer?", "if this were early lung cancer, how many typical signs does it show?"),
    # not a verdict on an "it" the reader has in mind ("is it cancer?", "benign or malignant?"): with nothing named, the
    # one finding of the checklist's kinds answers the first, and the second asks which
    of_the_film: bool = False
    # sign_checklist naming no disease: a differential asked ("differential for A1?", "ddx?", "A1需要和什么鉴别?"),
    # which Hilum does not give; the answer says so and checks the finding against every checklist for its kind
    differential: bool = False
    # "how big is it, and is it calcified?" / "它有多大?有没有钙化?": a finding's other properties asked in a later clause,
    # answered after the first (density | describe_margin | size | locate; measure_relation where the clause measures
    # from a landmark: "where is it and is it more than 2 cm from the hilum?", and first where the first clause does: "is
    # it more than 2 cm from the hilum and where is it?"); the intent stays the first clause's
    also: tuple[str, ...] = ()
    # out_of_scope: "what further imaging is needed?" / "需要做什么检查?" / "下一步怎么办": a next step asked, which Hilum
    # does not recommend; the answer says what this film leaves unsettled and what the answers say would settle it
    next_step: bool = False
    # out_of_scope: "is this a child?" / "how old is the patient?" / "男的还是女的": the patient asked about, not the film;
    # the answer says Hilum reads neither age nor sex (a bare "this" had made it "this one?", a margin question)
    patient_asked: bool = False
    # out_of_scope: "should I worry?" / "要紧吗" / "严重吗": how serious the film is, asked of nothing named; the answer
    # says Hilum does not judge it and what it can say instead (it was "outside what a chest radiograph can show
    # (treatment, prognosis, lab values ...)")
    worry_asked: bool = False
    # compare: whether the question itself asks each finding's early-lung-cancer signs counted: which is of more concern
    # ("which one is more suspicious?", "哪个更可疑", "which is more worrying?"), not one thing asked of them ("which one
    # is bigger?", "哪个离肺门更近": a child's pneumonia film was told its findings' lung-cancer sign counts, asked which
    # was bigger), nor the two compared whole ("compare A1 and A2") or the lungs graded ("哪侧更严重"), where nobody
    # asked about cancer (those count the checklists in ``checklists_asked`` only)
    counts_signs: bool = True
    # compare: the findings compared whole ("compare A1 and A2", "which side is worse?"), not one thing asked of them
    compared_whole: bool = False
    # the checklists this dialogue asked: named by the question ("which one has more signs of early lung cancer?"), and
    # (carried by the engine from turn to turn, ``DialogueEngine._follow_on``) those earlier turns were answered with; a
    # comparison counts the findings' signs against these (``composer._counted_checklists``)
    checklists_asked: tuple[str, ...] = ()
    # compare: "which side is worse?" / "哪侧更严重": the lungs graded against each other, which Hilum does not do; the
    # answer says what each lung shows
    sides_graded: bool = False
    # compare: "compare the two sides" / "left vs right?" / "比较两侧": the two lungs compared, not the findings (it had
    # compared two findings in one lung, or said "nothing to describe" on a film with none); the answer says what each
    # lung shows and each side's costophrenic angle
    sides_compared: bool = False
    # "how thick is its wall?" / "空洞壁厚吗?": a cavity's wall asked about, which Hilum does not measure; said first
    wall_asked: bool = False
    # screen: "右中叶除了这个还有别的病灶吗" / "anything else besides this one?": the findings other than the one in focus
    besides_focus: bool = False
    # describe_margin: "describe the nodule" asks the whole description (place, size, margin, density), not the margin;
    # locate: "what is A2?" / "what's the biggest lesion?" / "第二个病灶是啥" asks what a finding named is (its kind and
    # size, as the screening listed it) before where it lies
    full: bool = False
    # "is it round?" / "what shape is A1?" / "是圆形的吗": the finding's shape is asked (the answer states it first)
    shape_asked: bool = False
    # "what is this?" / "这是什么?" alone: of the finding in focus (its margin, as a pointer alone asks); with none in
    # focus, of the film (the engine answers with the screening summary, never a diagnosis)
    what_is_it: bool = False
    # "thanks!" / "hello" / "谢谢": nothing asked; out_of_scope answers in kind (``social_words``)
    social: str | None = None
    # assess_anatomy: "which hemidiaphragm is higher?" / "is the right hemidiaphragm elevated?": the domes' heights
    domes_compared: bool = False
    # measure_relation: "how far apart are the hila?" / "两侧肺门相距多少": the two hila's distance from each other, no
    # finding named (the hila's anchors answer)
    hila_apart: bool = False
    # measure_relation: "is the nodule above the right hilum?": the height asked ("above" | "below" | "level"; "either":
    # the alternatives offered, "above or below?", answered by the one that holds, never yes or no)
    vertical: str | None = None
    # measure_relation: "is the nodule lateral to the right hilum?": its side of the hilum asked ("lateral" | "medial";
    # "either": "lateral or medial to it?")
    across: str | None = None
    # what only CT measures, asked ("guideline": Lung-RADS, Fleischner; "volume" of a size; "hu" of a density): said first
    ct_measure: str | None = None
    # measure_relation / locate: a fissure named ("is the nodule near the fissure?"), which Hilum does not trace
    fissure: bool = False
    # describe_margin: the part of the margin named ("how long are the spicules?"): "spicules" | "notches"; with no
    # finding named, the one that has them is meant (as a further part too: "is it bigger than 1 cm and how long are
    # its spicules?")
    margin_part: str | None = None
    # assess_anatomy: "how are the bones?" / "主动脉弓怎么样": a structure Hilum does not read, asked about whole
    unread_structure: str | None = None
    # out_of_scope: "what's under the effusion?": what fluid hides on a frontal film
    behind_fluid: bool = False
    # confidence: the statement whose probability is asked ("how sure about the margin?"): presence | margin | size |
    # density | lobe; None: every statement made of the finding. compare: "density" ("which one is denser?": Hilum
    # does not rank density, it says what it reads of each) or "lucency" ("is the left lung clearer than the right?":
    # Hilum does not read how dark a lung field is, it says what each lung shows)
    attribute: str | None = None
    size_op: str | None = None  # "bigger than 1 cm": gt | lt, with size_mm the threshold in mm
    size_mm: float | None = None
    # "is it more than 2 cm from the hilum?" / "within 1 cm of the pleura?" / "距胸膜1厘米以内吗" / "more than 2 cm from the
    # heart?" / "are A1 and A2 more than 3 cm apart?": the distance's threshold, gt | lt, with distance_mm the threshold
    # in mm (set where a distance is asked, from its own clause: "is it bigger than 1 cm and more than 2 cm from the hilum?")
    distance_op: str | None = None
    distance_mm: float | None = None
    # "the 12 mm one" / "那个12毫米的" / "the report says 12 mm, but …": a size that says which finding (in mm), not
    # one asked about or checked
    size_named_mm: float | None = None
    yes_no: bool = False  # "is it in the inner band?" checks a place, "where is it?" asks one
    # "is this film normal?" / "片子正常吗": the screening asked as a yes/no about the whole film
    asks_normal: bool = False
    # "write a report" / "overall impression?" / "写一句报告结论": the screening asked for as a report's summary line
    summary_asked: bool = False
    # "is A1 bigger than A2?" / "A1比A2大吗": a comparison asked as yes/no about size, of the first named (large | small)
    size_asked: str | None = None
    # measure_relation: "are A1 and A2 the same lesion?" / "A1和A2相连吗": whether two findings are one asked
    one_lesion_asked: bool = False
    # "is the stripe in the lingula?" / "条索影是在下叶吗": the place is what is asked; the finding is named otherwise
    place_checked: bool = False
    # "那右边那个呢" / "and the one on the left?": nothing asked but a finding pointed at; the engine asks of
    # it what the previous turn asked (``DialogueEngine._elliptical``)
    elliptical: bool = False
    # "A2" / "the second one" / "下面那个" / "both": a finding pointed at and nothing asked, in any form; after a turn
    # that asked "which one do you mean?" it is the answer, and the question asked back is answered of it
    bare_pointer: bool = False
    # "右侧呢" / "and the right side?": an ellipsis naming a side and no finding in it ("右边那个呢", "the left one" name
    # one); after a lung's screening the engine screens the other side
    side_only: bool = False
    # "not the round one, the other" / "不是圆的那个,是另一个": the descriptors that say which finding is NOT meant
    not_descriptors: tuple[str, ...] = ()
    # screen: the kinds of lesion looked for ("any GGO?" → ground_glass; vocab.json "kinds"); the answer lists
    # only findings of those kinds, or says none is seen
    kinds: tuple[str, ...] = ()
    # the findings the question names, in the order named: "A2", "ord:2", "side:left", "d:<descriptor>" ("the
    # strand"), "other", "focus" ("it", "this one"); a comparison or a distance lists them in that order
    mentions: tuple[str, ...] = ()
    # sign_checklist: whether a finding IS a disease, or how likely, is asked ("is the nodule cancer?", "what's the chance
    # it's cancer?", "是肿瘤吗", "is it benign?"), not its signs counted ("any signs of lung cancer?"): what is asked of
    # it (cancer | tumour | benign | benign_or_malignant); the answer says first that Hilum cannot say, nor give a
    # probability, and gives the checklist as supporting observations only
    verdict_asked: str | None = None
    # "the former" / "the latter" / "前一个": the first or the second of the two findings last named together
    pair_pick: str | None = None
    # "why?" / "why can't you tell?" / "为什么": why the last answer hedged; the engine names the statements it made
    # (``why_of``: margin | density | size | lobe | presence | distance; empty: every statement of the finding)
    why_asked: bool = False
    why_of: tuple[str, ...] = ()
    # "why?" after an answer that made a claim (a size, a comparison, a distance, a place, a margin, a density, a change):
    # that answer's intent; the engine asks its question again (its findings) and the answer says what the claim rested
    # on (``last_answer.compose_why``)
    why_after: str | None = None
    # "by how much?" / "长大了多少": how much a change or a difference the last answer gave is; the engine asks the last
    # answer's question again of the finding in focus (a change between films says it in mm and %)
    how_much: bool = False
    # out_of_scope: a question nothing in it was understood ("hmm", "?"), neither out of scope nor of the film; the
    # answer says so and suggests questions (it was "outside what a chest radiograph can show")
    not_understood: bool = False
    # measure_relation: a landmark the vocabulary's landmarks leave out, named for a distance ("how far from the
    # spine?"): spine (measured to its outline where the maps draw one) | aorta | clavicle | rib | sternum | oesophagus
    # (not measured: said so, and what is measured instead; it had measured to the hilum without a word)
    landmark_asked: str | None = None
    # locate: "is A2 the heart?" / "is it the thymus?" / "是胸腺吗": whether a finding is a normal structure, which Hilum
    # cannot tell from a lesion where they overlap (the mediastinum, the heart): heart | thymus | aorta | mediastinum |
    # pulmonary_artery
    normal_structure: str | None = None
    # "how big is it in inches?" / "结节多少英寸" / "in pixels?" / "how far is it from the pleura in cm?": the unit the answer
    # is asked in (cm | mm | inch | px; ``units.read_units``): the answer leads with its measurements in it, then in mm
    unit: str | None = None
    # "is it bigger than 20 px?" / "超过20像素吗": the threshold's (and a range's) numbers are pixels of the film, which the
    # composer converts with the film's spacing (and says so)
    threshold_px: bool = False
    # "is it between 8 and 15 mm?" / "is it 1-2 cm?" / "是不是在8到15毫米之间": size_op "between", size_mm the lower
    # bound and size_to_mm the upper
    size_to_mm: float | None = None
    # screen: "list them" / "列出来" / "list the findings": the findings listed (id, kind, place, size), nothing else
    listed: bool = False
    # assess_anatomy: "is one lung bigger than the other?" / "两侧肺一样大吗": the two lung fields' projected sizes
    lungs_sized: bool = False
    # assess_anatomy: "are the costophrenic angles the same?" / "两侧肋膈角一样吗": the two angles set against each other
    angles_compared: bool = False
    # assess_anatomy: a question of the chest's structures with no lesion in it, which the structure answers
    # (``structures.py``) take: "chest_width" ("how wide is the chest?": ``AnatomyFacts.thorax_width_mm``), "apart" (two
    # structures' distance: "how far is the right hilum from the diaphragm?", "how far is the trachea from the spine?",
    # the spine named in ``anatomy``), "spine" ("where is the spine?": its outline, the midline reference; its bones not
    # read); each had fallen through to "no lesion was found" or a finding's distance
    structure_asked: str | None = None
    # locate: "is A1 inside the lung?" / "A1在肺内吗?": whether a finding lies within a lung field (its density before)
    in_lung: bool = False
    # locate: a bronchopulmonary segment named ("is A3 in the lingula?", "A2在左下叶背段吗?", "which segment is it in?"):
    # a key of ``segments.SEGMENT_NAMES``; Hilum maps no segments, so the answer never says yes from the lobe or zone
    segment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "lobe": self.lobe,
            "zone": self.zone,
            "band": self.band,
            "anatomy": list(self.anatomy),
            "descriptors": list(self.descriptors),
            "references": list(self.references),
        }

    def to_state(self) -> dict[str, Any]:
        """Everything, for session state."""
        return {
            **self.to_dict(),
            "intent": self.intent,
            "lang": self.lang,
            "lesion_side": self.lesion_side,
            "checklist": self.checklist,
            "term": self.term,
            "anchor_ids": list(self.anchor_ids),
            "ordinal": self.ordinal,
            "lobe_level": self.lobe_level,
            "other": self.other,
            "both": self.both,
            "relative": self.relative,
            "relative_ranked": self.relative_ranked,
            "image_side": self.image_side,
            "stated_mm": self.stated_mm,
            "stated_by": self.stated_by,
            "correction": self.correction,
            "proximity": self.proximity,
            "landmark": self.landmark,
            "it_and_other": self.it_and_other,
            "signs": list(self.signs),
            "diagnosis": self.diagnosis,
            "foreign": self.foreign,
            "needs_prior": self.needs_prior,
            "earlier_place": self.earlier_place,
            "attribute": self.attribute,
            "answer_lang": self.answer_lang,
            "social": self.social,
            "full": self.full,
            "of_the_film": self.of_the_film,
            "differential": self.differential,
            "besides_focus": self.besides_focus,
            "what_is_it": self.what_is_it,
            "shape_asked": self.shape_asked,
            "unlisted_disease": self.unlisted_disease,
            "size_op": self.size_op,
            "size_mm": self.size_mm,
            "distance_op": self.distance_op,
            "distance_mm": self.distance_mm,
            "size_named_mm": self.size_named_mm,
            "yes_no": self.yes_no,
            "place_checked": self.place_checked,
            "elliptical": self.elliptical,
            "bare_pointer": self.bare_pointer,
            "side_only": self.side_only,
            "not_descriptors": list(self.not_descriptors),
            "kinds": list(self.kinds),
            "mentions": list(self.mentions),
            "also": list(self.also),
            "next_step": self.next_step,
            "patient_asked": self.patient_asked,
            "worry_asked": self.worry_asked,
            "sides_graded": self.sides_graded,
            "sides_compared": self.sides_compared,
            "domes_compared": self.domes_compared,
            "hila_apart": self.hila_apart,
            "vertical": self.vertical,
            "across": self.across,
            "ct_measure": self.ct_measure,
            "fissure": self.fissure,
            "margin_part": self.margin_part,
            "unread_structure": self.unread_structure,
            "behind_fluid": self.behind_fluid,
            "counts_signs": self.counts_signs,
            "compared_whole": self.compared_whole,
            "checklists_asked": list(self.checklists_asked),
            "wall_asked": self.wall_asked,
            "asks_normal": self.asks_normal,
            "summary_asked": self.summary_asked,
            "size_asked": self.size_asked,
            "one_lesion_asked": self.one_lesion_asked,
            "verdict_asked": self.verdict_asked,
            "pair_pick": self.pair_pick,
            "why_asked": self.why_asked,
            "why_of": list(self.why_of),
            "why_after": self.why_after,
            "how_much": self.how_much,
            "not_understood": self.not_understood,
            "landmark_asked": self.landmark_asked,
            "normal_structure": self.normal_structure,
            "unit": self.unit,
            "threshold_px": self.threshold_px,
            "size_to_mm": self.size_to_mm,
            "listed": self.listed,
            "lungs_sized": self.lungs_sized,
            "angles_compared": self.angles_compared,
            "segment": self.segment,
            "structure_asked": self.structure_asked,
            "in_lung": self.in_lung,
        }

    @staticmethod
    def from_state(data: dict[str, Any]) -> Query:
        tuples = ("anatomy", "descriptors", "references", "anchor_ids", "signs", "not_descriptors", "kinds", "mentions",
                  "also", "checklists_asked", "why_of")
        kwargs = {k: (tuple(v) if k in tuples else v) for k, v in data.items() if k in Query.__dataclass_fields__}
        return Query(**kwargs)

    @property
    def sign(self) -> str | None:
        return self.signs[0] if self.signs else None

    @property
    def has_location(self) -> bool:
        return any((self.lesion_side, self.lobe, self.lobe_level, self.zone, self.band))

    @property
    def shape_descriptors(self) -> tuple[str, ...]:
        return tuple(d for d in self.descriptors if d not in ("small", "large"))


@dataclass(frozen=True)
class Vocabulary:
    sides: dict[str, tuple[str, ...]]
    lobes: dict[str, tuple[str, ...]]
    lobe_by_side: dict[str, dict[str, Any]]
    zones: dict[str, tuple[str, ...]]
    bands: dict[str, tuple[str, ...]]
    anatomy: dict[str, tuple[str, ...]]
    descriptors: dict[str, tuple[str, ...]]
    references: tuple[str, ...]
    ordinals: dict[str, tuple[str, ...]]
    other_reference: tuple[str, ...]
    both_reference: tuple[str, ...]
    checklists: dict[str, tuple[str, ...]]
    intents: dict[str, tuple[tuple[str, float], ...]]
    terms: dict[str, tuple[str, ...]]  # sign id -> names and synonyms (from the ontology)
    glossary: dict[str, tuple[str, ...]] = field(default_factory=dict)  # glossary id -> names (ontology/glossary.json)
    sign_categories: dict[str, str] = field(default_factory=dict)  # sign id -> its category (signs.json)
    unevidenced: frozenset[str] = frozenset()  # signs nothing on a film evidences (signs.json evidence null), lesions aside
    lexicon: frozenset[str] = field(default_factory=frozenset)
    cues: dict[str, Any] = field(default_factory=dict)
    relative_positions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sign_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # anatomy kind -> (sign, state words) specs tried in order ("纵隔有没有移位" asks the shift, "纵隔增宽吗" the width)
    anatomy_states: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = field(default_factory=dict)
    checklist_cues: tuple[str, ...] = ()
    foreign: dict[str, Any] = field(default_factory=dict)
    proximity: dict[str, Any] = field(default_factory=dict)
    kinds: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind of lesion -> its names

    @cached_property
    def index(self) -> _Index:
        """Lower-cased term indices derived from this vocabulary, built once on first use (``cached_property``
        locks the build; a Vocabulary is never changed after it is built, so they stay true)."""
        return _Index(self)


def _tuples(d: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in d.items()}


def merge_ontology_locations(raw: dict[str, Any], ontology: Ontology) -> dict[str, Any]:
    """Add the ontology's location names (en and zh) to the parser groups ``from_ontology_locations`` names."""
    out = {k: (json.loads(json.dumps(v)) if isinstance(v, dict) else v) for k, v in raw.items()}
    by_en = {str(loc.get("en", "")).lower(): loc for loc in ontology.locations}
    for en, target in raw.get("from_ontology_locations", {}).items():
        loc = by_en.get(en)
        if en.startswith("_") or loc is None:
            continue
        group, key = target.split(".", 1)
        names = out[group].setdefault(key, [])
        names.extend(n for n in (loc.get("en"), loc.get("zh")) if n and n not in names)
    return out


def build_vocabulary(raw: dict[str, Any], ontology: Ontology) -> Vocabulary:
    raw = merge_ontology_locations(raw, ontology)
    terms = {s.id: s.terms() for s in ontology.signs}
    glossary = {g.id: g.terms() for g in ontology.glossary}
    intents = {k: tuple((str(t), float(w)) for t, w in v) for k, v in raw["intents"].items()}
    words: set[str] = set(raw.get("lexicon", []))
    for group in ("sides", "lobes", "zones", "bands", "anatomy", "descriptors", "checklists"):
        for values in raw[group].values():
            words.update(w for t in values for w in _LATIN_WORD.findall(t.lower()))
    for values in intents.values():
        words.update(w for t, _ in values for w in _LATIN_WORD.findall(t.lower()))
    for values in (*terms.values(), *glossary.values()):
        words.update(w for t in values for w in _LATIN_WORD.findall(t.lower()))
    signs = raw.get("sign_questions", {})
    cue_lists = [v for v in raw.get("cues", {}).values() if isinstance(v, list)]
    proximity = {k: v for k, v in raw.get("proximity", {}).items() if not k.startswith("_")}
    proximity_lists = [*proximity.get("landmarks", {}).values(), *(v for v in proximity.values() if isinstance(v, list))]
    kind_lists = [t for k, t in raw.get("kinds", {}).items() if not k.startswith("_")]
    for values in (*signs.get("terms", {}).values(), *cue_lists, *raw.get("relative_positions", {}).values(),
                   *proximity_lists, *kind_lists):
        if isinstance(values, list):
            words.update(w for t in values for w in _LATIN_WORD.findall(str(t).lower()))
    return Vocabulary(
        sides=_tuples(raw["sides"]),
        lobes=_tuples(raw["lobes"]),
        lobe_by_side=raw["lobe_by_side"],
        zones=_tuples(raw["zones"]),
        bands=_tuples(raw["bands"]),
        anatomy=_tuples(raw["anatomy"]),
        descriptors=_tuples(raw["descriptors"]),
        references=tuple(raw["references"]),
        ordinals=_tuples(raw["ordinals"]),
        other_reference=tuple(raw["other_reference"]),
        both_reference=tuple(raw["both_reference"]),
        checklists=_tuples(raw["checklists"]),
        intents=intents,
        terms=terms,
        glossary=glossary,
        sign_categories={s.id: s.category for s in ontology.signs},
        unevidenced=frozenset(s.id for s in ontology.signs if s.evidence is None and s.category != "nodule_mass"),
        lexicon=frozenset(w for w in words if len(w) >= 4),
        cues={k: v for k, v in raw.get("cues", {}).items() if not k.startswith("_")},
        relative_positions={k: tuple(v) for k, v in raw.get("relative_positions", {}).items() if not k.startswith("_")},
        sign_terms=_tuples(signs.get("terms", {})),
        anatomy_states={k: tuple((str(spec["sign"]), tuple(spec["states"])) for spec in (v if isinstance(v, list) else [v]))
                        for k, v in signs.get("anatomy_states", {}).items()},
        checklist_cues=tuple(signs.get("checklist_cues", ())),
        foreign={k: v for k, v in raw.get("foreign_languages", {}).items() if not k.startswith("_")},
        proximity=proximity,
        kinds=_tuples({k: t for k, t in raw.get("kinds", {}).items() if not k.startswith("_")}),
    )


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = VOCAB_PATH) -> Vocabulary:
    return build_vocabulary(json.loads(path.read_text(encoding="utf-8")), load_ontology())


# --- normalisation ---------------------------------------------------------------------------


_SPACES = re.compile(r"\s+")
_CJK_LATIN_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[0-9a-z])|(?<=[0-9a-z])\s+(?=[\u3400-\u9fff])")


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, single spaces, traditional Chinese characters as
    simplified ("條索影的邊界" reads as "条索影的边界": the vocabulary is written in simplified)."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("’", "'").replace("\u3000", " ")
    if _CJK.search(t):
        t = _CJK_LATIN_SPACE.sub("", zhconv.convert(t, "zh-cn"))  # "有几 cm 长" reads as "有几cm长"
    return _SPACES.sub(" ", t).strip()


def correct_zh_typos(text: str, vocab: Vocabulary) -> str:
    """Replace the Chinese homophone typos ``cues.zh_typos`` names ("肺部有异长吗") by their word."""
    if not _CJK.search(text):
        return text
    for word, pattern in vocab.index.zh_typos:
        text = pattern.sub(word, text)
    return text


def correct_typos(text: str, lexicon: frozenset[str]) -> str:
    """Replace English words that are not in the lexicon by their closest lexicon word."""
    if not lexicon:
        return text

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if len(word) < 4 or word in lexicon:
            return word
        if word.endswith("'s") and (len(word) < 6 or word[:-2] in lexicon):  # "where's", "it's": a known word and 's
            return word
        if _inflected(word, lexicon):  # "notching", "months": a known word with its ending, no typo
            return word
        close = _closest_word(word, lexicon)
        if close != word and _negated(word, close):  # "uncertain", "noncalcified": a word of its own, not "certain"
            return word
        if close != word:
            return close
        if len(word) < 5:  # "sise": too short for a ratio to judge, one letter spelled by its sound still is
            return _respelled(word, lexicon)
        return _swapped_word(word, lexicon) or _vowel_slip(word, lexicon) or _respelled(word, lexicon)

    return _LATIN_WORD.sub(fix, text)


_NEGATING_PREFIXES = ("non-", "non", "un", "in", "im", "ir", "il", "dis")


def _negated(word: str, close: str) -> bool:
    """Whether ``word`` is ``close`` (or a form of it) with a negating prefix: "uncertain" / "certain",
    "noncalcified" / "calcified", "inhomogeneous" / "homogeneous", "unclear" / "clear". The typo correction took such a
    word for a misspelling of the word it negates, turning a question's meaning round (and "the noncalcified one"
    into "the calcified one")."""
    for prefix in _NEGATING_PREFIXES:
        rest = word[len(prefix):]
        if word.startswith(prefix) and len(rest) >= 4 and (rest.startswith(close) or close.startswith(rest)):
            return True
    return False


_ENDINGS = ("s", "es", "d", "ed", "ing", "ly", "er", "est")


def _inflected(word: str, lexicon: frozenset[str]) -> bool:
    """Whether the word is a lexicon word of five letters or more with an ending ("notch" + "ing"; "whats" is
    no "what" + "s")."""
    return any(word.endswith(e) and len(word) - len(e) >= 5 and word[: -len(e)] in lexicon for e in _ENDINGS)


def _swapped_word(word: str, lexicon: frozenset[str]) -> str | None:
    """The lexicon word two adjacent letters of ``word`` swapped give ("nodlue", "rigth": the commonest slip of
    the keys, which difflib's ratio can miss on short words), or None."""
    for i in range(len(word) - 1):
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if swapped in lexicon:
            return swapped
    return None


_VOWELS = frozenset("aeiouy")


def _consonants(word: str) -> str:
    return "".join(c for c in word if c not in _VOWELS)


@lru_cache(maxsize=8)
def _by_consonants(lexicon: frozenset[str]) -> dict[tuple[str, str], tuple[str, ...]]:
    """Lexicon words of five letters or more by (first letter, consonants in order)."""
    out: dict[tuple[str, str], list[str]] = {}
    for w in sorted(lexicon):
        if len(w) >= 5:
            out.setdefault((w[0], _consonants(w)), []).append(w)
    return {k: tuple(v) for k, v in out.items()}


def _vowel_slip(word: str, lexicon: frozenset[str]) -> str | None:
    """The one lexicon word ``word`` (six letters or more) gives with only its vowels changed, moved or dropped
    ("nodual" for "nodule"): same first letter, the same consonants (three or more) in the
    same order, a length one letter apart at most and difflib's ratio at 0.75 or more; None when no word or more
    than one fits."""
    skeleton = _consonants(word)
    if len(word) < 6 or len(skeleton) < 3:  # "spiky" is no slip of "spike"
        return None
    fits = [w for w in _by_consonants(lexicon).get((word[0], skeleton), ())
            if abs(len(w) - len(word)) <= 1 and difflib.SequenceMatcher(None, word, w).ratio() >= 0.75]
    return fits[0] if len(fits) == 1 else None


# spellings of one sound, either way round ("edjes" for "edges", "calsified", "kavity", "diafragm")
_SOUND_ALIKE = (("j", "g"), ("g", "j"), ("k", "c"), ("c", "k"), ("s", "c"), ("c", "s"), ("z", "s"), ("s", "z"),
                ("f", "ph"), ("ph", "f"))


def _respelled(word: str, lexicon: frozenset[str]) -> str:
    """The lexicon word one letter spelled by its sound gives (``_SOUND_ALIKE``), or the word."""
    for a, b in _SOUND_ALIKE:
        start = word.find(a)
        while start >= 0:
            respelled = word[:start] + b + word[start + len(a):]
            if respelled in lexicon:
                return respelled
            start = word.find(a, start + 1)
    return word


@lru_cache(maxsize=4096)
def _closest_word(word: str, lexicon: frozenset[str]) -> str:
    """The lexicon word ``difflib.get_close_matches`` picks for a word not in the lexicon, or the word.
    A pure function of its arguments, so a bounded memo: questions repeat their unknown words."""
    cutoff = 0.84 if len(word) < 7 else 0.8
    choices = _lexicon_table(lexicon).could_match(word, cutoff)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff) if choices else []
    return close[0] if close else word


class _LexiconTable:
    """The sorted lexicon with each word's length and letter counts, to pass ``difflib.get_close_matches``
    only the words that can pass its first two tests (``real_quick_ratio``: lengths; ``quick_ratio``: letters
    in common as multisets), computed in bulk with the same float arithmetic (``2.0 * matches / total``,
    IEEE doubles either way). The words dropped fail those tests in difflib too, so the answer is the same."""

    def __init__(self, lexicon: frozenset[str]) -> None:
        self.words = tuple(sorted(lexicon))
        self.column = {c: i for i, c in enumerate(sorted({c for w in self.words for c in w}))}
        counts = np.zeros((len(self.words), len(self.column)), dtype=np.int64)
        for row, w in enumerate(self.words):
            for c in w:
                counts[row, self.column[c]] += 1
        self.counts = counts
        self.lengths = np.array([len(w) for w in self.words], dtype=np.int64)

    @lru_cache(maxsize=128)  # noqa: B019 - one table per lexicon (itself cached), a few word lengths each
    def _by_length(self, n: int, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows that pass ``real_quick_ratio`` for a word of length n, their letter counts and totals."""
        total = (self.lengths + n).astype(np.float64)
        rows = np.flatnonzero(2.0 * np.minimum(self.lengths, n) / total >= cutoff)
        return rows, self.counts[rows], total[rows]

    def could_match(self, word: str, cutoff: float) -> list[str]:
        rows, counts, total = self._by_length(len(word), cutoff)
        if not len(rows):
            return []
        letters = np.zeros(len(self.column), dtype=np.int64)
        for c in word:
            col = self.column.get(c)
            if col is not None:  # a letter no lexicon word has matches nothing
                letters[col] += 1
        matches = np.minimum(counts, letters).sum(axis=1)
        return [self.words[i] for i in rows[2.0 * matches / total >= cutoff]]


@lru_cache(maxsize=8)
def _lexicon_table(lexicon: frozenset[str]) -> _LexiconTable:
    return _LexiconTable(lexicon)


def _is_latin(term: str) -> bool:
    return not _CJK.search(term)


@lru_cache(maxsize=8192)
def _term_pattern(term: str) -> re.Pattern[str]:
    # a short term, or one ending in a word of a letter or two or in "the" ("what's a", "from the"), is a whole word:
    # "what's a" is not in "what's abnormal", nor "from the" in "apart from these"
    last = term.rsplit(" ", 1)[-1]
    whole = " " in term and (len(last) <= 2 or last == "the")
    end = r"s?(?![a-z])" if len(term) <= 4 else (r"(?![a-z])" if whole else "")
    return re.compile(r"(?<![a-z])" + re.escape(term) + end)


@lru_cache(maxsize=8192)
def _search_pattern(t: str) -> re.Pattern[str]:
    """What ``find_term`` searches for the lower-cased term ``t``: substring for Chinese, word start for English."""
    return _term_pattern(t) if _is_latin(t) else re.compile(re.escape(t))


def find_term(text: str, term: str) -> list[int]:
    """Start positions of ``term`` in ``text``: substring for Chinese, word start for English."""
    t = term.lower()
    if not t or t not in text:
        return []
    return [m.start() for m in _search_pattern(t).finditer(text)]


def has_term(text: str, terms: tuple[str, ...] | list[str]) -> bool:
    return any(find_term(text, t) for t in terms)


class _Matcher:
    """Distinct lower-cased terms, indexed by their first three characters (two or one for shorter terms).
    ``hits(text)`` is ``{t: find_term(text, t)}`` for every term that ``find_term`` finds in the text (and
    no other), looking only at the terms whose first characters occur in the text. The last few texts are
    remembered (a parse asks about the same text many times); the dict and its lists are shared, never
    changed."""

    def __init__(self, terms: Iterable[str]) -> None:
        distinct = tuple(dict.fromkeys(t for t in terms if t))
        self._rows = tuple((t, _search_pattern(t)) for t in distinct)
        keyed: tuple[dict[str, list[int]], ...] = ({}, {}, {})  # by the first 1, 2, 3 characters
        for i, t in enumerate(distinct):
            n = min(len(t), 3)
            keyed[n - 1].setdefault(t[:n], []).append(i)
        self._by1 = {g: tuple(ix) for g, ix in keyed[0].items()}
        self._by2 = {g: tuple(ix) for g, ix in keyed[1].items()}
        self._by3 = {g: tuple(ix) for g, ix in keyed[2].items()}
        self._keys1 = frozenset(self._by1)
        self._keys2 = frozenset(self._by2)
        self._keys3 = frozenset(self._by3)

    @lru_cache(maxsize=16)  # noqa: B019 - matchers live as long as their vocabulary
    def hits(self, text: str) -> dict[str, list[int]]:
        ix: list[int] = []
        by1, by2, by3 = self._by1, self._by2, self._by3
        for g in self._keys1.intersection(text):
            ix.extend(by1[g])
        pairs = list(map(operator.add, text, text[1:]))
        for g in self._keys2.intersection(pairs):
            ix.extend(by2[g])
        for g in self._keys3.intersection(map(operator.add, pairs, text[2:])):
            ix.extend(by3[g])
        out: dict[str, list[int]] = {}
        rows = self._rows
        for i in ix:
            t, pattern = rows[i]
            if t in text:
                positions = [m.start() for m in pattern.finditer(text)]
                if positions:
                    out[t] = positions
        return out


class _Terms:
    """Terms in a fixed order, each lower-cased once.

    ``found(text)`` gives, in the terms' order, ``(payload, find_term(text, term))`` for every term that
    ``find_term`` finds: the same as looping ``find_term`` over all of them and dropping the empty results.
    The search itself is a ``_Matcher``'s, shared by all the terms of a vocabulary (``_Index``)."""

    __slots__ = ("_payloads", "_lows", "_pairs", "_rows_of", "matcher")

    _LINEAR = 24  # up to this many terms a plain scan beats sorting the hits' rows

    def __init__(self, items: Iterable[tuple[Any, str]], matcher: _Matcher | None = None) -> None:
        pairs = [(payload, term.lower()) for payload, term in items]
        pairs = [(payload, t) for payload, t in pairs if t]  # find_term finds nothing for an empty term
        self._pairs = tuple(pairs)
        self._payloads = tuple(payload for payload, _ in pairs)
        self._lows = tuple(t for _, t in pairs)
        rows_of: dict[str, list[int]] = {}
        for i, t in enumerate(self._lows):
            rows_of.setdefault(t, []).append(i)
        self._rows_of = {t: tuple(ix) for t, ix in rows_of.items()}
        self.matcher = matcher or _Matcher(self._lows)

    def found(self, text: str) -> list[tuple[Any, list[int]]]:
        hits = self.matcher.hits(text)
        if not hits:
            return []
        if len(self._pairs) <= self._LINEAR:
            return [(payload, hits[t]) for payload, t in self._pairs if t in hits]
        rows_of = self._rows_of
        ix = [i for t in hits if t in rows_of for i in rows_of[t]]
        ix.sort()
        lows, payloads = self._lows, self._payloads
        return [(payloads[i], hits[lows[i]]) for i in ix]

    def found_terms(self, text: str) -> list[tuple[Any, str, list[int]]]:
        """``found`` with each lower-cased term: ``(payload, term, positions)``."""
        hits = self.matcher.hits(text)
        if not hits:
            return []
        if len(self._pairs) <= self._LINEAR:
            return [(payload, t, hits[t]) for payload, t in self._pairs if t in hits]
        rows_of = self._rows_of
        ix = [i for t in hits if t in rows_of for i in rows_of[t]]
        ix.sort()
        lows, payloads = self._lows, self._payloads
        return [(payloads[i], lows[i], hits[lows[i]]) for i in ix]

    def any_substring(self, text: str) -> bool:
        """Whether any of the terms occurs in the text at all (``found`` can only find those)."""
        return any(t in text for t in self._lows)

    def any_in(self, text: str) -> bool:
        """``has_term`` over these terms."""
        hits = self.matcher.hits(text)
        return bool(hits) and not hits.keys().isdisjoint(self._lows)

    @property
    def lows(self) -> tuple[str, ...]:
        return self._lows


def _table(table: dict[str, tuple[str, ...]]) -> _Terms:
    """A key → terms table; each payload is ``(key, len(term))``."""
    return _Terms(((key, len(t)), t) for key, terms in table.items() for t in terms)


_BOTH_WAYS = frozenset({"early_lung_cancer", "benign_nodule"})  # named together, a verdict asked either way


def _first_key(text: str, table: _Terms) -> str | None:
    best: tuple[int, int, str] | None = None
    for (key, n), positions in table.found(text):
        cand = (positions[0], -n, key)  # positions ascend: the first is this term's best
        if best is None or cand < best:
            best = cand
    return best[2] if best else None


def _all_keys(text: str, table: _Terms) -> list[str]:
    first: dict[str, int] = {}
    for (key, _), positions in table.found(text):
        first[key] = min(positions[0], first.get(key, positions[0]))
    return [k for _, k in sorted((p, k) for k, p in first.items())]


class _Index:
    """Everything the parser derives from a ``Vocabulary``, built once (``Vocabulary.index``)."""

    def __init__(self, v: Vocabulary) -> None:
        self.sides = _Terms((side, t) for side, terms in v.sides.items() for t in terms)
        self.anatomy = _table(v.anatomy)
        self.lobes = _table(v.lobes)
        self.zones = _table(v.zones)
        self.bands = _table(v.bands)
        self.descriptors = _table(v.descriptors)
        self.ordinals = _table(v.ordinals)
        self.checklists = _table(v.checklists)
        self.relative_positions = _table(v.relative_positions)
        self.references = _Terms((t, t) for t in (*v.references, *v.other_reference, *v.both_reference))
        self.other_reference = _Terms((t, t) for t in v.other_reference)
        self.both_reference = _Terms((t, t) for t in v.both_reference)
        self.checklist_cues = _Terms((t, t) for t in v.checklist_cues)
        self.intent_names = tuple(v.intents)
        self.intents = _Terms(((intent, weight), term) for intent, keywords in v.intents.items()
                              for term, weight in keywords)
        # find_sign_term: names of two or more characters (four for English, or an abbreviation in capitals: "GGO",
        # "TB"), lower-cased, longest wins
        self.sign_names = _Terms(((sign_id, len(name)), name.lower()) for sign_id, names in v.terms.items()
                                 for name in names
                                 if not (len(name) < 2 or (_is_latin(name) and len(name) < 4 and not name.isupper())))
        self.glossary_names = _Terms(((term_id, len(n)), n) for term_id, names in v.glossary.items()
                                     for n in (name.lower() for name in names)
                                     if len(n) >= 2)
        self.sign_terms = _table(v.sign_terms)
        # has_term(text, tuple(cues[name])) for every cue that is a list of terms
        self.cue_terms = {k: _Terms((t, t) for t in val) for k, val in v.cues.items() if isinstance(val, (list, tuple))}
        self.lobe_by_side = tuple((level, spec, _Terms((t, t) for t in spec["terms"])) for level, spec in v.lobe_by_side.items())
        self.generic_lobes = tuple((k, _Terms((t, t) for t in spec["terms"])) for k, spec in v.lobe_by_side.items())
        # str.replace sequences, in the order the parser applies them
        self.strip_terms = tuple(t.lower() for terms in v.lobes.values() for t in terms) + tuple(
            t.lower() for spec in v.lobe_by_side.values() for t in spec["terms"])
        self.lobe_strip = tuple(t.lower() for terms in v.lobes.values() for t in sorted(terms, key=len, reverse=True))
        self.ordinal_strip = tuple(t.lower() for terms in (*v.zones.values(), *v.bands.values()) for t in terms)
        self.ordinal_spaced = any(" " in t.lower() for terms in v.ordinals.values() for t in terms)
        self.alternatives = tuple(v.cues.get("alternatives", ("还是", " or ")))
        self.region_noun = re.compile(r"(?<![a-z])(" + "|".join(v.cues.get("region_nouns_en", ["zone"])) + r")(?![a-z])")
        self.zone_words = _bare_words(v.cues.get("zone_words_en", {}))
        self.band_words = _bare_words(v.cues.get("band_words_en", {}))
        stems = "|".join(re.escape(t) for t in v.cues.get("margin_parts_zh_stems", ()))
        after = "".join(v.cues.get("margin_parts_not_before", ()))
        self.margin_stems = (re.compile(f"({stems})(?![{re.escape(after)}])" if after else f"({stems})")
                             if stems else None)
        spec = v.foreign
        self.foreign_scripts = tuple((str(code), re.compile(pattern)) for code, pattern in spec.get("scripts", {}).items())
        self.english_words = frozenset(spec.get("english_words", ()))
        self.foreign_words = tuple((code, frozenset(words)) for code, words in spec.get("words", {}).items())
        self.non_english_letters = re.compile(spec.get("non_english_letters", r"$^"))
        self._cues = v.cues
        unit_terms = set(v.cues.get("unit_questions", ()))
        self.unit_keywords = _Terms((w, t) for t, w in v.intents.get("size", ()) if t in unit_terms)
        self.anatomy_states = {kind: tuple((sign, _Terms((t, t) for t in states)) for sign, states in specs)
                               for kind, specs in v.anatomy_states.items()}
        self.relation_landmarks = set(v.cues.get("relation_landmarks", ()))
        # structures a finding's edge is measured to where a distance is worded ("more than 2 cm from the heart")
        self.measured_structures = set(v.cues.get("measured_structures", ()))
        self.which_region = re.compile(v.cues["which_region"]) if v.cues.get("which_region") else None
        self.kinds = _table(v.kinds)
        self.side_letter = re.compile(v.cues["side_letter"]) if v.cues.get("side_letter") else None
        self.clause_end = re.compile(v.cues["clause_end"]) if v.cues.get("clause_end") else None
        self.asks = re.compile(v.cues["asks"]) if v.cues.get("asks") else None
        self.side_pointers = re.compile(v.cues["side_pointers"]) if v.cues.get("side_pointers") else None
        self.which_lesion = re.compile(v.cues["which_lesion"]) if v.cues.get("which_lesion") else None
        self.lesion_looked_for = re.compile(v.cues["lesion_looked_for"]) if v.cues.get("lesion_looked_for") else None
        self.more_of_concern = re.compile(v.cues["more_of_concern"]) if v.cues.get("more_of_concern") else None
        self.measure_value = re.compile(v.cues["measure_value"]) if v.cues.get("measure_value") else None
        self.general_difference = re.compile(v.cues["general_difference"]) if v.cues.get("general_difference") else None
        self.material_compared = re.compile(v.cues["material_compared"]) if v.cues.get("material_compared") else None
        self.resembles = re.compile(v.cues["resembles"]) if v.cues.get("resembles") else None
        self.courtesy = re.compile(v.cues["courtesy"]) if v.cues.get("courtesy") else None
        self.report_heading = re.compile(v.cues["report_heading"]) if v.cues.get("report_heading") else None
        history = "|".join(v.cues[k] for k in ("history", "family_history") if v.cues.get(k))
        self.history = re.compile(history) if history else None
        self.family_history = re.compile(v.cues["family_history"]) if v.cues.get("family_history") else None
        self.two_pointers = tuple(re.compile(p) for p in v.cues.get("two_pointers", ()))
        self.descriptor_pointers = tuple((d, re.compile(p)) for d, p in v.cues.get("descriptor_pointers", {}).items()
                                         if not d.startswith("_")) + descriptor_pointers()  # "那个钙化的呢" too
        # Chinese homophone typos ("异长" for 异常): each pattern is replaced by its word before matching
        self.zh_typos = tuple((word, re.compile(pattern)) for word, pattern in v.cues.get("zh_typos", {}).items()
                              if not word.startswith("_"))
        # "the one near the diaphragm": landmark terms (a search only where one occurs) and the cue patterns
        prox = v.proximity
        self.landmark_of = {t.lower(): name for name, terms in prox.get("landmarks", {}).items() for t in terms}
        self.landmarks = _Terms((t, t) for t in self.landmark_of)
        self.proximity_cue_of, self.proximity_patterns = _proximity_patterns(prox, tuple(self.landmark_of))
        # "the lateral one" / "内侧那个": the finding farthest from (nearest to) the mediastinum
        midline = prox.get("toward_midline", {})
        self.midline_patterns = tuple((cue, re.compile(midline[cue])) for cue in ("far", "near") if midline.get(cue))

        # one search per text for every term above (the cue fallback in ``cue`` has its own)
        groups = [t for t in vars(self).values() if isinstance(t, _Terms)]
        groups += [t for _, _, t in self.lobe_by_side] + [t for _, t in self.generic_lobes] + list(self.cue_terms.values())
        groups += [t for specs in self.anatomy_states.values() for _, t in specs]
        shared = _Matcher(t for g in groups for t in g.lows)
        for g in groups:
            g.matcher = shared

    def cue(self, name: str) -> _Terms:
        found = self.cue_terms.get(name)
        if found is None:  # not a list (or absent): what has_term(text, tuple(value)) would look for
            found = self.cue_terms[name] = _Terms((t, t) for t in tuple(self._cues.get(name, ())))
        return found


def _alternation(terms: Iterable[str]) -> str:
    """A regex alternation of the terms, longest first (the longest wins at a position)."""
    return "|".join(re.escape(t) for t in sorted({t.lower() for t in terms}, key=lambda t: (-len(t), t)))


def _proximity_patterns(prox: dict[str, Any], landmarks: tuple[str, ...]) -> tuple[dict[str, str], tuple[re.Pattern[str], ...]]:
    """The cue words (→ near | far) and the patterns of a landmark cue that describes a lesion, each with the
    groups ``cue`` and ``lm``: English after a lesion word ("the one closest to the hilum", "the nodule that is
    near the pleura") or as a superlative ("the closest one to the hilum"); Chinese as a relative clause
    ("靠近膈肌的", "离肺门最近的", "肺门附近的")."""
    if not landmarks:
        return {}, ()
    cue_of = {t: "near" for t in (*prox.get("near_en", ()), *prox.get("near_before_zh", ()), *prox.get("near_after_zh", ()))}
    cue_of |= {t: "far" for t in (*prox.get("far_en", ()), *prox.get("far_before_zh", ()))}
    by_distance = prox.get("by_distance_zh", {})
    cue_of |= {t: kind for kind in ("near", "far") for t in by_distance.get(kind, ())}
    lm = _alternation(landmarks)
    pointer = _alternation(prox.get("pointers_en", ()))
    en_cue = _alternation((*prox.get("near_en", ()), *prox.get("far_en", ())))
    sup = _alternation(prox.get("superlatives_en", ()))
    before_zh = _alternation((*prox.get("near_before_zh", ()), *prox.get("far_before_zh", ())))
    after_zh = _alternation(prox.get("near_after_zh", ()))
    distance_zh = _alternation(t for kind in ("near", "far") for t in by_distance.get(kind, ()))
    sides = r"(?:(?:the|its|a|left|right)\s+)*"
    patterns = [
        rf"(?<![a-z])(?P<ptr>{pointer})s?(?:\s+(?:that|which|that's|is|lies|sits|lying|sitting|located|situated|right|just"
        rf"|most|the|one))*\s+(?P<cue>{en_cue})(?:\s+(?:to|from|of|by|against|up to|away from))?\s+{sides}(?P<lm>{lm})(?![a-z])",
        rf"(?<![a-z])the\s+(?P<cue>{sup})(?:\s+(?:{pointer})s?)?\s+(?:to|from)\s+{sides}(?P<lm>{lm})(?![a-z])",
    ]
    if before_zh:
        patterns.append(rf"(?P<cue>{before_zh})(?:右|左)?侧?(?P<lm>{lm})(?:{after_zh})?(?:的|那|这)" if after_zh
                        else rf"(?P<cue>{before_zh})(?:右|左)?侧?(?P<lm>{lm})(?:的|那|这)")
    if distance_zh:
        patterns.append(rf"(?:离|距离|距|与|跟|和)(?:右|左)?侧?(?P<lm>{lm})(?:的?距离)?(?:最为|最|更为|更|较为|较|比较|相对|稍微|稍|很)?"
                        rf"(?P<cue>{distance_zh})(?:一些|一点|些)?(?:的|那|这)")
    if after_zh:
        patterns.append(rf"(?P<lm>{lm})(?P<cue>{after_zh})(?:的|那)")
    return cue_of, tuple(re.compile(p) for p in patterns)


def _bare_words(bare_en: dict[str, list[str]]) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    return tuple((k, tuple(re.compile(rf"(?<![a-z]){w}(?![a-z])") for w in words)) for k, words in bare_en.items())


# --- location ----------------------------------------------------------------------------------


def _side_mentions(text: str, vocab: Vocabulary) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for side, positions in vocab.index.sides.found(text):
        out.extend((p, side) for p in positions)
    # 左右 / left and right = both: not a side
    return sorted(out)


def _anatomy_mentions(text: str, vocab: Vocabulary) -> list[tuple[int, str]]:
    spans: list[tuple[int, int, str]] = []
    for (name, n), positions in vocab.index.anatomy.found(text):
        spans.extend((p, p + n, name) for p in positions)
    # a term inside a longer term of another name does not count ("心影" inside "心影后")
    kept = [s for s in spans if not any(o[2] != s[2] and o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0]
                                        for o in spans)]
    first: dict[str, int] = {}
    for pos, _, name in kept:
        first[name] = min(pos, first.get(name, pos))
    return sorted((p, n) for n, p in first.items())


def _bound_side(text: str, side_pos: int, anatomy_pos: list[int]) -> bool:
    """A side word directly before an anatomy word ('右肺门', 'right hilum') belongs to it."""
    return any(0 < a - side_pos <= (4 if _CJK.search(text[side_pos : side_pos + 1]) else 8) for a in anatomy_pos)


_SAID_OF_IT = re.compile(r"它|这个的|那个的|(?<![a-z])(?:of|from|than)\s+(?:it|this|that|the\s+\w+)(?![a-z])|(?<![a-z])it(?![a-z])")
_WHERE = re.compile(r"(?<![a-z])where(?![a-z])|(?<![a-z])which side(?![a-z])|在哪|哪侧|哪边")


def _where_is_the_kind(intent: str, text: str, descriptors: tuple[str, ...]) -> str:
    """"where is the effusion?": where the finding named by its kind lies (a place question, as "积液在哪里" is read),
    not whether the film shows the sign; with none found the engine answers the sign."""
    if intent == "assess_anatomy" and _WHERE.search(text) and any(d in ("effusion", "consolidation") for d in descriptors):
        return "locate"
    return intent


def _relative_position(text: str, ix: Any, named: bool) -> str | None:
    """"the one above it" / "它下面那个": beside the focus, by image position. "左边那个" / "右侧那个" alone is the one on
    that side, as "the left one" is; beside something only when said of it ("它左边那个", "A1左边那个", "to the left of
    it"): it bound the nearest finding to the patient's left of the focus, a right-lung one."""
    relative = _first_key(text, ix.relative_positions)
    if relative in ("left", "right") and not (named or _SAID_OF_IT.search(text)):
        return None
    return relative


# "左上那个" / "右下的": a side and a height run together as a place on the film, the zone of that height (a lobe keeps
# its own words: "右上叶" is the lobe)
_ZH_CORNER = re.compile(r"[左右]([上中下])(?=那|这|的|方|边|面|部|侧|一|处|个|角)")
_ZH_HEIGHT: dict[str, str] = {"上": "upper", "中": "middle", "下": "lower"}


def _zh_corner_zone(text: str) -> str | None:
    m = _ZH_CORNER.search(text)
    return _ZH_HEIGHT[m.group(1)] if m else None


def parse_location(text: str, vocab: Vocabulary) -> dict[str, Any]:
    sides = _side_mentions(text, vocab)
    anatomy = _anatomy_mentions(text, vocab)
    anatomy_pos = [p for p, _ in anatomy]
    side_set = {s for _, s in sides}
    side = side_set.pop() if len(side_set) == 1 else None
    lesion_sides = {s for p, s in sides if not _bound_side(text, p, anatomy_pos)}
    lesion_side = lesion_sides.pop() if len(lesion_sides) == 1 else None
    ix = vocab.index
    lobe = _first_key(text, ix.lobes)
    lobe_level = None
    if lobe is None:
        for level, spec, spec_terms in ix.lobe_by_side:
            if spec_terms.any_in(text) and (lesion_side or side):
                lobe = spec[lesion_side or side or "right"]
                break
            if spec_terms.any_in(text) and lobe_level is None:  # no side named: the lobe of that name on either side
                lobe_level = level
    if lobe is not None:
        implied = "right" if lobe.startswith("R") else "left"
        side = side or implied
        lesion_side = lesion_side or implied
    names: list[str] = []
    for pos, name in anatomy:
        bound = [s for p, s in sides if 0 < pos - p <= 8]
        names.append(f"{name}_{bound[-1]}" if bound and name in _SIDED_ANATOMY else name)
    stripped = _strip_terms(text, vocab)
    zone_alt = _alternatives(stripped, ix.zones, ix.zone_words, vocab)
    band_alt = _alternatives(stripped, ix.bands, ix.band_words, vocab)
    lobe_alt = _lobe_alternatives(text, vocab)
    # "在左肺还是右肺?" / "left or right lung?": both sides offered as choices ask which one
    side_alt = len({s for _, s in sides}) >= 2 and any(c in text for c in ix.alternatives)
    return {
        "side": side if not lobe_alt or sides else None,
        "lesion_side": lesion_side if not lobe_alt or sides else None,
        "lobe": None if lobe_alt else lobe,
        "lobe_level": None if lobe_alt or lobe else lobe_level,
        "zone": None if zone_alt else (_first_key(stripped, ix.zones) or _zh_corner_zone(text)),
        "band": None if band_alt else _first_key(text, ix.bands),
        "anatomy": tuple(dict.fromkeys(names)),
        "asks_region": zone_alt or band_alt or lobe_alt or side_alt,
    }


def _lobe_alternatives(text: str, vocab: Vocabulary) -> bool:
    """"the middle lobe or the lower lobe?" / "上叶还是下叶?": lobes offered as choices."""
    ix = vocab.index
    named = set(_all_keys(text, ix.lobes))
    rest = text
    for t in ix.lobe_strip:
        if t in rest:
            rest = rest.replace(t, " ")
    named |= {f"generic_{k}" for k, spec_terms in ix.generic_lobes if spec_terms.any_in(rest)}
    return len(named) >= 2 and any(c in text for c in ix.alternatives)


def _alternatives(text: str, table: _Terms, bare_en: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...],
                  vocab: Vocabulary) -> bool:
    """"upper, middle or lower zone?" / "内带还是外带?": two or more values of one location group
    offered as choices. The question asks which one, so it names none of them."""
    ix = vocab.index
    keys = set(_all_keys(text, table))
    if ix.region_noun.search(text):
        keys |= {k for k, words in bare_en if any(w.search(text) for w in words)}
    return len(keys) >= 2 and any(c in text for c in ix.alternatives)


_CLOCK = re.compile(r"o'clock|点钟方?向?|点方向|(?<![a-z])clock(?![a-z])")
_SIDED_ANATOMY = frozenset({"hilum", "apex", "costophrenic_angle", "subclavicular", "diaphragm", "pleura"})


def _strip_terms(text: str, vocab: Vocabulary) -> str:
    """Remove lobe names so that 'lower lobe' does not also read as the lower zone."""
    out = text
    for t in vocab.index.strip_terms:
        if t in out:
            out = out.replace(t, " ")
    return out


# --- intent ----------------------------------------------------------------------------------


# a finding's properties a later clause may ask too, and where a clause starts
# "where is it and how big is it?": the place asked with a property, each answered (locate has its own sections)
_ALSO_INTENTS = ("size", "describe_margin", "density", "locate")
_THRESHOLD_WEIGHT = 5.0  # "bigger than 1 cm": a size threshold asks the size (or, from a landmark, a distance)
_CLAUSES = re.compile(r"[,，;；?？。]|(?<![a-z])(?:and|also|plus)(?![a-z])|以及|还有|并且|另外|同时")


def _from_landmark(clause: str, scores: dict[str, float], vocab: Vocabulary) -> bool:
    """Whether the clause measures the finding from a landmark or a structure measured ("is it more than 2 cm from the
    hilum", "离肺门多远", "more than 2 cm from the heart"), or words a distance to one ("within 1 cm of the pleura")."""
    ix = vocab.index
    landmark = {n for _, n in _anatomy_mentions(clause, vocab)} & (ix.relation_landmarks | ix.measured_structures)
    return bool(landmark) and (scores.get("measure_relation", 0) >= 2 or distance_words(clause, vocab) is not None)


def _clause_asks(clause: str, vocab: Vocabulary) -> str | None:
    """The clause's own strongest intent, where it is one of ``_ALSO_INTENTS`` scoring 1 or more, or its distance
    from a landmark ("where is it and is it more than 2 cm from the hilum?": ``measure_relation``); a size threshold in
    it ("and is it bigger than 1 cm?") asks the size, as it does of a whole question (``_measure_bonuses``), unless
    the clause measures from a landmark ("more than 2 cm from the pleura")."""
    scores = score_intents(_SIDE_BIAN.sub("侧", clause), vocab)  # "左边那个": a side, not the margin's 边
    from_landmark = _from_landmark(clause, scores, vocab)
    if size_threshold(clause, vocab) and not from_landmark:
        scores["size"] = scores.get("size", 0) + _THRESHOLD_WEIGHT
    elif from_landmark and distance_threshold(clause, vocab):  # "is it within 2 cm of the pleura": the distance
        scores["measure_relation"] = scores.get("measure_relation", 0) + _THRESHOLD_WEIGHT
    if margin_part_named(clause):  # "where are the notches?": the margin's part placed, as of a whole question
        scores["describe_margin"] = scores.get("describe_margin", 0) + max(scores.get("size", 0), scores.get("locate", 0))
    best = max(scores, key=lambda k: scores[k], default=None)
    parts = (*_ALSO_INTENTS, "measure_relation") if from_landmark else _ALSO_INTENTS
    return best if best in parts and scores[best] >= 1.0 else None


def thresholds_asked(text: str, vocab: Vocabulary) -> tuple[tuple[str, float] | None, tuple[str, float] | None]:
    """The size's threshold and the distance's: each from its own clause where a clause measures from a landmark ("is
    it more than 2 cm from the hilum and is it bigger than 1 cm?": 10 mm and 20 mm, both 20 mm before; "how big is it
    and is it more than 2 cm from the heart?": no size's); else the whole question's ("are A1 and A2 more than 3 cm
    apart?")."""
    clauses = _CLAUSES.split(text)
    measured = [c for c in clauses if distance_threshold(c, vocab) and _from_landmark(c, score_intents(c, vocab), vocab)]
    if not measured:
        return size_threshold(text, vocab), distance_threshold(text, vocab)
    sized = [c for c in clauses if size_threshold(c, vocab) and c not in measured]
    return (size_threshold(sized[0], vocab) if sized else None), distance_threshold(measured[0], vocab)


def threshold_from_landmark(text: str, vocab: Vocabulary) -> bool:
    """Whether a clause holding a size threshold measures from a landmark ("where is it and is it more than 2 cm from
    the hilum?"): a distance's threshold, not a size's."""
    return any(size_threshold(c, vocab) and _from_landmark(c, score_intents(c, vocab), vocab)
               for c in _CLAUSES.split(text))


def margin_part_asked(text: str, intent: str, also: tuple[str, ...], vocab: Vocabulary) -> str | None:
    """``margin_part_named`` of a question that names a part of the margin (``_margin_part``), where it asks the
    margin; of the later clause that asks it where the margin is a further part ("is it bigger than 1 cm and how long
    are its spicules?")."""
    if intent == "describe_margin":
        return margin_part_named(text)
    if "describe_margin" not in also:
        return None
    asking = (c for c in _CLAUSES.split(text)[1:] if _margin_part(c, vocab) and _clause_asks(c, vocab) == "describe_margin")
    return next((part for part in map(margin_part_named, asking) if part is not None), None)


def also_asked(text: str, intent: str, vocab: Vocabulary) -> tuple[str, ...]:
    """"How big is it, and is it calcified?": the properties of the same finding asked in the clauses after the first
    (each clause's own strongest intent, one of ``_ALSO_INTENTS`` other than ``intent``), in order; after a first
    clause that measures from a landmark too ("is it more than 2 cm from the hilum and where is it?")."""
    clauses = _CLAUSES.split(text)
    if intent not in _ALSO_INTENTS and not (intent == "measure_relation" and _clause_asks(clauses[0], vocab) == intent):
        return ()
    asked = (_clause_asks(clause, vocab) for clause in clauses[1:])
    return tuple(dict.fromkeys(a for a in asked if a is not None and a != intent))


def first_asked(text: str, intent: str, vocab: Vocabulary) -> str:
    """"Is it bigger than 1 cm and is its margin smooth?" / "where is it and is it bigger than 1 cm?": a size threshold
    (or a distance's: "is it within 2 cm of the pleura and how big is it?") scores by a bonus of the whole question,
    wherever it stands; the property the first clause asks (one of ``_ALSO_INTENTS``, or its distance from a landmark,
    where that clause asks and a later one asks ``intent``) is answered first, as it is of two clauses that each score
    on their own (the margin, or the size alone, had answered both)."""
    clauses = _CLAUSES.split(text)
    if (intent not in (*_ALSO_INTENTS, "measure_relation") or len(clauses) < 2 or vocab.index.asks is None
            or not distance_threshold(text, vocab)):
        return intent
    first = _clause_asks(clauses[0], vocab)
    if first is None or first == intent or not vocab.index.asks.search(clauses[0]):  # ("the smooth one, over 1 cm?")
        return intent
    return first if intent in also_asked(text, first, vocab) else intent


def score_intents(text: str, vocab: Vocabulary) -> dict[str, float]:
    """Keyword weights summed per intent. A keyword found only inside a longer keyword of another intent counts
    for that one alone ("define" in "well-defined" is a margin word, "size" in "heart size" the heart's)."""
    ix = vocab.index
    scores = dict.fromkeys(ix.intent_names, 0.0)
    found = ix.intents.found_terms(text)
    spans = [(p, p + len(t), intent) for (intent, _), t, positions in found for p in positions]
    for (intent, weight), t, positions in found:  # in keyword order: the same sums as adding them one by one
        if len(spans) > 1 and all(_inside_other(p, p + len(t), intent, spans) for p in positions):
            continue
        scores[intent] += weight
    return scores


_NOT_THE_ONE = re.compile(r"(?<![a-z])not (?:the |that )?([a-z-]+(?: [a-z-]+)?) (?:one|lesion|opacity)(?![a-z])"
                          r"|不是(?:那个)?(\S{1,6}?的?)那(?:个|一个|处)"
                          r"|不是(?:那个)?([^\s,，、;；]{1,6}?)的?\s*[,，、;；]\s*(?:而?是)?(?:另|别的)")
_ALTERNATION = re.compile(r"或者|或是|还是|(?<![a-z])or(?![a-z])")
# "结节多大?边缘光不光滑?": two questions in one; the first is answered (the reader asks the second next)
_QUESTION_END = re.compile(r"[?？]\s*(?=\S)")
# a lung named as the organ ("the right lung", "左肺", "右侧肺"), not a lobe, zone or hilum of it
_LUNG_NAMED = re.compile(r"(?<![a-z])(?:right|left)\s+(?:lung|hemithorax)(?![a-z])|[左右]侧?肺(?![门尖底叶野上中下部])")
# an elliptical follow-up: "那右边那个呢", "and the one on the left?", "what about the other one?"
# ("what about 左边那个": an English opening before Chinese words; "换左边那条看看": another finding tried)
_ELLIPSIS = re.compile(r"呢\s*[?？]?\s*$|^(?:那|那么)(?!个)|^(?:再|也|换个|换成)(?:看看|看一下|瞧瞧)"
                       r"|^(?:那|那么)?换(?:成|到)?[^,，?？]{1,12}?(?:看看|看一下|瞧瞧)\s*[?？]?\s*$"
                       r"|^(?:and|what about|how about|same for|and for|now)(?![a-z])"
                       # a correction asks again what was asked: "no, I meant the other one", "不是这个,是左边那个"
                       r"|^(?:no[,.]?\s*)?i meant(?![a-z])|^no[,.]?\s+(?:the|not)(?![a-z])|^不是(?:这个|那个|它|这)")


# "换成下面那条看看呢" / "左边那个也看看呢": trying the question on another finding, the verb asks nothing
_TRY_TAIL = re.compile(r"(?:看看|看一下|瞧瞧)(?=呢\s*[?？]?\s*$)|^(?:那|那么)?(?:再|也|换个|换成)(?:看看|看一下|瞧瞧)")
# "换左边那条看看": the same, with "换" before the finding and the verb at the end (group 1)
_SWAP_TRY = re.compile(r"^(?:那|那么)?换(?:成|到)?[^,，?？]{1,12}?(看看|看一下|瞧瞧)(?=\s*[?？]?\s*$)")


def _blank_try_verbs(text: str) -> str:
    """The text with the verbs of trying the question on another finding blanked (``_TRY_TAIL``, ``_SWAP_TRY``)."""
    text = _TRY_TAIL.sub(lambda m: " " * len(m.group(0)), text)
    swap = _SWAP_TRY.match(text)
    if swap is not None:
        text = text[: swap.start(1)] + " " * (swap.end(1) - swap.start(1)) + text[swap.end(1):]
    return text


# "write a report" / "what's your impression?" / "summarize the findings" / "写一份报告" / "总结一下" / "结论"
# a summary asked for at the question's start ("summarise the session", "sum up what we found", "write the report", "总结一下")
_SUMMARY_REQUEST = re.compile(r"^\W*(?:(?:please|pls|can you|could you|now|ok(?:ay)?|so|and|then)[,，\s]+)*"
                              r"(?:summari[sz]e|sum up|give (?:me )?(?:a |the )?(?:summary|report)|"
                              r"(?:write|draft) (?:up )?(?:me )?(?:a |the |my )?(?:summary|report))(?![a-z])|"
                              r"^\W*(?:请|帮我|麻烦)?(?:总结|小结|汇总|归纳)|^\W*(?:请|帮我|麻烦)?写(?:一下|一份|个)?(?:报告|小结|总结)")
_SUMMARY_ASKED = re.compile(r"(?<![a-z])(?:report|impression|summar|sum up|in a nutshell|one-line|one line|conclusion)|报告|结论|总结|"
                            r"小结|印象")
_ZH_SIZE_ORDER = re.compile(r"比.{0,16}?(?:更|还)?(大|小)|(?:更|较)(大|小)")


def size_asked(text: str, descriptors: Sequence[str]) -> str | None:
    """"is A1 bigger than A2?": large; "A1比A2小吗": small; None when no size is compared."""
    sizes = [d for d in descriptors if d in ("large", "small")]
    if len(sizes) == 1:
        return sizes[0]
    zh = _ZH_SIZE_ORDER.search(text)
    return None if sizes or zh is None else ("large" if "大" in zh.group(0) else "small")


# "is this film normal?" / "片子正常吗" / "一切正常吗": asked of the whole film (with the screening's yes/no)
_NORMAL_ASKED = re.compile(r"(?<![a-z])normal(?![a-z])|正常")

# "右边" / "这边" / "两边": a side or a place, not the margin's "边"
_SIDE_BIAN = re.compile(r"(?<=[右左旁这那两一外内身])边")


_ABOUT_THE_STATEMENT = re.compile(r"(?:那|这)?(?:跟这个|和这个|跟它|和它|跟这|和这)?有关(?:系)?(?:吗|没有|不)[?？]*$"
                                  r"|(?:is|are|could) (?:that|this|it|they) (?:be )?related\??$|does (?:that|this|it) matter\??$")


def first_question(text: str, vocab: Vocabulary) -> str:
    """The text's first question when it asks something on its own (a keyword of weight 3 or more, a disease whose
    signs it asks, or the diagnosis), else the whole text: "Is the round spot malignant? and should he do surgery?"
    and "diagnosis是什么?会不会是lung cancer?" ask the first."""
    m = _QUESTION_END.search(text)
    if m is None:
        return text
    first = text[: m.start()]
    ix = vocab.index
    # (or a value it checks: "the spot is 12 mm, is that right? the round one I mean")
    # (or a kind of lesion it looks for: "Is there a mass in the right upper lobe? Referral says 'RUL shadow'.")
    if (max(score_intents(first, vocab).values(), default=0.0) >= 3 or _first_key(first, ix.checklists) is not None
            or ix.cue("diagnosis").any_in(first) or (ix.measure_value is not None and ix.measure_value.search(first))
            or kind_asked(first, vocab) == "lesion"):
        return first
    return text


def _first_question_scores(text: str, vocab: Vocabulary) -> dict[str, float]:
    """The intent scores of the text's first question when it asks something on its own (a keyword
    of weight 3 or more), else of the whole text."""
    text = first_question(_SIDE_BIAN.sub("侧", text), vocab)
    # "the report mentioned something at the left base, is that thing smooth-edged?": the statement asks nothing;
    # nor does it when the question after it asks how bad the thing is ("结节边上毛毛的,要紧吗": no margin asked)
    asked = after_statements(text, vocab)
    # ("血常规 WBC 有点高,有关系吗?": a question whether what was stated bears on it asks about the statement; one that
    # checks a value or names a disease asks on its own: "My doctor said anything above 8 mm needs a CT. Is the RML
    # nodule over 8 mm?", "Patient 说他咳嗽两周了，胸片上有 pneumonia 吗?")
    asks_own = ((vocab.index.measure_value is not None and vocab.index.measure_value.search(asked) is not None)
                or _first_key(asked, vocab.index.checklists) is not None)
    if asked != text and not _ABOUT_THE_STATEMENT.match(asked.strip()) and (
            max(score_intents(asked, vocab).values(), default=0.0) >= 3 or vocab.index.cue("concern").any_in(asked)
            or asks_own):
        text = asked
    # "结节多大,离胸膜多远" / "where is it and how big is it": two clauses that each ask; the first is answered
    ix = vocab.index
    # ... and so is "右肺那个东西有多大啊,医生说要我三个月后复查": a clause that asks, then a statement of the follow-up or
    # care that asks nothing (the statement's out-of-scope words are no question)
    c = ix.clause_end.search(text) if ix.clause_end is not None and ix.asks is not None else None
    if c is not None and ix.asks is not None and ix.asks.search(text[: c.start()]):
        rest = text[c.end():]
        rest_scores = score_intents(rest, vocab)
        said = not ix.asks.search(rest) and max(rest_scores, key=lambda k: rest_scores[k]) == "out_of_scope"
        if ix.asks.search(rest) or said:
            first = score_intents(text[: c.start()], vocab)
            if max(first.values(), default=0.0) >= 3:
                return first
    return score_intents(text, vocab)


def _inside_other(start: int, end: int, intent: str, spans: list[tuple[int, int, str]]) -> bool:
    return any(i != intent and a <= start and end <= b and b - a > end - start for a, b, i in spans)


def _longest_named(text: str, names: _Terms) -> str | None:
    """The key whose name in ``text`` is longest (in the table's order: the first longest wins)."""
    best: tuple[int, str] | None = None
    for (key, n), _ in names.found(text):
        if best is None or n > best[0]:
            best = (n, key)
    return best[1] if best else None


def _blank_sign(text: str, sign: str, vocab: Vocabulary) -> str:
    """``text`` with every name of ``sign`` in it blanked (same length), but a name that is itself an out-of-scope
    word ("does he need surgery?" names the sign "surgery" and asks a treatment)."""
    for (key, n), positions in vocab.index.sign_names.found(text):
        if key != sign:
            continue
        for p in positions:
            if any(intent == "out_of_scope" and len(t) >= n
                   for (intent, _), t, _ in vocab.index.intents.found_terms(text[p:p + n])):
                continue
            text = text[:p] + " " * n + text[p + n:]
    return text


def _apart_from_sign(scores: dict[str, float], text: str, sign: str | None, vocab: Vocabulary) -> dict[str, float]:
    """``scores`` with the out-of-scope score of ``text`` apart from ``sign``'s name: "有没有脊柱侧弯" / "有手术后改变吗"
    name a sign whose own name holds an out-of-scope word ("脊柱", "手术") and ask about the film, not another body
    part or a treatment; out of scope only by the question's other words."""
    if not sign or scores.get("out_of_scope", 0.0) < 5:
        return scores
    return {**scores, "out_of_scope": _first_question_scores(_blank_sign(text, sign, vocab), vocab).get("out_of_scope", 0.0)}


_REGION_PLACES = frozenset({"apex", "subclavicular", "retrocardiac"})
# ... and the places a question naming nothing else is screened for, the pleura with them ("how's the pleura?")
_SCREENED_PLACES = _REGION_PLACES | {"pleura"}


def _region_asked(intent: str, text: str, features: dict[str, Any], signs: tuple[str, ...]) -> bool:
    """"How is the left base?" / "how are the lung apices?" / "锁骨下区怎么样": a region of the lungs asked how it looks,
    with no finding in it named, is that region's screening, as "左下肺怎么样" and "anything at the apices?" are (they
    were "no lesion matching that description", or the cardiothoracic ratio). An ellipsis ("what about the apices?")
    keeps pointing at a finding there."""
    places = set(features["anatomy_kinds"])
    if not (places <= _REGION_PLACES and (features["has_location"] or places)) or (
            features["pointed"] or features["anchor_ids"] or features["descriptors"] or signs or features["term"]
            or features["ordinal"] is not None or features["other"] or features["both"] or _LESION_WORD.search(text)):
        return False
    if intent == "assess_anatomy":  # "锁骨下呢": a place below the clavicle is no structure to assess (it got the ratio)
        return bool(places)
    return intent == "locate" and not features["elliptical_form"] and bool(_STATE_ASKED.search(text))


def find_sign_term(text: str, vocab: Vocabulary) -> str | None:
    """The ontology sign named in the text (longest name wins)."""
    return _longest_named(text, vocab.index.sign_names)


GLOSSARY_PREFIX = "glossary:"  # Query.term of a glossary word (ontology/glossary.json), not a sign
# sign categories (signs.json) of what Hilum does not read at all: a question whether the film shows one is answered
# "not read", with why (orchestrator/dialogue/checklists.py), never with something else it did read
UNREAD_CATEGORIES = frozenset({"bone", "device", "diaphragm_abdomen", "soft_tissue"})
# signs nothing on the film evidences (signs.json "evidence": null) that a finding of the lesion map could still be: a
# presence question of them is not answered "not read"
LESION_LIKE_SIGNS = frozenset({"infiltrates", "alveolar_pattern", "ground_glass_pattern", "increased_density",
                               "calcified_densities", "round_atelectasis", "cyst", "bullas", "pleural_mass",
                               "mediastinal_mass", "end_on_vessel", "miliary_opacities", "air_fluid_level"})
UNREAD_SIGNS = frozenset({"adenopathy", "atelectasis"})  # ... and single signs of other categories (lymph nodes, volume loss)
# confidence, what may be missed: Hilum's own limits or accuracy asked ("what are the limits of this reading?", "what
# might you miss?", "how good are you on real films?", "你的局限性是什么"), never "within normal limits"
_LIMITS_ASKED = re.compile(
    r"(?<![a-z])(?:(?:your|its|hilum'?s|the|this) (?:reading'?s? )?limitations?|limit(?:s|ations) of (?:this|the|your|"
    r"hilum)|what (?:might|could|would|can|do|did) (?:you|it|hilum) (?:have )?miss|how (?:good|accurate|reliable|sensitive) "
    r"(?:are you|is (?:it|hilum|this system))(?: on real (?:films|x-?rays|radiographs))?\s*[?？.]*\s*$|"
    r"(?:on|with|for) real (?:films|x-?rays|radiographs|patients))(?![a-z])"
    r"|局限|准确率|(?:在|对)真实(?:的)?(?:胸片|片子|病人)|会漏(?:掉|诊)?什么")
# confidence: which statement's probability is asked (first match wins)
_ATTRIBUTE_ASKED = (
    # "could you have missed a small nodule?" / "会不会漏掉": what the read may have missed, not a statement made
    ("missed", re.compile(r"\bmiss|漏")),
    ("margin", re.compile(r"margin|edge|border|outline|spicul|lobul|smooth|irregular|边缘|边界|毛刺|分叶|光滑|规则")),
    ("size", re.compile(r"\bsize|\bbig\b|diameter|\bmm\b|\bcm\b|measure|大小|多大|直径|尺寸|测量")),
    ("density", re.compile(r"dens|calcif|cavit|solid|密度|钙化|空洞|实性")),
    ("lobe", re.compile(r"\blobe|location|where|肺叶|位置|哪个叶")),
    ("presence", re.compile(r"\breal\b|really there|there at all|exist|真的有|确实有|是不是真的|存在")),
)


_LANGUAGE_ASKED = (
    ("en", re.compile(r"\b(?:answer|reply|respond|speak|talk|write|switch)\w*\b.{0,20}\b(?:in|to)\s+english\b|"
                      r"\bin english,? please\b|用英[文语]|说英[文语]|讲英[文语]|换成英[文语]|英[文语](?:回答|回复|说)")),
    ("zh", re.compile(r"\b(?:answer|reply|respond|speak|talk|write|switch)\w*\b.{0,20}\b(?:in|to)\s+(?:chinese|mandarin)\b|"
                      r"\bin (?:chinese|mandarin),? please\b|用中文|说中文|讲中文|换成中文|中文(?:回答|回复|说)|用汉语|用普通话")),
)


_SOCIAL = (
    # (with an acknowledgement before and a form of address after: "ok 谢谢 doctor", "thanks doc")
    ("thanks", re.compile(r"^\W*(?:(?:ok(?:ay)?|好的|好|great|got it)[,，\s]*)?"
                          r"(?:thanks?(?: you)?(?: (?:so|very) much)?|thx|cheers|"
                          r"谢谢(?:你|您)?(?:了)?|多谢(?:晒)?|唔该(?:晒)?|感谢(?:你|您)?)"
                          r"[,，\s]*(?:doctor|doc|dr|医生|大夫|老师)?\W*$")),
    ("hello", re.compile(r"^\W*(?:hello|hi|hey|good (?:morning|afternoon|evening)|你好|您好|嗨|早上好|下午好|晚上好)\W*$")),
    ("repeat", re.compile(r"^\W*(?:(?:please|pls|sorry|could you|can you)[,，\s]*)*(?:repeat(?: that| it| the (?:last )?answer)?|"
                          r"say (?:it|that) again|come again|pardon|再说一遍|再讲一遍|重复一下|重复一遍|再说一次|没听清|没看清)"
                          r"[,，\s]*(?:please|pls|doctor|doc|医生|大夫)?\W*$")),
    # "in mm?" / "and in cm?" / "换算成毫米呢": the last answer in another unit; the answers give mm and cm together,
    # so it is said again (it had answered the finding's size, whatever was asked)
    ("repeat", re.compile(r"^\W*(?:(?:and|so|ok(?:ay)?|what about|how about)[,，\s]+)?(?:(?:in|into|as|to)\s+)?"
                          r"(?:mm|millimet(?:er|re)s?|cm|centimet(?:er|re)s?|inch(?:es)?)(?:\s+please)?\W*$|"
                          r"^\W*(?:那)?(?:换算成|换成|改成|改用|用|以)?(?:毫米|厘米|英寸)(?:表示|来说|为单位|计)?(?:呢|吧)?\W*$")),
    # "what language do you speak?" / "do you speak Chinese?" / "你会说英语吗": the languages Hilum answers in
    ("languages", re.compile(r"^\W*(?:(?:what|which) languages?(?: (?:do|can) you (?:speak|understand|use|answer in))?|"
                             r"(?:do|can) you (?:speak|understand|answer in) (?:english|chinese|mandarin)|"
                             r"你(?:会|能)?(?:说|讲|用)什么语言(?:回答)?|你(?:会|能)(?:说|讲)(?:中文|英文|英语|汉语|普通话)吗?|"
                             r"支持(?:哪些|什么)语言)\W*$")),
    ("bye", re.compile(r"^\W*(?:(?:ok(?:ay)?|好的|好|thanks?(?: you)?|谢谢)[,，\s]*)*(?:bye|goodbye|good bye|bye bye|see you|"
                       r"that'?s all(?: for now)?|再见|拜拜|先这样)[,，\s]*(?:doctor|doc|dr|医生|大夫|老师)?\W*$")),
)


# "describe the nodule" / "tell me more about it" / "描述一下这个结节": a description asked, no part of it named
_DESCRIBE = re.compile(r"\bdescribe\b|\bcharacteri[sz]\w*|\btell me (?:more )?about\b|\bin full\b|\bfully\b|\beverything about\b|描述|介绍一下|详细说")
_MARGIN_WORDS = re.compile(r"margin|edge|border|contour|outline|spicul|lobul|smooth|regular|notch|边缘|边界|毛刺|分叶|光滑|规则|轮廓|切迹")


# diseases a reader asks about that no checklist covers (checklists.json): key -> pattern
_UNLISTED_DISEASES = (
    ("metastasis", re.compile(r"metasta|转移")),
    ("lymphoma", re.compile(r"lymphoma|淋巴瘤")),
    ("sarcoidosis", re.compile(r"sarcoid|结节病(?!灶)")),
    ("atelectasis", re.compile(r"atelecta|(?<![a-z])collaps|肺不张")),
    ("scarring", re.compile(r"(?<![a-z])scar(?:s|ring|red)?(?![a-z])|fibros|fibrotic (?:scar|focus|lesion)|瘢痕|纤维灶|纤维化|陈旧")),
    ("hamartoma", re.compile(r"hamartoma|错构瘤")),
    ("pseudotumour", re.compile(r"pseudo-?tumou?r|炎性假瘤|假瘤")),
    ("abscess", re.compile(r"abscess|脓肿")),
)
# the checklist Hilum has that comes closest to a disease it has none for, shown in its place and named as that (a
# hamartoma and an inflammatory pseudotumour are benign nodules; an abscess forms in an infected lung); a disease not
# here is shown the default checklist "for reference only" ("could it be a metastasis?")
CLOSEST_CHECKLIST: MappingProxyType[str, str] = MappingProxyType({
    "hamartoma": "benign_nodule", "pseudotumour": "benign_nodule", "abscess": "pneumonia"})


def unlisted_disease(text: str) -> str | None:
    return next((key for key, pattern in _UNLISTED_DISEASES if pattern.search(text)), None)


# --- what Hilum cannot say, and the short follow-ups that ask of the last answer ---------------------------------

# "is it a tumor?" / "是肿瘤吗": a tumour asked, not a cancer ("tumour" names the early-lung-cancer checklist)
_TUMOUR_WORD = re.compile(r"tumou?r|neoplas|肿瘤|肿物")
_CANCER_WORD = re.compile(r"cancer|carcinoma|malignan|(?<![a-z])ca(?![a-z])|癌|恶性")


def verdict_asked(text: str, checklist: str | None, both_ways: bool, features: dict[str, Any]) -> str | None:
    """Whether a finding IS the disease named, or how likely it is, is asked ("is the nodule cancer?", "恶性的概率多大",
    "is it benign?"), not its signs counted ("any signs of lung cancer?", "if this were early lung cancer, how many
    typical signs?"): cancer | tumour | benign | benign_or_malignant; None."""
    if features["checklist_cue"] or not (both_ways or checklist in _BOTH_WAYS):
        return None
    if both_ways:
        return "benign_or_malignant"
    if checklist == "benign_nodule":
        return "benign"
    return "tumour" if _TUMOUR_WORD.search(text) and not _CANCER_WORD.search(text) else "cancer"


# "the former" / "the latter" / "前一个" / "后一个" (not "最后一个": the last, an ordinal); matched before the typo
# correction, which reads "latter" as "later"
_PAIR_PICK = re.compile(r"(?<![a-z])the (former|latter)(?:\s+(?:one|lesion|finding|nodule|opacity|mass|strand))?"
                        r"(?=\s*(?:[?？.!,，;]|$)|\s+(?:is|was|has|looks|seems|please)(?![a-z]))"
                        r"|(?<![最])([前后])(?:一|面那|面的)个(?!月|周|星期|年|天|片|检查|影像|结果)")


def pair_pick(raw: str) -> str | None:
    m = _PAIR_PICK.search(raw)
    if m is None:
        return None
    return "former" if (m.group(1) or m.group(2)) in ("former", "前") else "latter"


# "why?" / "why not?" / "why can't you tell?" / "how come?" / "为什么" / "为什么不能确定?": why, asked of the last answer
_WHY_ALONE = re.compile(
    r"^\W*(?:(?:but|and|so|ok(?:ay)?|hmm+)[,，\s]+)*(?:why|how come)(?:\s+(?:is that|so|not|is it|is it so|"
    r"(?:can'?t|cannot|can not|couldn'?t|didn'?t|don'?t) (?:you|it|hilum)(?: (?:tell|say|judge|decide|see|be sure|know))?"
    r"(?: (?:it|that|for sure))?|are you (?:not )?sure|(?:is it|is that) (?:uncertain|unclear|not sure|hedged)|"
    r"uncertain|unsure|not sure))?\W*$"
    r"|^\W*(?:那|但是?|可是)?(?:为什么|为啥|咋|怎么)(?:会|呢|啊|这样)?(?:不能确定|无法确定|不确定|无法判断|不能判断|判断不了|"
    r"看不出来?|说不准|没法判断|没办法判断|不能说)?(?:呢|啊|呀)?\W*$")
# "by how much?" / "how much bigger?" / "how much has it grown?" / "长大了多少" / "大了多少": the amount of the last answer's
# change or difference
_HOW_MUCH = re.compile(
    r"^\W*(?:(?:and|so|ok(?:ay)?|then)[,，\s]+)*(?:by )?how much(?:\s+(?:bigger|larger|smaller|more|less|further|farther|"
    r"closer|nearer|higher|lower|"
    r"(?:has|did) (?:it|the \w+) (?:grow|grown|change|changed|shrink|shrunk|shrank)|exactly))?(?: by)?"
    # ("by how much in mm?": the amount in the unit it is given in)
    r"(?:,?\s*in (?:mm|millimet(?:re|er)s?|cm|centimet(?:re|er)s?|percent|%))?\W*$"
    # ("差多少" / "相差多少" / "多多少" / "远多少": a difference or a distance's excess, as "by how much?")
    r"|^\W*(?:那|它|这个|结节|病灶)*(?:长大|增大|变大|大|缩小|变小|小|变化|增长|长|相差|差|多|远|近|高|低)了?"
    r"(?:多少(?:毫米|厘米|mm|cm)?|几毫米|几厘米|几mm|几cm)(?:呢|啊)?\W*$")
_GROWTH_WORD = re.compile(r"grow|grown|bigger|larger|shrink|shrunk|shrank|smaller|chang|长大|增大|变大|缩小|变小|变化|增长|长了|大了|小了")


def how_much_asked(text: str) -> tuple[bool, bool]:
    """(whether only an amount is asked, ``_HOW_MUCH``; whether it is a change in size: "长大了多少")."""
    if not _HOW_MUCH.match(text):
        return False, False
    return True, bool(_GROWTH_WORD.search(text))


# landmarks outside the vocabulary's, named with a distance: the spine is measured where the maps draw it, the rest not
_OTHER_LANDMARKS = (
    ("spine", re.compile(r"(?<![a-z])(?:spine|spinal column|vertebra\w*|vertebral (?:column|bod(?:y|ies)))(?![a-z])|脊柱|脊椎|椎体|椎骨")),
    ("aorta", re.compile(r"(?<![a-z])aort\w*|主动脉")),
    ("clavicle", re.compile(r"(?<![a-z])clavic\w*|(?<![a-z])collar ?bones?(?![a-z])|锁骨(?!下)")),
    ("rib", re.compile(r"(?<![a-z])ribs?(?![a-z])|肋骨")),
    ("sternum", re.compile(r"(?<![a-z])stern(?:um|al)(?![a-z])|胸骨")),
    ("oesophagus", re.compile(r"(?<![a-z])o?esophag\w*|食管|食道")),
)
_DISTANCE_ASKED = re.compile(r"[离距]|how far|distance|多远|相隔|how close|(?<![a-z])(?:near|close) to(?![a-z])|靠近|贴近")


def landmark_asked(text: str) -> str | None:
    """"How far from the spine?" / "离脊柱多远": a landmark the vocabulary does not hold, named for a distance."""
    if not _DISTANCE_ASKED.search(text):
        return None
    return next((name for name, pattern in _OTHER_LANDMARKS if pattern.search(text)), None)


# "is A2 the heart?" / "is it the thymus?" / "could it just be the aortic knob?" / "A2是不是心影" / "是胸腺吗": whether a
# finding is a normal structure
_NORMAL_STRUCTURES = (  # name, its English words, its Chinese words
    ("thymus", r"thym\w*(?: (?:shadow|tissue|gland))?", r"胸腺(?:影)?"),
    ("pulmonary_artery", r"pulmonary arter(?:y|ies)", r"肺动脉(?:段|干)?"),
    ("aorta", r"aort\w*(?: (?:knob|knuckle|arch))?", r"主动脉(?:弓|结|影)?"),
    ("heart", r"heart(?: (?:border|shadow|silhouette))?|cardiac (?:border|shadow|silhouette)", r"心脏|心影|心缘"),
    ("mediastinum", r"mediastin\w*", r"纵隔(?:影)?"),
    # "is A1 a rib?" / "A1是肋骨吗": a bone, which Hilum does not read (the costophrenic angles answered it)
    ("rib", r"ribs?(?: (?:crossing|shadow|end))?|bones?|bony (?:island|structure)|clavicles?|costal cartilage",
     r"肋骨(?:影|交叉)?|肋软骨|骨头|骨岛|锁骨"),
)
_NORMAL_EN = re.compile(
    r"^\W*(?:(?:so|and|but|then)[,，\s]+)?(?:is|could|might|can)\s+(?:it|this|that|this one|that one|a\d+|the \w+)\s+"
    r"(?:just |only |simply |actually |really |maybe |perhaps )?(?:be )?(?:just |only )?(?:the |a |an |part of the )?"
    r"(?:normal )?(" + "|".join(en for _, en, _ in _NORMAL_STRUCTURES) + r")\s*[?？.]*\s*$")
_NORMAL_ZH = re.compile(r"(?:是|就是|会是|可能是)(?:不是)?(?:正常的?)?(" + "|".join(zh for _, _, zh in _NORMAL_STRUCTURES)
                        + r")(?:吗|么|呢|吧)?[?？。!！]*$")


def normal_structure(text: str) -> str | None:
    """The normal structure a finding is asked to be (``_NORMAL_STRUCTURES``), or None."""
    m = _NORMAL_EN.match(text) or _NORMAL_ZH.search(text)
    if m is None:
        return None
    said = m.group(1)
    return next((name for name, en, zh in _NORMAL_STRUCTURES if re.fullmatch(f"{en}|{zh}", said)), None)


# "that one is in the left lung right?" / "A1 is in the right lobe, correct?": a place stated, then a tag that asks yes or
# no (its "right" names no side: ``drop_tag_right``)
_NOUN_TAG = re.compile(r"(?<![a-z])(?:lung|lobe|zone|side|field|base|hilum|band|third|area|region)(\s*,?\s*)(right|correct)"
                       r"(?=\s*[?？]+\s*$)")


def cannot_say_cues(raw: str, text: str, p: dict[str, Any]) -> dict[str, Any]:
    """What Hilum cannot say, and the short follow-ups that ask of the last answer, over a parse so far (``p``: its
    intent, bare_pointer, elliptical, needs_prior, loc and unread structure, which come back changed where a cue changes
    them; and what the parse read: asks_own (not a request about the language, courtesy, nor a patient asked about),
    asks_nothing, by_fallback, features, checklist, both_ways, ids, asked_else (something out of scope or of the film
    asked: a worry, CT's measures, a structure, a sign, a term)). The cues: "the former / latter" (picked), "why?"
    (why), "by how much?" (how_much), a landmark outside the vocabulary's (landmark), a normal structure asked
    (structure), a verdict asked (verdict) and nothing understood (not_understood)."""
    out = {k: p[k] for k in ("intent", "bare_pointer", "elliptical", "needs_prior", "loc", "unread")}
    own, features = p["asks_own"], p["features"]
    # "the former" / "the latter" / "前一个": a finding pointed at and nothing asked
    out["picked"] = pair_pick(raw) if own else None
    if out["picked"] and p["asks_nothing"] and out["intent"] == "out_of_scope":
        out.update(intent="locate", bare_pointer=True, elliptical=features["elliptical_form"])
    # "why?" / "why can't you tell?" / "为什么": why the last answer hedged (what the confidence answer explains)
    out["why"] = own and (bool(_WHY_ALONE.match(text)) or (out["intent"] == "confidence" and bool(_WHY_UNSURE.search(text))))
    out["intent"] = "confidence" if out["why"] else out["intent"]
    # "by how much?" / "长大了多少": the amount of the last answer's change or difference (the engine asks it again)
    out["how_much"], growth = how_much_asked(text) if own else (False, False)
    if out["how_much"]:
        out.update(intent="out_of_scope", needs_prior=out["needs_prior"] or growth)
    # "how far from the spine?": a landmark outside the vocabulary's, named for a distance
    landmark = landmark_asked(text) if own and not (p["loc"]["anatomy"] or len(set(p["ids"])) > 1) else None
    # (a bone named with a distance is measured to, not a structure Hilum does not read: "离脊柱多远")
    if landmark and out["intent"] in ("measure_relation", "out_of_scope", "locate", "describe_margin", "screen",
                                      "assess_anatomy"):
        out.update(intent="measure_relation", unread=None)
    out["landmark"] = landmark
    # "is A2 the heart?" / "is it the thymus?": what the finding is, and that Hilum cannot tell a structure from a lesion
    out["structure"] = normal_structure(text) if own and not features["checklist"] else None
    if out["structure"]:
        out.update(intent="locate", loc={**p["loc"], "anatomy": ()}, bare_pointer=False, elliptical=False)
    # "is the nodule cancer?" / "恶性的概率多大": a verdict asked, which Hilum does not give
    out["verdict"] = (verdict_asked(text, p["checklist"], p["both_ways"], features) if out["intent"] == "sign_checklist"
                      else None)
    # "hmm" / "?": nothing understood, neither a question of the film nor one outside it
    # (only where it holds no word at all besides fillers: a question of words Hilum does not read, "can you read her
    # mammogram?", "能活几年", is still outside what a chest radiograph can show)
    out["not_understood"] = (out["intent"] == "out_of_scope" and p["by_fallback"] and own and nothing_said(text)
                             and not (out["needs_prior"] or out["how_much"] or p["asked_else"]))
    return out


# what asks nothing on its own: fillers, "yes" / "no", "what?" ("hmm", "?", "嗯?", "huh?", "what?")
_FILLER = re.compile(r"(?<![a-z])(?:h+m+|m+h*m+|u+h+|u+m+|e+r+m*|e+h+|a+h+|o+h+|huh|well|so|and|ok(?:ay)?|yes|yeah|yep|no|"
                     r"nope|what|sure|er|sorry|pardon)(?![a-z])|[嗯啊哦呃额唔哈呢吗啥嘛诶欸噢哎咦]|什么")


def nothing_said(text: str) -> bool:
    """Whether the question holds no word besides fillers (``_FILLER``), punctuation, digits and symbols."""
    return not re.sub(r"[\W\d_]+", "", _FILLER.sub(" ", text))


def whole_description(text: str) -> bool:
    return bool(_DESCRIBE.search(text)) and not _MARGIN_WORDS.search(text)


def social_words(text: str) -> str | None:
    """A question that is only thanks, a greeting, a farewell, a request to say the last answer again or a question of
    the languages answered in: "thanks" | "hello" | "bye" | "repeat" | "languages"; else None."""
    return next((kind for kind, pattern in _SOCIAL if pattern.match(text.strip())), None)


def language_asked(text: str) -> str | None:
    """"answer in English please" -> "en"; "请用中文回答" -> "zh"; else None."""
    return next((lang for lang, pattern in _LANGUAGE_ASKED if pattern.search(text)), None)


# "is the left hilum higher than the right?" / "两侧肺门对称吗": the two hila compared in height or symmetry
_HILA_COMPARED = re.compile(r"\b(?:higher|lower) than\b|\bsymmetr|same (?:height|level)|level with|比.{0,4}[高低]|[高低]于|"
                            r"对称|一样高|等高|\bwhich (?:hilum|hila|hilus)\b.{0,20}\b(?:higher|lower)\b|"
                            r"\bcompare (?:the )?(?:two |both |left and right |right and left )?(?:hila|hilums|hilar)|肺门.{0,4}比较|比较.{0,4}肺门|哪侧肺门.{0,2}[高低]")


def hila_compared(text: str, features: dict[str, Any]) -> bool:
    """The hila compared with each other (``_HILA_COMPARED``), no finding talked about."""
    return ("hilum" in features["anatomy_kinds"] and not (features["lesion_talk"] or lesion_groups(features["descriptors"]))
            and bool(_HILA_COMPARED.search(text)))


# "how far apart are the hila?" / "how far is the right hilum from the left?" / "两侧肺门相距多少" / "右肺门离左肺门多远": the
# two hila's distance from each other (a finding's distance to a hilum before: "no lesion was found" on a film with none)
_TWO_HILA = re.compile(r"(?<![a-z])(?:hila|hilums|(?:both|two)\s+(?:the\s+)?hil\w*)(?![a-z])|[两双]侧?肺门|左右肺门|右左肺门")
_APART = re.compile(r"(?<![a-z])apart(?!\s+from)(?![a-z])")  # "how many cm apart are the hila?"


def hila_apart(text: str, features: dict[str, Any], sides: set[str]) -> bool:
    """The two hila's distance asked (``_TWO_HILA``, or a hilum named with both sides), no finding talked about."""
    return (set(features["anatomy_kinds"]) == {"hilum"}
            and not (features["lesion_talk"] or lesion_groups(features["descriptors"]))
            and bool(_DISTANCE_FROM.search(text) or _APART.search(text))
            and (bool(_TWO_HILA.search(text)) or sides >= {"right", "left"}))


# "which hemidiaphragm is higher?" / "how high is the right dome?" / "is the right hemidiaphragm elevated?" / "哪侧膈肌高":
# the domes' heights, one against the other (a contour question before, which Hilum does not read, or a finding located)
_DOMES_COMPARED = re.compile(r"\b(?:higher|lower|how high|elevat\w*|raised|heights?|level|position)\b|"
                             r"哪[侧边].{0,6}[高低]|[高低]于|比.{0,4}[高低]|多高|抬高|升高|高度|一样高|等高|位置")


def domes_compared(text: str, features: dict[str, Any]) -> bool:
    """The diaphragm's domes asked about by height (``_DOMES_COMPARED``), no finding talked about."""
    return ("diaphragm" in features["anatomy_kinds"] and not (features["lesion_talk"] or lesion_groups(features["descriptors"]))
            and not set(features["anatomy_kinds"]) - {"diaphragm"} and bool(_DOMES_COMPARED.search(text)))


# what CT measures of a nodule and a radiograph cannot: "what's its volume?", "its density in HU?", "the Lung-RADS
# category?" / "what does Fleischner recommend?" (a size, a density, a term unknown or out of scope before)
_CT_MEASURES = (("guideline", re.compile(r"lung-?rads|fleischner|肺结节.{0,4}指南|随访指南", re.I)),
                ("volume", re.compile(r"\bvolume\b|体积")),
                ("hu", re.compile(r"(?<![a-z])hu(?![a-z])|hounsfield|ct值", re.I)))


def ct_measure(text: str, intent: str) -> str | None:
    """What a question asks that only CT measures (``_CT_MEASURES``): a guideline asked of itself, as a term or a
    question of another modality ("what's the Lung-RADS category?"; not a size asked for it: "over 8 mm? asking for
    Fleischner"); a volume of a size question, Hounsfield units of a density question, either also as what a finding
    is, a term or a question of another modality ("what is the HU of A1?", "what's the volume?", "CT值多少?")."""
    kind = next((k for k, pattern in _CT_MEASURES if pattern.search(text)), None)
    if kind == "guideline":
        return kind if intent in ("out_of_scope", "explain_term") else None
    asked_as = {"volume": "size", "hu": "density"}.get(kind or "")
    return kind if intent in (asked_as, "out_of_scope", "locate", "explain_term") else None


# "what's under the effusion?" / "could the fluid hide a mass?" / "积液后面有没有病灶": what fluid hides (the term was
# explained, or whether there is an effusion answered)
_BEHIND_FLUID = re.compile(r"(?<![a-z])(?:under|behind|beneath|hidden (?:by|behind)|obscured by|masked by)\s+(?:the\s+|that\s+)?"
                           r"(?:pleural\s+)?(?:effusion|fluid)|(?:effusion|fluid)\s+(?:hide|hides|hiding|mask|masks|obscure)"
                           r"|(?:积液|胸水)(?:的)?(?:下面|后面|后方|里面|遮挡|掩盖|挡住)")


# "is the nodule near the fissure?" / "结节靠近水平裂吗": a fissure, which Hilum does not trace (the hilum's distance
# was given)
_FISSURE = re.compile(r"fissur|叶间裂|水平裂|斜裂|叶间胸膜")


# "is the nodule above the right hilum?" / "is the strand at the level of the hilum?" / "结节在右肺门上方吗": a finding's
# height against a hilum or a dome (its margin, or its place, before), in the order said ("above" | "below" | "level");
# "at the same height as the hilum" / "和右肺门在同一高度" / "一样高" is its level too (a margin question or its place before)
_VERTICAL = (("level", re.compile(r"\bat (?:about )?the (?:same )?(?:level|height) (?:of|as)\b|\bthe same (?:level|height) as\b"
                                  r"|\blevel with\b|同一水平|同一高度|一样高|等高|平齐|齐平")),
             ("above", re.compile(r"\babove\b|\bhigher than\b|\bsuperior to\b|上方|之上|以上|高于")),
             ("below", re.compile(r"\bbelow\b|\bbeneath\b|\blower than\b|\binferior to\b|下方|之下|以下|低于")))


# "is the nodule lateral to the right hilum?" / "结节在右肺门外侧吗": a finding's side of a hilum across the film (a margin
# question, or its place, before); "the lateral one" names a finding, so the English needs "to" and the Chinese "在/位于"
_HORIZONTAL = (("lateral", re.compile(r"\blateral to\b|(?:在|位于)[^,，。?？]{0,10}外侧")),
               ("medial", re.compile(r"\bmedial to\b|(?:在|位于)[^,，。?？]{0,10}内侧")))
_ACROSS_EITHER = re.compile(r"\b(?:lateral|medial) or (?:lateral|medial) to\b|内侧还是外侧|外侧还是内侧")
# ... and against the heart, the mediastinum or the spine: their outline's distance is what can be said (a margin
# question, or the cardiothoracic ratio, before)
_BESIDE_CENTRE = frozenset({"heart", "mediastinum", "spine"})


def vertical_asked(text: str, features: dict[str, Any]) -> str | None:
    """The height a finding is asked to lie at against a hilum or a dome (``_VERTICAL``), or None."""
    if not (features["lesion_talk"] or lesion_groups(features["descriptors"])):
        return None
    if not set(features["anatomy_kinds"]) & {"hilum", "diaphragm"}:
        return None
    asked = [kind for kind, pattern in _VERTICAL if pattern.search(text)]
    # "A2在膈肌上方还是下方?" / "is it above or below the hilum?": the alternatives offered, answered by the one that holds
    # (it had answered "否:" / "No:" to the first)
    return "either" if len(asked) > 1 else asked[0] if asked else None


def across_asked(text: str, features: dict[str, Any]) -> str | None:
    """A finding's side of a hilum asked (``_HORIZONTAL``: "lateral" | "medial"), or None."""
    if not (features["lesion_talk"] or lesion_groups(features["descriptors"])) or "hilum" not in features["anatomy_kinds"]:
        return None
    if _ACROSS_EITHER.search(text):  # "lateral or medial to the hilum?": the one that holds, no yes or no
        return "either"
    return next((kind for kind, pattern in _HORIZONTAL if pattern.search(text)), None)


def beside_centre(text: str, features: dict[str, Any]) -> bool:
    """"Is the nodule lateral to the heart?" / "结节在心影外侧吗": a finding's place against the heart, mediastinum or
    spine (``_BESIDE_CENTRE``), which their outline's distance answers."""
    return (bool(features["lesion_talk"] or lesion_groups(features["descriptors"]))
            and bool(set(features["anatomy_kinds"]) & _BESIDE_CENTRE)
            and any(pattern.search(text) for _, pattern in _HORIZONTAL))


# a structure Hilum does not read, asked about whole with no sign of it named ("how are the bones?", "how is the trachea?",
# "主动脉弓怎么样", "any problem with the soft tissues?": the costophrenic angles, the cardiothoracic ratio, the screening
# or "outside what a chest radiograph can show" before): checklists.structure_not_read says so
_UNREAD_STRUCTURES = (
    ("great_vessels", re.compile(r"(?<![a-z])aort\w*|great vessels?|pulmonary arter\w*|主动脉|大血管|肺动脉")),
    ("bones", re.compile(r"(?<![a-z])(?:ribs?|bones?|bony|spine|spinal|vertebra\w*|clavicles?|scapula\w*|sternum|"
                         r"thoracic cage|skeleton|skeletal)(?![a-z])|肋骨|骨骼|骨头|骨质|脊柱|椎体|锁骨(?!下)|肩胛|胸骨|胸廓骨")),
    ("soft_tissues", re.compile(r"soft[- ]tissues?|(?<![a-z])breasts?(?![a-z])|chest wall|软组织|乳腺|乳房|胸壁")),
    ("trachea", re.compile(r"(?<![a-z])trache\w*|(?<!支)气管")),
    ("mediastinum", re.compile(r"(?<![a-z])mediastin\w*|纵隔")),
    ("fissures", _FISSURE),
)


def unread_structure(text: str, intent: str, features: dict[str, Any], signs: tuple[str, ...]) -> str | None:
    """The structure Hilum does not read that a question asks about whole (``_UNREAD_STRUCTURES``), or None: no sign
    named, no finding talked about, nothing else of the film asked (a structure's assessment, the screening, or a
    question of another modality, as it was read)."""
    if signs or features["lesion_talk"] or lesion_groups(features["descriptors"]) or features["term"] or features["checklist"]:
        return None
    # (nor a region of the lungs named by a bone: "锁骨下有病灶吗", "anything below the clavicle?")
    # (where a structure lies is asked of the fissures only: the film's maps place the others, or say they place none)
    if (intent not in ("assess_anatomy", "screen", "out_of_scope", "locate") or features["has_location"]
            or set(features["anatomy_kinds"]) & _REGION_PLACES):
        return None
    named = [k for k, pattern in _UNREAD_STRUCTURES if pattern.search(text)]
    # (where the aorta or the great vessels lie, "主动脉结在哪里?", is not read either: it had given A1's place)
    return named[0] if len(named) == 1 and (intent != "locate" or named[0] in ("fissures", "great_vessels")) else None


# "how wide is the chest?" / "胸廓多宽": the chest's width (the one the cardiothoracic ratio divides by)
_CHEST_WIDTH = re.compile(r"\bhow (?:wide|broad) is (?:the |his |her |this )?(?:chest|thorax|thoracic cage|rib ?cage)\b|"
                          r"\b(?:width|breadth) of (?:the |this )?(?:chest|thorax|thoracic cage)\b|"
                          r"\b(?:chest|thorax|thoracic|transthoracic) (?:width|diameter)\b|"
                          r"(?:胸廓|胸部|胸腔)(?:有)?多宽|(?:胸廓|胸部|胸腔)的?(?:宽度|横径|内径)")
_SPINE = _OTHER_LANDMARKS[0][1]
# the bones other than the spine ("how are the ribs and the spine?" asks of the bones whole)
_OTHER_BONES = re.compile(r"(?<![a-z])(?:ribs?|bones?|bony|clavicles?|scapula\w*|sternum|skeleton|skeletal)(?![a-z])|"
                          r"肋骨|骨骼|骨头|骨质|锁骨|肩胛|胸骨")
# structures a distance between is asked of: the vocabulary's anatomy kinds, and the landmarks it leaves out
_APART_KINDS = frozenset({"hilum", "diaphragm", "trachea", "heart", "apex", "costophrenic_angle", "mediastinum"})


def structure_question(text: str, features: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """A question of the chest's structures and no lesion (``Query.structure_asked``) and the structures named in it
    (the spine and the landmarks outside the vocabulary among them), or None."""
    if features["lesion_talk"] or lesion_groups(features["descriptors"]) or features["has_location"]:
        return None
    if _CHEST_WIDTH.search(text):
        return "chest_width", ()
    others = [name for name, pattern in _OTHER_LANDMARKS if pattern.search(text)]
    kinds = [k for k in dict.fromkeys(features["anatomy_kinds"]) if k in _APART_KINDS] + others
    if _DISTANCE_FROM.search(text):  # two structures ("the hila apart" is answered already; one, from a finding)
        return ("apart", tuple(others)) if len(set(kinds)) >= 2 and _one_from_another(text) else None
    if (others == ["spine"] and not kinds[:-1] and _WHERE_SHOWN.search(text)
            and not _OTHER_BONES.search(_SPINE.sub(" ", text))):  # "where is the spine?" ("how is the spine?": the bones)
        return "spine", ("spine",)
    return None


# a structure's words, and what measures one from another ("the right hilum from the diaphragm", "右肺门离膈肌",
# "between the trachea and the spine"), not from a finding in focus ("how far from the hilum and the diaphragm?")
_STRUCTURE_WORD = re.compile(r"hil[au]|diaphragm|dome|trache|heart|cardiac|ap(?:ex|ices)|costophrenic|mediastin|spin|"
                             r"vertebr|aort|clavic|(?<![a-z])ribs?(?![a-z])|stern|o?esophag|肺门|膈|气管|心|肺尖|肋膈角|纵隔|"
                             r"脊|椎|主动脉|锁骨|肋骨|胸骨|食管")
_FROM_WORD = re.compile(r"(?<![a-z])(?:from|to)(?![a-z])|[离距]")
_BETWEEN = re.compile(r"(?<![a-z])between(?![a-z])|之间|相距|相隔")
_FROM_TO = re.compile(r"(?<![a-z])from (.{1,40}?) to(?![a-z])|从(.{1,20}?)到")


def _one_from_another(text: str) -> bool:
    """Whether a distance is asked between two structures named ("how far is the right hilum from the diaphragm?",
    "气管离脊柱多远", "distance between the trachea and the spine", "the distance from the right hilum to the dome"): a
    structure named before "from" / "离", or from one to the other, or "between"."""
    m, span = _FROM_WORD.search(text), _FROM_TO.search(text)
    return (bool(_BETWEEN.search(text)) or (m is not None and bool(_STRUCTURE_WORD.search(text[: m.start()])))
            or (span is not None and bool(_STRUCTURE_WORD.search(span.group(1) or span.group(2) or ""))))


def _of_structures(structures: tuple[str, tuple[str, ...]], loc: dict[str, Any]
                   ) -> tuple[str, None, bool, bool, dict[str, Any]]:
    """A question of structures (``structure_question``): the anatomy answers it, with the structures it names outside
    the vocabulary (the spine) among its anatomy; no structure "not read", nothing pointed at."""
    return "assess_anatomy", None, False, False, {**loc, "anatomy": tuple(dict.fromkeys((*loc["anatomy"], *structures[1])))}


_WHERE_SHOWN = re.compile(r"\bwhere\b|\bshow\b|\blocat|\bposition|在哪|哪里|哪儿|位置|标出|标一下|显示")


# "is A1 inside the lung?" / "A1在肺内吗?": whether a finding lies within a lung field (its internal density before)
_IN_LUNG = re.compile(r"\b(?:inside|in|within) (?:the |a |its )?(?:lungs?|lung fields?|lung parenchyma|parenchyma)\b|"
                      r"\b(?:intra-?pulmonary|extra-?pulmonary)\b|肺内|肺里|肺实质内|肺野内|肺外")


# "what's the left angle in degrees?" / "角度多少度": with no structure named, the angle a chest film is measured by is the
# costophrenic angle (a finding's place was given before)
_ANGLE_DEGREES = re.compile(r"\bangles?\b.{0,30}\bdegrees?\b|\bdegrees?\b.{0,30}\bangles?\b|角.{0,6}多少度|多少度的?角")


def angle_in_degrees(text: str, features: dict[str, Any], side: str | None) -> tuple[str, ...] | None:
    """The costophrenic angle(s) an angle in degrees asks for (``_ANGLE_DEGREES``: of the side named, else both), when no
    finding is talked about and no other structure named; else None."""
    if features["lesion_talk"] or lesion_groups(features["descriptors"]) or not _ANGLE_DEGREES.search(text):
        return None
    if set(features["anatomy_kinds"]) - {"costophrenic_angle"}:
        return None
    return (f"costophrenic_angle_{side}",) if side else ("costophrenic_angle",)


_CONFIDENCE_WORDS = re.compile(r"有?多大把握|有?多确定|有?多可靠|how sure|how confident|how certain")


def attribute_asked(text: str) -> str | None:
    """The statement a confidence question asks about (``_ATTRIBUTE_ASKED``), its own words aside ("多大把握")."""
    rest = _CONFIDENCE_WORDS.sub(" ", text)
    return next((name for name, pattern in _ATTRIBUTE_ASKED if pattern.search(rest)), None)


# film_info: how the grey levels are shown ("is the image inverted?", "窗宽窗位多少")
_DISPLAY_ASKED = re.compile(r"\b(?:window(?:ing|s)?|invert(?:ed)?|negative|monochrome\d?|grey ?scale|gray ?scale|"
                            r"contrast|brightness)\b|窗宽|窗位|反色|反相|负片|灰阶|对比度|亮度")


# film_info: the ribs counted ("how many ribs are visible?", "能看到几根肋骨"), which is how a reader grades inspiration
_RIB_COUNT = re.compile(r"\b(?:how many|count(?:ing)?(?: the)?) (?:posterior |anterior )?ribs\b"
                        r"|(?:几|多少)根肋骨|肋骨(?:有)?(?:几|多少)根")
# film_info: the film's technique ("is the film rotated?", "is the exposure adequate?", "吸气够不够")
_QUALITY_ASKED = re.compile(r"\b(?:rotat(?:ed|ion)|exposure|penetrat\w*|inspirat\w*|quality|technique|overexposed|"
                            r"underexposed)\b|曝光|吸气|质量|穿透|旋转|" + _RIB_COUNT.pattern)


# film_info: a lateral view asked about ("is this a lateral film?", "can you read lateral films?", "能看侧位片吗"): the
# view Hilum reads. "The lateral one", "the lateral third" and "lateral to the heart" name a place, not a view
_LATERAL_VIEW = re.compile(r"(?<![a-z])(?:lateral|side) (?:films?|views?|projections?|x-?rays?|radiographs?|cxrs?|images?)"
                           r"(?![a-z])|(?<![a-z])(?:a|the) lateral (?:taken|done|obtained|available)(?![a-z])"
                           r"|(?<![a-z])(?:a|the) lateral\s*[?？.]*$|(?<![内外])侧位(?!置)")


def film_attribute(text: str) -> str | None:
    """What a film_info question asks besides the projection: its technique ("quality"), its display, or the lateral
    view ("lateral")."""
    if _LATERAL_VIEW.search(text):
        return "lateral"
    return "quality" if _QUALITY_ASKED.search(text) else "display" if _DISPLAY_ASKED.search(text) else None


# a change over time: "is the nodule new?", "compared with the previous film", "和去年比有变化吗", "结节长大了吗",
# "is the right lung nodule stable?" / "这个结节稳定吗" (stable: unchanged over time, as a reader says it)
_NEEDS_PRIOR = re.compile(
    r"\b(?:previous|prior|old|older|earlier|last)\s+(?:films?|x-?rays?|study|studies|images?|radiographs?|scans?|cxrs?"
    r"|years?|visit)\b|\bis (?:it|this|that|the \w+) new\b|\bnew since\b|\binterval change|"
    r"\b(?:has|did) (?:it|this|that|the \w+) (?:change|grow|shrink|got? bigger|got? smaller)|\bchanged since\b|"
    r"\b(?:is|are) (?:it|this|that|they|the \w+) (?:growing|shrinking|getting (?:bigger|smaller|worse|better))\b|"
    r"\b(?:growing|shrinking|getting bigger)\s*\?|在长吗|还在长|在变大|"
    r"\b(?:is|are|remains?|remained|looks?|been)\b[^?.]{0,40}\bstable\b|\bstable (?:since|over|compared)\b|"
    r"稳定吗|是否稳定|稳定不稳定|有无变化|"
    r"\b(?:than|as) (?:before|previously|last time)\b|\b(?:was|were) [^?.]{0,40}\bbefore\s*[?？.]?\s*$|"
    r"\bon the (?:prior|earlier|previous|old)\b|\bwhat(?:'s| has| have)? changed\b|\bdoubling time\b|"
    r"\b(?:did|has|have|is|are) (?:it|this|that|they|the [\w -]{1,40}?) (?:resolved?|cleared|improved|worsened|progressed)\b|"
    r"倍增时间|吸收了吗|吸收没有|好转了吗|加重了吗|进展了吗|消散了吗|"
    # a finding named by id, place or kind, asked whether it changed: "has A1 grown?", "has the right middle lobe
    # nodule grown?", "is A1 larger now?", "did it get bigger?", "is A2 new?", "is the nodule resolving?"
    r"\b(?:has|have|did|does|is|are|was|were) (?:it|this|that|they|these|those|[a-z]\d{1,2}|the [\w -]{1,40}?) "
    r"(?:changed?|grow(?:n|ing)?|grew|shr[iu]nk(?:ing)?|got (?:bigger|smaller|larger)|get(?:ting)? (?:bigger|smaller"
    r"|larger)|increased?|decreased?|(?:larger|bigger|smaller) now|new|resolv\w*|regress\w*|progress\w*"
    r"|disappeared|gone)\b|"
    # (a size in the past tense only with a time before this film's: "how big was it originally?"; "how big was it?" and
    # "what was its size again?" ask what the dialogue said, ``_RECALLED``)
    r"\b(?:how (?:big|large)|what(?:'s| was) (?:its|the) size)\b[^?.]{0,40}\b(?:originally|initially|at first|back then"
    r"|in the past|previously|at the time)\b|"
    r"\bhow much (?:bigger|larger|smaller)\b(?![^?]*\bthan\b)|"
    r"\bcompared? (?:to|with) (?:the )?(?:prior|previous|earlier|old|before)\b|\bsince the (?:prior|previous|last)\b|"
    r"\bany (?:new|interval) (?:lesions?|findings?|nodules?|opacit\w+|masses|changes?)\b|"
    r"\b(?:has|is) (?:anything|something) (?:resolved|disappeared|gone|new|changed)\b|\bany changes?\s*[?？]?\s*$|"
    r"\binterval between\b|\bhow long (?:between|apart)\b|\bgrowth (?:rate|significant)|\bis the growth\b|"
    r"(?<!心)(?<!心影)(?<!心脏)(?<!肺门)(?<!纵隔)(?:增大了|缩小了)|变小了没|变大了没|以前有吗|以前有没有|以前就有|以前多大|之前多大|原来多大|现在没有|消失了吗|有没有消失|"
    r"新发病灶|相隔多久|隔了多久|间隔多久|\d+\s*(?:天|个月|年)前|比上次|比上回|比去年|"
    r"去年|上次的片|上次拍|上次检查|上次(?:那|嗰)?张|[和跟与同]上次|以前的片|之前的片|旧片|新出现|新发的|新长的|有没有变化|有变化吗|"
    r"变大了吗|变小了吗|长大了吗|"
    r"[和跟与]之前比|比之前|比以前|[和跟与]以前比|对比以前|和老片|"
    # "与前片比较有什么变化?" / "较前增大" / "变化大吗": the film before this one, or a change's amount
    r"前片|较前(?![方部面])|上一张片|变化大(?:吗|不大)|变化(?:有)?多大")


# what the dialogue said, asked again ("go back to A1 — what was its size again?", "earlier you said A1 was lobulated;
# how big was it?", "刚才说A1多大"): the past tense is the dialogue's, not an earlier film's, unless a film, a time before
# this film's or a change is named too (``_OF_A_FILM_BEFORE``: "you said it was 9 mm, has it grown?")
_RECALLED = re.compile(r"\bgo(?:ing)? back to\b|\bback to (?:[a-z]\d{1,2}|it|that|the \w+)\b|\bagain\b|\bremind me\b|"
                       r"\byou (?:said|mentioned|told|stated|gave|called|described|reported|measured)\b|\bdid you say\b|"
                       r"\b(?:as|like) (?:you|i) said\b|刚才|你说|你刚|回到")
_OF_A_FILM_BEFORE = re.compile(
    r"\b(?:films?|x-?rays?|radiographs?|stud(?:y|ies)|scans?|cxrs?|prior|previous(?:ly)?|last (?:time|year|visit)|ago|"
    r"originally|grow\w*|grew|shr[iu]nk\w*|new|chang\w*|stable|resolv\w*|bigger|larger|smaller)\b|"
    r"片|去年|上次|以前|之前|长大|增大|缩小|变化|变大|变小")


def dialogue_recalled(text: str) -> bool:
    """Whether a question asks again what the dialogue said (``_RECALLED``), with no earlier film nor change named."""
    return bool(_RECALLED.search(text)) and not _OF_A_FILM_BEFORE.search(text)


CHANGE_TERM = GLOSSARY_PREFIX + "volume_doubling_time"  # a term whose value is a change over time
# a place asked to be shown or named ("show me where it was on the earlier film", "mark it", "以前在哪里", "标出来")
_SHOWN_WHERE = re.compile(r"\b(?:show|where|draw|mark|point (?:to|at|out)|outline|highlight|display|locat\w*)\b|"
                          r"在哪|哪里|哪儿|位置|标出|标记|画出|显示|指出")
_ASKS_MEANING = re.compile(r"\bmean|\bdefin|意思|定义|含义", re.I)


def find_glossary_term(text: str, vocab: Vocabulary) -> str | None:
    """The glossary word named in the text (longest name wins), as ``GLOSSARY_PREFIX + id``."""
    term_id = _longest_named(text, vocab.index.glossary_names)
    return GLOSSARY_PREFIX + term_id if term_id else None


def choose_intent(scores: dict[str, float], features: dict[str, Any]) -> str:
    return _choose(scores, features)[0]


def _choose(scores: dict[str, float], features: dict[str, Any]) -> tuple[str, bool]:
    """The intent, and whether nothing but the fallback chose it (no keyword or cue scored)."""
    s = dict(scores)
    strong = s.get("explain_term", 0) >= 4
    # a weak cue ("what is", "是什么") asks for a term only when it names a sign and nothing on this film
    this_film = features["has_location"] or features["anatomy"] or features["relative"] or lesion_groups(features["descriptors"])
    # ("what's in the left lower zone?": a place on this film, no term)
    others = any(v > 0 for k, v in s.items() if k != "explain_term")
    # "第二个病灶是啥" / "what is A2?": a finding named by its order or number is this film's, never a term; so is one
    # named by its kind and its place ("what is the strand at the left base?")
    if ((not features["term"] and (features["numbered"] or (not strong and (features["references"] or others
                                                                             or features["has_location"]))))
            or (features["lesion_in_place"] and features["has_location"])):
        s["explain_term"] = 0.0
    # ("what does CTR stand for?": a word of the glossary with a strong cue, of nothing on this film)
    elif ((features["term"] or (features["glossary"] and strong and not this_film)) and s.get("explain_term", 0) >= 2
          and not features["references"] and (strong or not this_film)):
        s["explain_term"] += 6 if strong else 3
    # "define cardiothoracic ratio" / "肋膈角是什么": a structure named with an explain cue and nothing asked of it
    # on this film (no lesion, no sign, no other keyword) is the term asked about
    # (not a structure of one side, "what's the left costophrenic angle?": a definition names no side; this film's is asked)
    if (features["anatomy"] and not (features["term"] or features["references"] or features["sign"] or features["explain_not"]
                                     or features["has_location"] or lesion_groups(features["descriptors"])
                                     or features["sided_structure"])
            and s.get("explain_term", 0) >= 2
            and (strong or not any(v > 0 for k, v in scores.items() if k not in ("explain_term", "assess_anatomy")))):
        s["explain_term"] += 6 if strong else 3
    # (not a lesion's distance to it: "条索影跟心缘有没有接触")
    # (nor a lesion named by its place: "is the left basal opacity close to the heart border?")
    if set(features["anatomy_kinds"]) & {"costophrenic_angle", "heart"} and not (
            features["references"] or features["checklist"]
            or ((lesion_groups(features["descriptors"]) or features["lesion_by_place"])
                and s.get("measure_relation", 0) > 0)):
        s["assess_anatomy"] = s.get("assess_anatomy", 0) + 3
    # "how big is the heart?" / "how wide is the mediastinum?": a size asked of a structure, no lesion named, assesses it
    # ... and so does its outline ("心脏边界清楚吗")
    if features["structure_only"]:
        # (above the margin's or size's own words, "are the hemidiaphragms well defined?", unless a lesion's margin part
        # is named: "毛刺在肺门侧几点钟方向"; and above a bare "how is it", "双侧肺门怎么样?")
        # ("Both hemidiaphragms look ok to you?": how a structure looks is its assessment, not a screening)
        how_is_it = ((s.get("screen", 0) <= 1 or features["looks_ok"])
                     and not any(v > 0 for k, v in s.items() if k != "screen"))
        asked = max(s.get("size", 0), s.get("describe_margin", 0), max(s.get("screen", 0), 1) if how_is_it else 0)
        s["assess_anatomy"] = s.get("assess_anatomy", 0) + asked + (1 if asked > 0 and not features["margin_part"] else 0)
    if features["checklist"]:  # a disease named; "像肺结核吗" / "resembles TB": asked whether the film looks like it
        # (its signs named too: "nodule的malignancy signs有几个?")
        s["sign_checklist"] = s.get("sign_checklist", 0) + (4 if features["resembles"] or features["checklist_cue"] else 2)
    _cue_bonuses(s, scores, features)
    if features["term_defined"]:
        s["explain_term"] = max(s.values(), default=0.0) + 1
    if features["anatomy"] and s.get("measure_relation", 0) > 0:
        s["measure_relation"] += 1
    if features["pair"] and s.get("compare", 0) > 0:  # "A1 vs A2 size": two findings named with a compare word
        s["compare"] += 2 if len(set(features["anchor_ids"])) >= 2 else 1
    # "are A1 and A2 the same lesion?" / "A1和A2是同一个病灶吗": their relation on the film, not a comparison of the two
    # ("same" is a comparison's word) nor a screening
    if features["one_lesion"] and features["pair"] and not features["anatomy"]:
        s["measure_relation"] = max(s.values(), default=0.0) + 2
    best = max(s.values()) if s else 0.0
    if best < 1:  # nothing but a question frame ("is it …?") scored
        return _fallback_intent(features), True
    return next(i for i in _TIE_ORDER if s.get(i, 0.0) == best), False


_PLACE_GLOSSARY = frozenset({"glossary:lung_bands", "glossary:lung_zones"})


def _term_bonuses(s: dict[str, float], features: dict[str, Any]) -> None:
    """A term or a diagnosis asked about: the term explained, or the screening summary."""
    # "what is the diagnosis?" names no disease: the screening summary answers it (and says Hilum does not diagnose)
    # ... but "支气管扩张是什么病" / "what is emphysema, what disease?" names a term and asks what it is, of nothing
    # on this film: the term is asked about
    term_asked = (features["term"] and s.get("explain_term", 0) >= 2
                  and not (features["references"] or features["has_location"] or features["relative"]
                           or lesion_groups(features["descriptors"])))
    finding_named = features["anchor_ids"] or features["references"] or lesion_groups(features["descriptors"])
    if features["diagnosis"] and not features["checklist"] and term_asked:
        s["explain_term"] = s.get("explain_term", 0) + 6
    elif features["diagnosis"] and features["differential"] and not features["checklist"] and finding_named:
        # "A1的鉴别诊断有哪些" / "ddx for the nodule?": a finding's differential, which the checklists answer
        s["sign_checklist"] = s.get("sign_checklist", 0) + 6
    elif features["diagnosis"] and not features["checklist"]:
        s["screen"] = s.get("screen", 0) + 6
        if features["references"] and not features["term"]:  # "它到底是个啥?": this finding's diagnosis, not a term
            s["explain_term"] = 0.0
    # "Explain cardiothoracic ratio": a term, nothing of this film pointed at, and the question opens with "explain"
    # (a zone's or band's own words are no place on this film: "explain inner / middle / outer band zoning")
    placed = features["has_location"] and features["glossary"] not in _PLACE_GLOSSARY
    if features["explain_opening"] and (term_asked or (features["glossary"] and not (
            features["references"] or placed or lesion_groups(features["descriptors"])))):
        s["explain_term"] = max(s.get("explain_term", 0.0), max(s.values(), default=0.0) + 1)


def _cue_bonuses(s: dict[str, float], scores: dict[str, float], features: dict[str, Any]) -> None:
    """Adjust the keyword scores ``s`` in place by what the question's cues say it asks."""
    _term_bonuses(s, features)
    # "is there a pneumothorax?" asks whether this film shows a sign, unless it asks for a disease's typical signs
    explains = bool(features["term"]) and s.get("explain_term", 0) >= 5 and not features["references"]
    if features["sign"] and not (features["checklist_cue"] or explains or features["kind_over_lungs"]) and s.get("out_of_scope", 0) < 6:
        s["assess_anatomy"] = s.get("assess_anatomy", 0) + 6
    _screen_bonuses(s, scores, features)
    _checklist_bonuses(s, features)
    # "how long are the spicules?" / "where are the notches?": a part of the margin, asked about by size or place
    if features["margin_part"]:
        s["describe_margin"] = s.get("describe_margin", 0) + max(s.get("size", 0), s.get("locate", 0))
    _relation_bonuses(s, features)
    # "upper, middle or lower zone?" / "which lung zone?": the choices name no place; the question asks where
    if features["asks_region"] or features["which_region"]:
        s["locate"] = s.get("locate", 0) + 5
    # "is it in the inner band?": a place checked against the finding in focus ("那右边那个呢" names one, checks none)
    if (features["has_location"] and features["references"] and max(s.values(), default=0.0) < 2
            and (features["yes_no"] or not features["elliptical_form"])):
        s["locate"] = s.get("locate", 0) + 2
    if features["general_difference"]:  # "the difference between a nodule and a mass": the terms, not this film
        # above what the terms' own words score ("毛刺和分叶有什么区别": margin words, both of them)
        others = max((v for k, v in s.items() if k not in ("explain_term", "compare")), default=0.0)
        s["explain_term"] = max(s.get("explain_term", 0) + 8, others + 1)
        s["compare"] = 0.0  # nor two findings of it compared
    elif features["material_compared"] and not features["pair"]:
        s["compare"] = 0.0  # "how dense is the strand compared with soft tissue": one finding against a tissue's density
    elif features["compare"]:  # "左右两处阴影哪个密度更均匀" / "哪个边缘更光滑": which of two is more so
        s["compare"] = s.get("compare", 0) + (8 if features["pair"] or features["which_compared"] else 6)
    # "point out the nodule" / "在图上标出来": shown on the image, the more so a finding named or in focus
    if features["show"] and not features["compare"]:
        named = features["pointed"] or features["has_location"] or lesion_groups(features["descriptors"])
        s["locate"] = s.get("locate", 0) + (7 if named else 5)
    _measure_bonuses(s, features)


def _relation_bonuses(s: dict[str, float], features: dict[str, Any]) -> None:
    """A landmark that the question takes the finding's place from, or asks about alone after a turn."""
    # "结节在肺门的几点钟方向": a clock position taken from a landmark is the finding's relation to it, not its margin
    if features["clock_from_landmark"]:
        s["measure_relation"] = max(s.get("measure_relation", 0), s.get("describe_margin", 0)) + 1
    # "what about the hilum?" / "那肺门呢" after a turn: a landmark alone, asked of the finding in focus, is its relation
    if (features["elliptical_form"] and set(features["landmark"]) & {"hilum", "pleura", "diaphragm"}
            and not (features["pointed"] or features["descriptors"] or features["has_location"])
            and max(s.values(), default=0.0) < 1):
        s["measure_relation"] = s.get("measure_relation", 0) + 3


# the words that name the film or the patient, and the plain nouns of a lesion (one table each, for the pointers below)
_FILM_EN = r"x-?ray|film|image|picture|radiograph|cxr"
_FILM_ZH = r"张片子|张片|片子|胸片"
_PATIENT_EN = r"patient|guy|man|woman|kid|child|person|lady|gentleman"
_PATIENT_ZH = r"病人|患者|病患|人|孩子|小孩|老人"
_LESION_NOUN = r"lesion|nodule|opacity|shadow|spot|strand|mass|lump|thing|finding|abnormality"
_PERSON_AFTER = re.compile(rf"\s*(?:{_PATIENT_ZH}|{_PATIENT_EN}|{_FILM_EN}|{_FILM_ZH})")


# "are the hila at the same height?": "same" of a height compares two things and points at no finding ("the same one")
# ... and the "same" of two things compared, said last ("are the costophrenic angles the same?", "the same on both
# sides": it asked back which finding was meant)
_SAME_HEIGHT_AFTER = re.compile(r"\s+(?:height|level)(?![a-z])|\s*(?:[?？.!。,，]|$)|\s+on (?:both|the two) sides?(?![a-z])")


def _determines_no_finding(text: str, ref: str) -> bool:
    """Every use of the pointer word in the text is a person's or the film's determiner ("这个病人", "this patient",
    "this x-ray"), or a height's "same" ("at the same height", "at the same level")."""
    spots = find_term(text, ref)
    return bool(spots) and all(_PERSON_AFTER.match(text, p + len(ref))
                               or (ref == "same" and _SAME_HEIGHT_AFTER.match(text, p + len(ref))) for p in spots)


_FILM_OR_PATIENT = re.compile(rf"{_FILM_ZH}|(?<![a-z])(?:{_FILM_EN}|{_PATIENT_EN}|lungs?)(?![a-z])|{_PATIENT_ZH}"
                              r"|肺里|肺部|双肺|两肺")
_VERDICT = re.compile(r"^(?:is|are|does|do|was|has|have|can|could)\b|[吗么][?？!.。]*$|是否|是不是|还是|(?<![a-z])or(?![a-z])")


def of_the_film(text: str, features: dict[str, Any]) -> bool:
    """A checklist asked of the film or the patient, or its signs counted, rather than a verdict asked of an "it"
    (``Query.of_the_film``)."""
    if features["lesion_pointer"]:  # "is the spot in my lung cancer?": the spot the reader sees
        return False
    return bool(_FILM_OR_PATIENT.search(text) or features["checklist_cue"] or not _VERDICT.search(text))


_BESIDES_FOCUS = re.compile(r"除了(?:这个|它|那个|这处|这里)|(?<![a-z])(?:besides|other than|apart from|except)\s+(?:this|it|that)"
                            r"(?:\s+one)?(?![a-z])")


# the patient, not the film: age, sex, a child or an adult ("is this a child?", "how old is the patient?", "患者多大年龄",
# "男的还是女的"); only where nothing of the film is named with it ("is the heart big for a child?" asks the heart)
_PATIENT_ASKED = re.compile(
    r"(?<![a-z])(?:how old|what(?:'s| is) (?:the |his |her |the patient'?s? )?age|patient'?s? age|what age"
    r"|^\s*(?:and |the |his |her )?(?:age|sex|gender)\s*[?？.]*\s*$"
    r"|an? (?:child|kid|baby|infant|boy|girl|man|woman|adult)(?:'s)?(?: film| x-?ray| cxr)?\s*[?？.]*\s*$"
    r"|patient (?:an? )?(?:male|female|man|woman|child|adult)|(?:paediatric|pediatric|adult) (?:film|patient|x-?ray|cxr)"
    r"|(?:male|man|boy) or (?:a )?(?:female|woman|girl)|(?:female|woman|girl) or (?:a )?(?:male|man|boy)"
    r"|(?:the )?patient'?s? (?:sex|gender|name)|(?:what|which) (?:sex|gender))(?![a-z])"
    r"|年龄|多大(?:年纪|岁数)|几岁|多少岁|(?:孩子|小孩|小朋友|宝宝|患者|病人)(?:今年|现在)?(?:有)?多大(?:了)?(?:啊|呀|呢)?[?？]*$|(?:是|为)(?:不是)?(?:儿童|小孩|孩子|婴儿|婴幼儿|成人|成年人)|"
    r"(?:儿童|小孩|孩子|婴儿|成人)的片子|男的?还是女的?|女的?还是男的?|男性还是女性|女性还是男性|性别|患者是谁|病人是谁|姓名")
# compare: one thing asked of the findings compared: their size, height, distance, density or margin
_ONE_THING_COMPARED = re.compile(
    r"(?<![a-z])(?:bigger|larger|smaller|biggest|largest|smallest|higher|lower|highest|lowest|closer|closest|nearer|"
    r"further|farther|denser|brighter|smoother|sharper|rounder|more (?:irregular|dense|round|lobulated|spiculated)|"
    r"size|sizes|distance)(?![a-z])|[大小高低近远]|密度|边缘|光滑|规则|毛刺|分叶|距离")
# the two lungs graded against each other ("which side is worse?", "which lung is more affected?", "哪侧更严重")
# ... and which holds more ("which lung has more opacity?", "which side has more lesions?", "哪侧病灶多"): it had compared
# two findings, and counted their lung-cancer signs
_SIDES_GRADED = re.compile(r"(?<![a-z])which (?:side|lung) (?:is |looks |seems )?(?:worse|more (?:affected|involved|severe|"
                           r"abnormal|diseased))(?![a-z])|[哪那](?:一)?(?:侧|边|个肺|侧肺|边肺)(?:更|比较|较)(?:严重|重|厉害|多)"
                           r"|(?<![a-z])which (?:side|lung) (?:has|shows) (?:the )?more (?:opacit(?:y|ies)|opacification|"
                           r"shadowing|shadows|lesions?|findings?|nodules?|disease|involvement|abnormalit(?:y|ies)|"
                           r"consolidation|changes?)(?![a-z])|[哪那](?:一)?(?:侧|边|个肺|侧肺|边肺)(?:的)?(?:病灶|阴影|病变|密度影)(?:更|比较|较)?多")
# one lung field set against the other by how dark or clear it looks ("is the left lung clearer than the right?",
# "左肺比右肺清楚吗"): the lungs compared, their lucency not read (the screening, or a margin question, before)
_LUNG_FIELDS_LUCENCY = re.compile(
    r"(?<![a-z])(?:left|right) (?:lung|side|hemithorax)(?: field)? (?:is |looks |seems )?(?:clearer|darker|blacker|brighter|"
    r"whiter|hazier|cloudier|more (?:lucent|radiolucent|opaque|hazy|transparent)) than (?:the )?(?:right|left)(?![a-z])"
    r"|(?<![a-z])which (?:side|lung)(?: field)? (?:is |looks |seems )?(?:clearer|darker|blacker|brighter|whiter|hazier|"
    r"more (?:lucent|radiolucent|opaque|hazy|transparent))(?![a-z])"
    r"|[左右](?:侧)?肺(?:野)?比[右左](?:侧)?肺(?:野)?(?:更|还)?(?:清楚|清晰|亮|黑|白|透亮|模糊|暗)"
    r"|[哪那](?:一)?(?:侧|边)(?:肺)?(?:野)?(?:更|比较|较)(?:清楚|清晰|亮|黑|白|透亮|模糊|暗)")
# two findings set against each other by how dense they look ("which one is denser?", "哪个密度高"): not ranked
_DENSITY_COMPARED = re.compile(r"(?<![a-z])(?:denser|more (?:dense|opaque|solid)|brighter|whiter)(?![a-z])"
                               r"|密度(?:更|较|比较)?(?:高|大|低|小)|更致密|更白|更亮")
# the two lungs named as the pair compared ("compare the two sides", "left vs right?", "比较两侧", "左右肺对比"); a bare
# "左右" is "about" ("3毫米左右"), so it counts only before a word of comparing
_SIDES_COMPARED = re.compile(
    r"(?<![a-z])(?:(?:two|both) (?:sides?|lungs?|lung fields?|hemithora(?:x|ces))|(?:left|right) and (?:the )?(?:right|left)"
    r"|(?:left|right)(?: (?:side|lung))? (?:vs\.?|versus|with|to|against) (?:the )?(?:right|left))(?![a-z])"
    r"|两侧|双侧|两肺|双肺|左右(?:两侧|两肺|侧|肺)|左右(?=对比|比较)|左肺和右肺|右肺和左肺")
# a lesion named by a general word: "how old is this lesion?" asks the lesion's age (an earlier film), not the patient's
_LESION_WORD = re.compile(rf"(?<![a-z])(?:{_LESION_NOUN}|opacities)s?(?![a-z])|肿块|结节|病灶|包块|阴影|病变")
# a lesion's age ("how old is this lesion?", "how long has it been there?", "这个结节长了多久了", "是新的还是旧的"): a
# change over time, which one film cannot date (an earlier film would)
_LESION_AGE = re.compile(
    rf"(?<![a-z])how old (?:is|are) (?:(?:the |this |that |these |those )?(?:(?!patient|child|person|man |woman )"
    rf"[\w-]+ ){{0,5}}(?:{_LESION_NOUN}|opacities)s?|it|[a-z]\d{{1,2}})(?![a-z0-9])"
    r"|(?<![a-z])how long (?:has|have) (?:it|this|that|they|the [\w -]{1,40}?) been (?:there|present|here)(?![a-z])"
    r"|(?<![a-z])(?:old|new) or (?:new|old)(?![a-z])|(?<![a-z])(?:acute|chronic) or (?:chronic|acute)(?![a-z])"
    r"|(?:结节|肿块|病灶|包块|阴影|病变|它|这个)[^?？。]{0,6}(?:长|有|存在)了?(?:多久|多长时间)"
    r"|新的还是(?:旧的|老的)|(?:旧的|老的)还是新的|是新是旧|新发的?还是")


# a next step asked of the film (imaging, follow-up, management): never treatment or prognosis, which stay out of scope
_NEXT_STEP = re.compile(
    r"(?<![a-z])(?:next steps?|further (?:imaging|tests?|work-?up|exams?|investigation)|follow[- ]?up|work-?up"
    r"|what (?:tests?|exams?|imaging|scans?)|should (?:we|i|they) (?:do|get|order|repeat)|do you recommend"
    r"|(?:done|do) next|what next"
    r"|need (?:a|an) (?:ct|scan|mri|lateral))(?![a-z])"
    r"|需要(?:做|再做|进一步)?(?:什么|哪些)?检查|还需要.{0,6}检查|进一步检查|下一步|要不要(?:做|查)?ct"
    r"|需要(?:做|查)?ct|随访|复查|怎么处理|如何处理|怎样处理"
    # "should we biopsy it?" / "需要活检吗" / "要不要穿刺": a test recommended (it was a margin answer or out of scope)
    r"|(?<![a-z])biops\w*|活检|穿刺")
# "how thick is its wall?" / "空洞壁厚吗?": a cavity's wall asked about (Query.wall_asked)
_WALL = re.compile(r"(?<![a-z])(?:wall|walls|walled)(?![a-z])|壁厚|洞壁|厚壁|薄壁|囊壁")
# "why is the margin uncertain?" / "why can't you tell?" / "为什么无法判断": why a statement is hedged (Query intent confidence)
_WHY_UNSURE = re.compile(r"(?<![a-z])why\b.{0,40}\b(?:uncertain|unsure|not sure|can'?t|cannot|can not|hedg\w*|possibly|"
                         r"possible|maybe)(?![a-z])|为什么.{0,12}(?:不确定|无法判断|不能判断|没法判断|说不准|判断不了|看不出|可能)")
# "is it PA?" / "was this taken AP?" / "PA?": the film's projection asked, a question ending on it
_VIEW_ASKED = re.compile(r"^\s*(?:(?:is|was)\s+(?:it|this|that|the film|this film|the x-?ray|this x-?ray|the image)\s+"
                         r"(?:taken\s+|shot\s+|done\s+)?(?:an?\s+)?)?(?:pa|ap)(?: (?:film|view|projection|x-?ray|cxr))?"
                         r"\s*[?？.]*\s*$")
# "is A2 a real lesion?" / "A2是真的病灶吗" / "is it real?": whether a finding is real is how sure Hilum is of it
_REAL_ASKED = re.compile(r"(?<![a-z])(?:is|are)\s+(?:it|this|that|they|these|a\d+|the \w+(?: \w+)?)\s+(?:an? )?(?:really )?"
                         r"real(?: (?:lesion|finding|nodule|mass|opacity|one))?s?\s*[?？.]*\s*$|(?<![a-z])really there\s*[?？.]*\s*$"
                         r"|(?:是|为)?真的?(?:是)?(?:病灶|病变|结节|阴影)吗|是不是真的(?:病灶|病变|结节|阴影)?[?？]*$|(?:a\d+|它|这个|那个|这处|那处)是真的吗[?？]*$"
                         # "is A2 just a vessel?" / "是不是血管影": whether it is a lesion at all
                         r"|(?<![a-z])(?:is|are)\s+(?:it|this|that|they|these|a\d+|the \w+(?: \w+)?)\s+(?:just\s+|only\s+)?(?:an?\s+)?"
                         r"(?:(?:blood )?vessels?(?: (?:seen )?end[- ]on)?|end[- ]on vessels?|artefacts?|artifacts?|overlapping shadows?)\s*[?？.]*\s*$"
                         r"|是(?:不是)?(?:血管|伪影|重叠影)(?:影|断面|的断面)?(?:吗|呢)?[?？]*$")
# "is it round?" / "is A1 oval?" / "what shape is it?" / "是圆形的吗" / "什么形状": a finding's shape asked (Query.shape_asked);
# never "the round one" (a shape that says which finding)
_SHAPE_ASKED = re.compile(r"(?<![a-z])(?:is|are)\s+(?:it|this|that|they|a\d+|the\s+[a-z-]+(?:\s+[a-z-]+)?)\s+"
                          r"(?:round|oval|circular|elliptical|roundish|ovoid)(?![a-z])|(?<![a-z])shape(?:d)?(?![a-z])"
                          r"|(?:是|呈)(?:不是)?(?:圆|椭圆|类圆|卵圆)|形状|形态")
# "what is A2?" / "what's the biggest lesion?" / "第二个病灶是啥": what a finding named is (Query.full of locate)
_WHAT_IS_NAMED = re.compile(r"(?<![a-z])what(?:'s| is| was| would you call| do you call)(?![a-z])|是(?:什么|啥)|叫什么|什么东西")
# "is it a mass or a nodule?" / "is A1 a mass?" / "是肿块还是结节" / "这是结节吗": which kind of lesion a finding is
_KIND_ASKED = re.compile(r"(?<![a-z])(?:is|was)\s+(?:it|this|that|a\d+|the\s+[a-z]+(?:\s+one)?)\s+an?\s+"
                         r"(?:mass|nodule|tumou?r)(?:\s+or\s+(?:an?\s+)?(?:mass|nodule))?\s*[?？.!]*\s*$"
                         r"|(?:肿块|结节)还是(?:肿块|结节)|(?:是|算)(?:不是)?(?:肿块|结节)(?:吗|呢|啊)?\s*[?？]?\s*$")
# "is the nodule big?" / "is A1 large?" / "is it small?" / "结节大吗" / "条索影粗不粗": a finding's size as a yes or no
_SIZE_PREDICATE = re.compile(r"(?<![a-z])(?:is|are)\s+(?:it|this|that|they|a\d+|the\s+[a-z-]+(?:\s+[a-z-]+)?)\s+"
                             r"(?:very\s+|too\s+|quite\s+)?(?:big|large|small|tiny|huge|thick|thin|wide|narrow)"
                             r"(?:\s+or\s+(?:big|large|small|tiny|thick|thin))?\s*[?？.!]*\s*$"
                             r"|(?:大|小|粗|细|宽|窄|厚)吗\s*[?？]?\s*$|(?:大|小|粗|细|宽|厚)不(?:大|小|粗|细|宽|厚)")


def size_predicate(text: str, features: dict[str, Any]) -> bool:
    """A finding's size asked as a yes or no (``_SIZE_PREDICATE``): a finding talked about, nothing compared."""
    return (bool(features["lesion_talk"] or lesion_groups(features["descriptors"])) and not features["compare"]
            and bool(_SIZE_PREDICATE.search(text)))


# a differential asked ("differential for A1?", "ddx?", "A1需要和什么鉴别?"): Query.differential
# ... and "what else could it be?" / "还可能是什么" (it ran the early lung cancer checklist with no word said)
_DIFFERENTIAL = re.compile(r"differential|(?<![a-z])ddx(?![a-z])|鉴别|(?<![a-z])what (?:else|other (?:things?|diagnos[ie]s|"
                           r"possibilit(?:y|ies)|causes?))\s+(?:could|might|can|would|may)\s+(?:it|this|that|a\d+|the \w+)"
                           r"(?:\s+\w+)?\s+be(?![a-z])|(?<![a-z])what else is (?:it|this) likely|还(?:有)?(?:可能|会)是(?:什么|啥)|"
                           r"还有(?:什么|哪些|其他|别的)(?:的)?可能|其他(?:的)?可能(?:性)?(?:有|是)(?:什么|哪些|啥)")
# "what is this?" / "这是什么?" on its own (Query.what_is_it)
_WHAT_IS_THIS = re.compile(r"^\s*(?:so |and |ok,? )?what(?:'s| is| would you call| do you call) (?:this|that|it)\s*[?？!.]*\s*$"
                           r"|^\s*(?:那)?这(?:个)?(?:到底)?(?:是|叫)(?:什么|啥)(?:东西)?\s*[?？!！。]*\s*$")
# "the spiculated one" / "the calcified one": a finding named by a word and "one"
_ONE_POINTER = re.compile(r"(?<![a-z])the\s+(?:[a-z-]+\s+){1,2}one(?![a-z])")
# "the RML lesion" / "右中叶病灶": a lesion named by its place, whose content is asked about ("any cavitation in the
# RML lesion?"), not a kind of lesion looked for in that place ("any cavitation in the RML?")
_LESION_BY_PLACE = re.compile(rf"(?<![a-z])(?:the|this|that)\s+(?:[a-z0-9-]+\s+){{1,3}}(?:{_LESION_NOUN})(?![a-z])"
                              r"|(?:叶|肺|野|带)(?:的|那个|那处|这个|这处)?(?:病灶|病变|阴影|肿块)")
# "the lump in the right middle lobe", "the spot at the left base": a lesion named by a plain noun and its place
_LESION_IN_PLACE = re.compile(rf"(?<![a-z])(?:the|that|this)\s+(?:{_LESION_NOUN})\s+(?:in|at|on|near|over)\s")
_ADVERB_RIGHT = re.compile(r"(?<![a-z])right(?=\s+(?:on|at|next to|by|above|below|under|over|into|there|here|now|away|up|"
                           r"against|beside|behind)(?![a-z]))")
_LOOKS_OK = re.compile(r"(?<![a-z])looks? (?:ok|okay|normal|fine|alright|all right)(?![a-z])|正常吗|还好吗|怎么样")
# "肺野内有无异常密度影" / "还有别的异常吗" / "anything else abnormal?": something besides a sign named is looked for
_LOOKS_FOR_MORE = re.compile(r"异常|病变|病灶|阴影|别的|其他|其它|(?<![a-z])(?:abnormal\w*|lesions?|anything|other)(?![a-z])")
# "肺纹理怎么样" / "双肺纹理如何" / "what about the vascular markings?" / "how do they look?": how something looks is asked
_STATE_ASKED = re.compile(r"怎么样|怎样|如何|(?<![a-z])(?:how (?:is|are|do|does)|(?:what|how) about|look(?:s|ing)? "
                          r"(?:ok|okay|normal|fine|like)|look\s*[?？.]*$)(?![a-z])")
_DISTANCE_FROM = re.compile(r"[离距]|how far|distance|多远|相隔")
# "both hila", "both costophrenic angles": a pair of structures, not the two findings
_BOTH_STRUCTURES = re.compile(r"(?<![a-z])(?:both|the two)\s+(?:the\s+)?(?:hila|hilums?|hilar|costophrenic|cp angles|hemidiaphragms?|"
                              r"diaphragms?|domes?|apices|lung apices)(?![a-z])")
_ON_BOTH_SIDES = re.compile(r"(?<![a-z])on (?:both|the two) sides?(?![a-z])")
# a pointer whose noun is a lesion's, colloquial or not ("that lump", "this spot", "the shadow")
_LESION_POINTER = re.compile(rf"(?<![a-z])(?:this|that|the)\s+(?:(?:little|small|big)\s+)?(?:{_LESION_NOUN})s?(?![a-z])")


def _checklist_bonuses(s: dict[str, float], features: dict[str, Any]) -> None:
    """A lesion's sign asked whether present, or how bad a lesion named is: its checklist answers."""
    if features["lesion_sign"]:
        s["sign_checklist"] = s.get("sign_checklist", 0) + 4
    # "is the nodule something to worry about?" / "这个小结节要紧吗": how bad a lesion named is (of no lesion in
    # particular, "anything worrying?", the screening answers; of two, "which is more worrying?", a comparison)
    # ... or suspicion of one ("any suspicious features in the RML nodule?"; "any suspicious nodules?" looks for some)
    # ("is that lump anything nasty?": a pointer with a lesion's noun names one, "this film" none)
    named = (lesion_groups(features["descriptors"]) or features["anchor_ids"] or features["relative"]
             or features["lesion_pointer"])
    looked_for = features["kind_asked"] or features["kind_in_region"] or features["kind_over_lungs"]
    definite = features["pointed"] or features["has_location"]
    asked = features["concern"] or (features["suspicion"] and definite)
    if asked and named and not (features["compare"] or looked_for):
        s["sign_checklist"] = s.get("sign_checklist", 0) + 4


def _measure_bonuses(s: dict[str, float], features: dict[str, Any]) -> None:
    """Units, thresholds and values: a size, or with a second place (a landmark, another lesion) a distance."""
    # a unit ("how many cm") with a second place (the hilum, another lesion) measures the distance between them; a
    # structure's outline is one where a distance is worded ("more than 2 cm from the heart", "within 1 cm of the trachea")
    to_structure = features["structure_measured"] and (s.get("measure_relation", 0) >= 2 or features["distance_words"])
    relational = bool(features["landmark"]) or features["pair"] or to_structure
    if features["units"] and (features["landmark"] or to_structure
                              or (features["pair"] and s.get("measure_relation", 0) >= 2)):
        s["measure_relation"] += features["units"] + 1
        s["size"] = max(0.0, s.get("size", 0) - features["units"])
    if features["size_op"]:
        target = "measure_relation" if relational and s.get("measure_relation", 0) >= 2 else "size"
        # (a distance's threshold in a clause after the first, "where is it and is it more than 2 cm from the
        # hilum?", is no size: that clause is answered after the first, ``also_asked``)
        s[target] = s.get(target, 0) + (0.0 if target == "size" and features["threshold_from_landmark"] else
                                         _THRESHOLD_WEIGHT)
    elif features["measure_value"]:  # "is the nodule 12 mm?" / "within 2 cm of the pleura": a value checked
        s["measure_relation" if relational else "size"] = s.get("measure_relation" if relational else "size", 0) + 4


_HIDING_PLACES = frozenset({"subclavicular", "apex", "retrocardiac"})


def _screen_bonuses(s: dict[str, float], scores: dict[str, float], features: dict[str, Any]) -> None:
    """The cues of a question about the whole film, at no lesion in particular: the screening summary answers it."""
    # "are both lung fields clear?" / "do you see any nodules?" about no lesion in particular: a screening question
    if not features["lesion_talk"] and features["whole_lungs_clear"]:
        s["screen"] = s.get("screen", 0) + 4
    # "锁骨下区有没有异常" / "anything behind the heart?": a region where lesions hide, looked in
    if features["presence"] and not features["lesion_talk"] and set(features["anatomy_kinds"]) & _HIDING_PLACES:
        s["screen"] = s.get("screen", 0) + 3
    # (not of a finding a pointer names: "does the spiculated one have any notches?")
    if (features["presence"] and features["descriptors"] and not (features["references"] or features["relative"]
                                                                   or features["pointer_named"])):
        s["screen"] = s.get("screen", 0) + 3
    # "is there a peripheral lesion?" / "any opacity in the right lung?": a lesion looked for, none pointed at
    if features["lesion_looked_for"] and not features["pointed"]:
        s["screen"] = s.get("screen", 0) + 4
    # "双肺有无实变影?" / "any consolidation in the lungs?": a kind of lesion looked for over both lungs screens for it
    if features["kind_over_lungs"] or features["kind_in_region"] or features["kind_asked"]:
        s["screen"] = s.get("screen", 0) + 6
    elif features["content_asked"]:  # "有没有空洞?": asked of the finding in focus (the engine screens when none is)
        s["density"] = s.get("density", 0) + 3
    # "anything suspicious in the lungs?": suspicion of no lesion and no disease in particular asks for the screening
    if (features["suspicion"] and not (features["pointed"] or features["checklist"] or features["term"] or features["compare"])
            and (features["presence"] or features["whole_lungs"] or scores.get("screen", 0) > 0)):
        s["screen"] = s.get("screen", 0) + 4


def _fallback_intent(features: dict[str, Any]) -> str:
    if features["relative"] or features["other"] or features["proximity"]:
        return "locate"
    if features["whole_lungs"] and not (features["lesion_talk"] or features["has_location"]):
        return "screen"  # "Lungs?": the lungs named, nothing asked of them
    # "A1?" / "the second lesion, what is it?": a finding named by its number or order and nothing asked is shown;
    # a pointer word alone ("this one?") asks the margin; a pointer with a place ("左边那个呢?") asks where, as
    # "what about the left one?" does
    if features["references"] and not (features["numbered"] or features["has_location"]):
        return "describe_margin"
    if features["term"] and not (features["descriptors"] or features["has_location"]):
        return "explain_term"
    if features["has_location"] or features["anchor_ids"] or features["ordinal"] or features["descriptors"]:
        return "locate"
    # "how's the pleura?" / "what about behind the heart?" / "心影后面呢": the pleura or the place behind the heart named,
    # nothing asked of it, is screened (there), as "胸膜怎么样" and "anything behind the heart?" are
    if features["anatomy_kinds"] and set(features["anatomy_kinds"]) <= _SCREENED_PLACES and not features["lesion_talk"]:
        return "screen"
    return "out_of_scope"


# what says nothing of a language besides the anchor ids (``_ANCHOR_ID``): units, numbers, punctuation and symbols
_LANGUAGE_NEUTRAL = re.compile(r"(?<![A-Za-z])(?:mm|cm|px)(?![A-Za-z])|[^A-Za-z\u3400-\u9fff]")


def language_neutral(text: str) -> bool:
    """Whether a question holds no word of either language ("A1?", "🙂", "?", "12 mm?"): it is answered in the
    session's language, not in English by default."""
    return not _LANGUAGE_NEUTRAL.sub("", _ANCHOR_ID.sub("", unicodedata.normalize("NFKC", text)))


def detect_lang(text: str) -> str:
    """The question's language: Chinese where its characters outweigh its Latin words (an anchor id, "A2", is no word:
    "A2呢" is Chinese; it had been answered in English)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_WORD.findall(_ANCHOR_ID.sub(" ", text).lower()))
    return "zh" if cjk and cjk * 2 >= latin * 3 else ("en" if latin else "zh" if cjk else "en")


# "该" is "that (one)" in "该结节" but "should" in "应该" (and "本该", "理该", "活该"): the page's own example question
# "典型X线表现应该有哪些?" was read as pointing at a finding, and asked back "which one do you mean?"
_SHOULD_BEFORE_GAI = frozenset("应本理活")


def _pointer_at(text: str, pos: int, term: str) -> bool:
    """Whether ``term`` found at ``pos`` points at something (not the 该 of a word meaning "should")."""
    return not (term == "该" and pos > 0 and text[pos - 1] in _SHOULD_BEFORE_GAI)


def _references(text: str, vocab: Vocabulary) -> tuple[str, ...]:
    found: list[tuple[int, str]] = []
    for term, positions in vocab.index.references.found(text):
        found.extend((pos, term) for pos in positions if _pointer_at(text, pos, term))
    # keep the longest at each position, drop terms contained in a longer one found
    found.sort(key=lambda x: (x[0], -len(x[1])))
    out: list[str] = []
    covered_until = -1
    for pos, term in found:
        if pos < covered_until:
            continue
        out.append(term)
        covered_until = pos + len(term)
    return tuple(out)


# ... nor is a rib counted ("at the level of the 9th posterior rib", "第五后肋"): the ordinals run past three
_REGION_THIRD = re.compile(r"(?<![a-z])(?:(?:which|what|inner|middle|outer|upper|lower|medial|lateral) thirds?|thirds? of the)(?![a-z])"
                           r"|(?<![a-z0-9])(?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                           r"tenth|eleventh|twelfth)\s+(?:(?:posterior|anterior|left|right)\s+)*(?:ribs?|intercostal|"
                           r"interspaces?)(?![a-z])|第[一二三四五六七八九十\d]+(?:前|后)?肋")


def _ordinal(text: str, vocab: Vocabulary) -> int | None:
    """"the second opacity"; a third of the lung's width ("outer third", "which third") is not an ordinal."""
    ix = vocab.index
    plain = _REGION_THIRD.sub(" ", text)
    # Removing words leaves pieces of the text between spaces: an ordinal (none has a space) not in the
    # text now is not in it after, so there is nothing to find.
    if not (ix.ordinal_spaced or ix.ordinals.any_substring(plain)):
        return None
    for t in ix.ordinal_strip:
        if t in plain:
            plain = plain.replace(t, " ")
    key = _first_key(plain, ix.ordinals)
    return int(key) if key else None


# --- cues: foreign language, signs, comparisons, thresholds ------------------------------------------

_FOREIGN_TOKEN = re.compile(r"[a-zà-ÿœß]+(?:[-'][a-zà-ÿœß]+)*")


def foreign_language(raw: str, vocab: Vocabulary) -> str | None:
    """The code of a language Hilum does not speak when the (normalised) question is in one, else None.
    By script (kana, hangul, …); for Latin script, by function words English does not use."""
    ix = vocab.index
    for code, pattern in ix.foreign_scripts:
        if pattern.search(raw):
            return code
    if _CJK.search(raw):
        return None
    tokens = _FOREIGN_TOKEN.findall(raw)
    english = ix.english_words
    n_en = sum(map(english.__contains__, tokens))
    counts = sorted(((sum(map(words.__contains__, tokens)), code) for code, words in ix.foreign_words), reverse=True)
    if not counts:
        return None
    n, code = counts[0]
    odd = bool(ix.non_english_letters.search(raw))
    if (n >= 2 and n > n_en) or (odd and n >= 1 and n_en == 0):
        return str(code)
    return None


def find_sign_questions(text: str, anatomy_kinds: list[str], vocab: Vocabulary, lesion_talk: bool) -> tuple[str, ...]:
    """The signs a presence question names, in the order named: a sign's own name ("气胸", "effusion"),
    or an anatomy name with a state word ("肺门大小正常吗", "is the trachea midline?") when the question
    is not about a lesion. A name inside a longer one ("积液" in "胸腔积液") counts once; a name inside a longer
    disease name of a checklist ("fluid" in "fluid overload") is that disease's, not a sign asked about."""
    spans: list[tuple[int, int, str]] = []
    for (sign, n), positions in vocab.index.sign_terms.found(text):
        spans.extend((pos, pos + n, sign) for pos in positions)
    diseases = [(pos, pos + n) for (_, n), positions in vocab.index.checklists.found(text) for pos in positions]
    kept = [sp for sp in spans if not any(o != sp and o[0] <= sp[0] and sp[1] <= o[1] and o[1] - o[0] > sp[1] - sp[0]
                                          for o in spans)
            and not any(a <= sp[0] and sp[1] <= b and b - a > sp[1] - sp[0] for a, b in diseases)]
    found = [sign for _, _, sign in sorted(kept)]
    if not lesion_talk:
        for kind in anatomy_kinds:
            sign = next((sign for sign, states in vocab.index.anatomy_states.get(kind, ()) if states.any_in(text)), None)
            if sign:
                found.append(sign)
    return tuple(dict.fromkeys(found))


# the part of a margin named ("how long are the spicules?", "毛刺多长", "how deep are the notches?"): the Finding
# attribute that holds it; asked how long, how deep or where they are (which takes them as there), not whether or how
# many ("有没有分叶或者毛刺?", "边缘有几个切迹" ask which finding is meant)
_PART_NAMED = (("spicules", re.compile(r"spicul|spike|毛刺|刺")), ("notches", re.compile(r"notch|切迹|分叶(?!状)")))
_PART_MEASURED = re.compile(r"(?<![a-z])(?:how (?:long|deep)|lengths?|depths?|where)(?![a-z])|多长|多深|长度|深度|哪里|哪儿|在哪")


def margin_part_named(text: str) -> str | None:
    """"spicules" | "notches": the part of a margin a question names (``_PART_NAMED``) and measures or places
    (``_PART_MEASURED``), or None."""
    if not _PART_MEASURED.search(text):
        return None
    return next((part for part, pattern in _PART_NAMED if pattern.search(text)), None)


def _margin_part(text: str, vocab: Vocabulary) -> bool:
    ix = vocab.index
    if ix.cue("margin_parts").any_in(text):
        return True
    return ix.margin_stems is not None and bool(ix.margin_stems.search(text))


_CONTENT_POINTERS = frozenset({"calcified", "cavitary", "ground_glass"})
# "how far is the cavity from the mass?" / "空洞离肿块多远": a content pointer tied to another lesion named by a word of
# relation is a second finding measured against it, not what that lesion holds
_OTHER_LESION = rf"(?:{_LESION_NOUN}|肿块|结节|病灶|包块|阴影)"
_RELATION_LINK = r"(?:from|to|and|vs\.?|versus|离|和|与|跟|到|距)"
_LINKED_AFTER = re.compile(rf"\s*{_RELATION_LINK}\s*(?:(?:the|that|this)\s+)?(?:那个|这个)?{_OTHER_LESION}")
_LINKED_BEFORE = re.compile(rf"{_OTHER_LESION}\s*{_RELATION_LINK}\s*(?:(?:the|that|this)\s+)?(?:那个|这个)?$")
_LESION_GROUPS: dict[str, str] = {"round": "round", "oval": "round", "nodule": "round", "mass": "round",
                                  "strand-like": "strand", "patchy": "patchy"}


def lesion_groups(descriptors: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct kinds of lesion a question names ("the nodule … the strand" → two)."""
    return tuple(dict.fromkeys(_LESION_GROUPS[d] for d in descriptors if d in _LESION_GROUPS))


def _compare_cue(text: str, vocab: Vocabulary, pair: bool) -> bool:
    ix = vocab.index
    comparative = ix.cue("comparatives").any_in(text)
    which = ix.cue("which").any_in(text) and not ix.cue("which_not").any_in(text)
    if which and comparative:
        return True
    # "are there more than two lesions?": "than" a number counts, it compares no findings
    return pair and any(not _COUNT_AFTER.match(text, p + len(t)) for t, positions in ix.cue("than").found(text)
                        for p in positions)


_COUNT_AFTER = re.compile(r"\s*(?:\d|(?:one|two|three|four|a few)(?![a-z])|[一两二三四](?:个|处|条|颗))")


_NUMBER_WORDS = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "half a": 0.5, "一": 1.0, "二": 2.0,
                 "两": 2.0, "三": 3.0, "四": 4.0, "五": 5.0, "半": 0.5}
_LOWER_THAN = re.compile(r"smaller|shorter|less|under|below|at most|小于|不到|少于|不足|以下|<|≤")


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def size_threshold(text: str, vocab: Vocabulary) -> tuple[str, float] | None:
    """"bigger than 1 cm" / "超过3厘米" → ("gt", 10.0); the threshold in mm."""
    for key in ("size_threshold_en", "size_threshold_zh"):
        pattern = vocab.cues.get(key)
        m = _compiled(pattern).search(text) if pattern else None
        if m is None:
            continue
        number = _NUMBER_WORDS.get(m.group(1))
        value = in_mm(number or float(m.group(1)), m.group(2))
        lower = _LOWER_THAN.search(m.group(0))
        return ("lt" if lower else "gt"), value
    return None


def distance_threshold(text: str, vocab: Vocabulary) -> tuple[str, float] | None:
    """"more than 2 cm from the hilum" / "within 1 cm of the pleura" / "1厘米以内" → ("lt", 10.0): a size threshold's
    words, or those only a distance has ("within", "closer than", "以内"); the threshold in mm."""
    return distance_words(text, vocab) or size_threshold(text, vocab)


def distance_words(text: str, vocab: Vocabulary) -> tuple[str, float] | None:
    """The threshold of the words only a distance has ("within 1 cm", "closer than 5 mm", "1厘米以内"), or None."""
    en = vocab.cues.get("distance_threshold_en")
    m = _compiled(en).search(text) if en else None
    if m is not None:
        value = in_mm(_NUMBER_WORDS.get(m.group(2)) or float(m.group(2)), m.group(3))
        return ("gt" if m.group(1).startswith(("further", "farther")) else "lt"), value
    zh = vocab.cues.get("distance_threshold_zh")
    m = _compiled(zh).search(text) if zh else None
    if m is not None:
        value = in_mm(_NUMBER_WORDS.get(m.group(1)) or float(m.group(1)), m.group(2))
        return ("gt" if m.group(3) == "以上" else "lt"), value
    return None


# (a place stated, then a tag: "that one is in the left lung right?")
_PLACE_CHECK = re.compile(r"^(?:is|are|was|were)\b|是(?:不是)?(?:在|位于)|(?:在|位于)[^,，?？]*[吗么][?？]?$"
                          r"|(?<![a-z])(?:is|are|lies|sits)\s+(?:in|on|at)\s.*(?:lung|lobe|zone|side|field|base|band|third|area|"
                          r"region)\s*,?\s*(?:right|correct)\s*[?？]+\s*$")
_IS_IT = re.compile(r"(?<![a-z])(?:is|are)\s+(?:it|this|that|they|the)(?![a-z])")
# (a closing 么 asks yes or no, "是么"; the 么 of 什么 / 怎么 / 多么 does not: "左下那个条索是什么" asks what it is)
_YES_NO = re.compile(r"^(?:is|are|does|do|was|has|have|can|could)\b|(?:吗|(?<![什怎这那多要])么)[?？!.。]*$|是否|是不是"
                     # a statement with a tag: "that one is in the left lung right?"
                     r"|(?<![a-z])(?:lung|lobe|zone|side|field|base|hilum|band|third|area|region)\s*,?\s*(?:right|correct)"
                     r"\s*[?？]+\s*$")
# a strand that links two things ("有没有条索相连", "a band connecting it"); a definite one ("the 条索影
# connected to …", "这个条索影相连吗") is the finding of that kind, as in a Chinese or English question
_CONNECTING_BAND = re.compile(r"(?:(?<![a-z])(the|this|that)\s?|(该|这个?|那个?|此))?"
                              r"(条索|索条|条带|strand|band)\S{0,2}\s?(相连|连接|相通|连着|connect|join|link)")


# "is the (smaller) nodule near the pleura?": the subject of a predicate, a word or two describing it allowed
_PREDICATE_SUBJECT = re.compile(r"^(?:is|are|was|were)\s+(?:the|this|that)\s+(?:[a-z-]+\s+){0,2}$")


def proximity_cue(text: str, vocab: Vocabulary) -> tuple[str, str] | None:
    """("near" | "far", landmark) for a lesion described by its distance to a landmark ("the one near the
    diaphragm", "离肺门最近的那个", "the one further from the hilum"); None for a distance asked of a finding
    ("how far is it from the hilum?", "是否靠近胸膜?") or a predicate ("is the nodule near the pleura?")."""
    found = _proximity_match(text, vocab)
    return (found[0], found[1]) if found else None


_ENDS_AFTER_LANDMARK = re.compile(r"\s*(?:borders?|margins?|edges?|region|area|wall|domes?|angles?)?\s*[?？.!。！]*\s*$")


def _proximity_match(text: str, vocab: Vocabulary) -> tuple[str, str, int, int] | None:
    """``proximity_cue`` with the span of the text that says it."""
    ix = vocab.index
    if ix.landmarks.any_in(text):
        for pattern in ix.proximity_patterns:
            for m in pattern.finditer(text):
                groups = m.groupdict()
                # (in its own clause: "the patient is anxious. is the left-sided shadow near the diaphragm?")
                clause = ix.clause_end.split(text[: m.start()])[-1] if ix.clause_end is not None else text[: m.start()]
                if _PREDICATE_SUBJECT.match(clause) and (groups.get("ptr") not in (None, "one")
                                                         or _ENDS_AFTER_LANDMARK.match(text, m.end())):
                    # "is the nodule near the pleura?" asks whether it is, and so does "is the round one close to
                    # the heart border?", which asks nothing after it ("is the one near the diaphragm smooth?" does)
                    continue
                return ix.proximity_cue_of[m.group("cue")], ix.landmark_of[m.group("lm")], m.start(), m.end()
    # "the lateral one" lies farthest from the midline, "the medial one" nearest to it
    for cue, pattern in ix.midline_patterns:
        found = pattern.search(text)
        if found is not None:
            return cue, "mediastinum", found.start(), found.end()
    return None


# two findings asked whether they are one: "the same lesion", "one lesion", "part of A1", "connected", "同一个病灶",
# "是一个东西", "相连", "连在一起" (not "the same level" / "同一水平": a height; nor a band connecting a lesion to a place)
_ONE_LESION = re.compile(
    r"(?<![a-z])(?:(?:the )?same (?:lesion|finding|opacity|nodule|mass|abnormality|thing|process|shadow|spot)|"
    r"one (?:and the same )?(?:lesion|finding|opacity|process|thing)|single (?:lesion|opacity)|"
    r"part of (?:the same|one|a single|a\d+)|connected|joined|continuous with|in continuity)(?![a-z])"
    r"|同一(?:个|处)?(?:病灶|病变|阴影|东西|结节|肿块|影)|是同一(?:个|处)(?=吗|么|嘛|[?？]|$)|"
    r"是一(?:个|处)(?:病灶|病变|阴影|东西)|属于同一|"
    r"相连|连在一起|相通")


def one_lesion_asked(text: str) -> bool:
    """Whether two findings are one is asked (``_ONE_LESION``), not a band connecting a lesion to a place."""
    return bool(_ONE_LESION.search(text)) and not _connecting_band(text)


def _connecting_band(text: str) -> bool:
    """A strand named as the link between two things, not as a lesion (see ``_CONNECTING_BAND``)."""
    return any(not (m.group(1) or m.group(2)) for m in _CONNECTING_BAND.finditer(text))


def expand_side_letters(text: str, vocab: Vocabulary) -> str:
    """"R base", "L lung", "R-sided", "R肺": a side's letter before a place in the chest is that side."""
    pattern = vocab.index.side_letter
    if pattern is None or not ("r" in text or "l" in text):
        return text
    return pattern.sub(lambda m: "right" if m.group(1) == "r" else "left", text)


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# a number in Chinese numerals before a unit ("十毫米", "两厘米", "二点五厘米", "一个公分")
_ZH_NUMBER = re.compile(r"([零〇一二两三四五六七八九十]{1,3})(?:点([零〇一二三四五六七八九]{1,2}))?(?=\s*个?\s*(?:毫米|厘米|公分|mm|cm))")


def _zh_integer(numeral: str) -> int | None:
    """"十" 10, "十二" 12, "二十" 20, "二十五" 25, "两" 2; None for a run of digits ("一二": one or two)."""
    if "十" in numeral:
        head, _, tail = numeral.partition("十")
        if len(head) > 1 or len(tail) > 1 or "十" in tail:
            return None
        return (_ZH_DIGITS[head] if head else 1) * 10 + (_ZH_DIGITS[tail] if tail else 0)
    return _ZH_DIGITS[numeral] if len(numeral) == 1 else None


def zh_numerals(text: str) -> str:
    """A value in Chinese numerals before its unit written in digits ("有没有超过十毫米" → "有没有超过10毫米",
    "二点五厘米" → "2.5厘米"), as the size and value cues read them."""
    if not _CJK.search(text):
        return text

    def digits(m: re.Match[str]) -> str:
        whole = _zh_integer(m.group(1))
        if whole is None:
            return m.group(0)
        return str(whole) + ("." + "".join(str(_ZH_DIGITS[c]) for c in m.group(2)) if m.group(2) else "")

    return _ZH_NUMBER.sub(digits, text)


_EN_ONES = {w: i for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                                          "eighteen", "nineteen"))}
_EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_EN_NUMBER = re.compile(r"(?<![a-z-])(?:(" + "|".join(_EN_TENS) + r")(?:[- ](" + "|".join(list(_EN_ONES)[1:10]) + r"))?"
                        r"|(" + "|".join(sorted(_EN_ONES, key=len, reverse=True)) + r"))"
                        r"(?=\s*(?:(?:mm|cm)(?![a-z])|millimet|centimet))")


def en_numerals(text: str) -> str:
    """English number words before a unit written as digits ("twenty mm" → "20 mm", "twenty-five millimetres" → "25
    millimetres"), as ``zh_numerals`` does for Chinese ones; number words elsewhere ("the two lesions") are left."""

    def digits(m: re.Match[str]) -> str:
        if m.group(3):
            return str(_EN_ONES[m.group(3)])
        return str(_EN_TENS[m.group(1)] + (_EN_ONES[m.group(2)] if m.group(2) else 0))

    return _EN_NUMBER.sub(digits, text)


# a tag question's "right" ("it's 12 mm, right?", "the strand is smooth - is that right?") names no side, and its
# pronoun ("A2 is about 25 mm, isn't it?") no finding of its own
_TAG_RIGHT = re.compile(r"(?:,\s*|[-–—]\s*|(?<![a-z])(?:is that|that's|that is|isn't that|am i|is this)\s+)(right)"
                        r"(?=\s*[?!.]+|\s*$)"
                        r"|,\s*(?:isn't|is|wasn't|was|doesn't|does|hasn't|has|aren't|are)\s+(it|they)(?=\s*[?!.]*\s*$)"
                        # "Right, and how far is that …" / "ok right - …": an opening word that agrees, no side
                        r"|^\s*(?:(?:ok|okay|well|yes|yeah|all)\s*,?\s*)?(right)(?=\s*(?:[,!.]|[-–—]|then\b|so\b))")


def drop_tag_right(text: str) -> str:
    """The text with a tag question's "right" and pronoun blanked (``_TAG_RIGHT``), and an opening "Right, …" that
    agrees; "is it on the right?" and "right, which lobe?" after a comma in a side's place keep their side."""
    if "right" not in text and "," not in text:
        return text

    def blank(m: re.Match[str]) -> str:
        g = next(i for i in (1, 2, 3) if m.group(i))
        return m.group(0)[: m.start(g) - m.start(0)] + " " * len(m.group(g)) + m.group(0)[m.end(g) - m.start(0):]

    # ... and a place stated with a tag ("that one is in the left lung right?": the lung is the left one)
    return _NOUN_TAG.sub(lambda m: m.group(0)[: m.start(2) - m.start(0)] + " " * len(m.group(2)), _TAG_RIGHT.sub(blank, text))


_LESION_KINDS = frozenset({"nodule", "mass", "strand", "consolidation"})  # vocab "kinds" that name a lesion itself


def _kind_spans(text: str, vocab: Vocabulary) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every kind of lesion named, in text order, the longest term at a position."""
    spans = sorted(((p, p + n, k) for (k, n), positions in vocab.index.kinds.found(text) for p in positions),
                   key=lambda sp: (sp[0], -sp[1]))
    out: list[tuple[int, int, str]] = []
    for sp in spans:
        if not out or sp[0] >= out[-1][1]:
            out.append(sp)
    return out


def screen_kinds(text: str, vocab: Vocabulary) -> tuple[str, ...]:
    """The kinds of lesion a question looks for (``Query.kinds``): each kind named, and kinds named side by side
    as one ("calcified nodule" → "calcified+nodule": a finding must be both); a finding of any of them answers."""
    groups: list[list[str]] = []
    last_end = -9
    for a, b, kind in _kind_spans(text, vocab):
        if groups and a - last_end <= 1 and text[last_end:a].strip(" -") == "":
            groups[-1].append(kind)
        else:
            groups.append([kind])
        last_end = b
    return tuple(dict.fromkeys("+".join(dict.fromkeys(g)) for g in groups))


def _kinds_offered(text: str, vocab: Vocabulary) -> bool:
    """"mass 或者 cavity" / "nodules or masses": two kinds of lesion offered as alternatives."""
    gaps = (text[a[1]:b[0]].strip() for a, b in pairwise(_kind_spans(text, vocab)))
    return any(gap == "/" or bool(_ALTERNATION.fullmatch(gap)) for gap in gaps)


_ORDINAL_NOUN = re.compile(r"(?<=\S)\s*(?:abnormalit(?:y|ies)|lesions?|findings?|opacit(?:y|ies)|nodules?|shadows?"
                           r"|spots?|病灶|病变|阴影|异常|影子)(?![a-z])")
_NEAR_PRESENCE = 6  # characters between a presence word and the kind it asks for ("有没有看到实性小结节")
_CLAUSE_ENDS = re.compile(r"\s*(?:吗|呢|么|啊)?\s*(?:[?!.,;。]|$)")


def asking_clauses(text: str, vocab: Vocabulary) -> str:
    """The clauses of the text that ask something ("医生说我肺上有个结节,大不大啊" → "大不大啊"); the text when none
    or all do."""
    ix = vocab.index
    if ix.clause_end is None or ix.asks is None:
        return text
    clauses = [c for c in ix.clause_end.split(text) if c]
    asking = [c for c in clauses if ix.asks.search(c)]
    return " , ".join(asking) if asking else text


def after_statements(text: str, vocab: Vocabulary) -> str:
    """The text from its first clause that asks, when clauses that ask nothing come before it ("I saw the report
    says 12 mm, but is the edge spiky?" → "but is the edge spiky?"): a statement before the question asks nothing."""
    ix = vocab.index
    if ix.clause_end is None or ix.asks is None:
        return text
    start = 0
    for m in ix.clause_end.finditer(text):
        if ix.asks.search(text[start:m.start()]):
            break
        start = m.end()
    if start and _TAG_ONLY.match(text, start):  # "you said A1 was 12 mm, right?": the statement is what is asked
        return text
    # ... and so it is when what follows the tag only says which finding ("…, is that right? the round one I mean")
    tag = _TAG_THEN.match(text, start) if start else None
    if tag is not None and not ix.asks.search(text[tag.end():]):
        return text
    return text[start:] if start and ix.asks.search(text[start:]) else text


_VALUE = r"(\d+(?:\.\d+)?)\s*(mm|cm|millimet\w*|centimet\w*|毫米|厘米|公分)"
# "the 12 mm one", "that 2.5 cm lesion"; "那个12毫米的", "12mm的结节" (never a threshold: "大于10毫米的结节")
_SIZE_POINTER = re.compile(
    r"(?<![a-z])(?:the|that|this)\s+" + _VALUE + rf"\s+(?:one|{_LESION_NOUN}|measurement|reading)s?(?![a-z])"
    r"|(?<![\d.大小于过到上下>＜<])(?<!超过)(?<!不到)(?<!多于)(?<!少于)" + _VALUE + r"\s*(?:的|那个|大的|长的)(?!吗|呢|么)")


def size_named(text: str, stated: str) -> tuple[float | None, str]:
    """A size that says which finding ("the 12 mm one", "那个12毫米的", or a value in a statement before the
    question: "the report says 12 mm, but is the edge spiky?"), in mm, and the text with the pointer blanked."""
    m = _SIZE_POINTER.search(text)
    if m is not None:
        groups = [g for g in m.groups() if g is not None]
        blanked = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end():]
        return in_mm(float(groups[0]), groups[1]), blanked
    m = re.search(_VALUE, stated)
    return (in_mm(float(m.group(1)), m.group(2)) if m else None), text


def drop_report_heading(text: str, vocab: Vocabulary) -> str:
    """The text with a report section's heading before a colon blanked ("Impression: nodule size?", "印象：右中肺结节，
    大小？", "Impression: is the nodule benign?") when what follows asks something of its own (a question word or a
    keyword of weight 3 or more): the heading says where the answer goes, not what is asked ("impression" asks no
    diagnosis). "Impression?" (no colon) keeps it."""
    heading = vocab.index.report_heading
    m = heading.match(text) if heading is not None else None
    after = text[m.end():] if m is not None else ""
    asks = vocab.index.asks is not None and vocab.index.asks.search(after) is not None
    if m is None or not (asks or max(score_intents(after, vocab).values(), default=0.0) >= 3):
        return text
    return " " * m.end() + text[m.end():]


# a tag that asks only whether what was said is so ("…, right?" once its "right" is blanked, "对吧", "is that correct?")
_TAG_THEN = re.compile(r"\s*(?:is that|isn't it|is it|isn't that|correct|true|对吧|对吗|是吗|是吧|对不对|没错吧|没错吗)"
                       r"(?:\s*right)?\s*[?？]")
_TAG_ONLY = re.compile(r"\s*(?:(?:is that|isn't it|is it|isn't that|am i|correct|true|yes|no|对吧|对吗|是吗|是吧|对不对|没错吧|没错吗)"
                       r"\s*)*[?？!.。]*\s*$")


def kind_asked(text: str, vocab: Vocabulary) -> str | None:
    """What a presence word asks for when its object is a kind of lesion: "lesion" for a lesion kind, alone or
    with what it holds ("any nodules?", "有没有钙化结节", "there's a mass anywhere?"), "content" for what a
    lesion holds alone ("any GGO?", "GGO 有吗", "有没有空洞?": in the finding in focus, else over the film);
    None when another lesion named apart holds it ("结节有没有钙化", "is there calcification in the nodule")."""
    spans = _kind_spans(text, vocab)
    if not spans:
        return None
    presence = [(p, p + len(t)) for t, positions in vocab.index.cue("presence").found(text) for p in positions]
    after = [sp for sp in spans if any(0 <= sp[0] - e <= _NEAR_PRESENCE for _, e in presence)]
    # "GGO 有吗" / "空洞有没有?": the presence word after its object ends the question
    before = [sp for sp in spans if any(0 <= p - sp[1] <= 2 and _CLAUSE_ENDS.match(text, e) for p, e in presence)]
    asked = after[:1] or before[-1:]
    if not asked:
        return None
    a, b, kind = asked[0]
    # "我们能看到结节有没有钙化吗": a presence word after the lesion asks a content of it, not whether it is there
    if kind in _LESION_KINDS and any(k not in _LESION_KINDS and any(b <= p and 0 <= s - e <= _NEAR_PRESENCE for p, e in presence)
                                     for s, _, k in spans if s >= b):
        return None
    beside = [k for s, e, k in spans if (s, e) != (a, b) and (a - 1 <= e <= a or b <= s <= b + 1)]
    apart = [k for s, e, k in spans if (s, e) != (a, b) and k in _LESION_KINDS and not (a - 1 <= e <= a or b <= s <= b + 1)]
    if apart:
        return None
    return "lesion" if kind in _LESION_KINDS or any(k in _LESION_KINDS for k in beside) else "content"


# a comparison that opens with what the finding asked about is compared with ("跟另一个比,它…", "和结节相比,条索影…",
# "compared with the other one, is it …")
_COMPARED_WITH_FIRST = re.compile(r"^(?:那|那么)?(?:跟|和|与|同)[^,，?？]{1,12}?(?:相比|比较|比起来|比)[,，]?"
                                  r"|^(?:when |if )?(?:compared (?:with|to)|relative to|in comparison (?:with|to))\s[^,?]{1,40}?,")


# "than" between two findings ("is it smoother than the nodule?", "它比那个圆的大吗"; not 比较, 比例, 心胸比)
_THAN = re.compile(r"(?<![a-z])than(?![a-z])|(?<!胸)比(?![较例率值起如方])")
_IT_AND = re.compile(r"(?:它|(?<![a-z])it)\s*(?:和|跟|与|同|and)")
_OPENS_WITH_THAN = re.compile(r"^(?:那|那么)?比(?![较例率值起如方])")


def _it_and_other(text: str, mentions: tuple[str, ...], other: bool, it_and_other: bool) -> tuple[bool, tuple[str, ...]]:
    """Whether "it" and "the other one" are two findings, and the mentions to match: "和另一个比呢" / "compared with
    the other one?" sets the one in focus beside the other; in "what about the other one, how far is it from its
    hilum?" "it" after "the other one" is that one, unless the two are compared ("compared with the other one, is
    it bigger?", "than")."""
    if other and not it_and_other and mentions == ("other",) and _COMPARED_WITH_FIRST.match(text):
        return True, ("focus", "other")
    if it_and_other and mentions[:1] == ("other",) and not (_COMPARED_WITH_FIRST.match(text) or _THAN.search(text)):
        return False, tuple(m for m in mentions if m != "focus")
    return it_and_other, mentions


def _beside_focus(text: str, mentions: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """The mentions, with the one in focus first where "比条索影大吗" leaves it unnamed, and whether the one in focus
    is set beside another finding: "它比下面那个大吗" / "它跟 A2 比呢" (one beside it, or named by its number), or one
    named by its kind in a clause that opens with what it is compared with ("跟结节比,它更大吗") or after "than"
    ("is it smoother than the nodule?", "它比那个圆的大吗")."""
    if _OPENS_WITH_THAN.match(text) and "focus" not in mentions and any(m.startswith("d:") for m in mentions):
        mentions = ("focus", *mentions)
    by_kind = _COMPARED_WITH_FIRST.match(text) is not None or _THAN.search(text) is not None
    # ... or one named by its side, joined to it ("它和左下那个隔多远?")
    joined = by_kind or _IT_AND.search(text) is not None
    beside = "focus" in mentions and any(m.startswith(("rel:", "d:") if by_kind else "rel:")
                                         or (m.startswith("side:") and joined)
                                         or (m[:1] in "AF" and m[1:].isdigit()) for m in mentions)
    return mentions, beside


def named_mentions(text: str, vocab: Vocabulary, pointer_spans: list[tuple[str, tuple[int, int]]]) -> tuple[str, ...]:
    """The findings the question names, in the order it names them (``Query.mentions``)."""
    ix = vocab.index
    found: list[tuple[int, int, str]] = [(m.start(), m.end(), f"{m.group(1).upper()}{int(m.group(2))}")
                                         for m in _ANCHOR_ID.finditer(text)]
    plain = _REGION_THIRD.sub(lambda m: " " * len(m.group(0)), text)  # "the outer third" is no ordinal
    found += [(p, p + n, f"ord:{key}") for (key, n), positions in ix.ordinals.found(plain) for p in positions]
    found += [(p, p + n, f"d:{key}") for (key, n), positions in ix.descriptors.found(text) if key in _LESION_GROUPS
              for p in positions]
    found += [(a, b, f"d:{d}") for d, (a, b) in pointer_spans]
    if ix.side_pointers is not None:
        for m in ix.side_pointers.finditer(text):
            side = next(g for g in m.groups() if g)  # zh, en, en2 or en3: the side word
            found.append((m.start(), m.end(), "side:" + ("right" if side in ("右", "right") else "left")))
    found += [(p, p + len(t), "other") for t, positions in ix.other_reference.found(text) for p in positions]
    # "the one above it" / "上面那个 vs 下面那个": a finding by its position, from the one in focus (or, with none,
    # the highest / lowest); a lobe named ("is the LLL thing bigger than the RML nodule"): the finding in it
    found += [(p, p + n, f"rel:{key}") for (key, n), positions in ix.relative_positions.found(text) for p in positions]
    found += [(p, p + n, f"lobe:{key}") for (key, n), positions in ix.lobes.found(text) for p in positions]
    taken = sorted(found)
    for t, positions in ix.cue("focus_words").found(text):
        for p in positions:
            if not _pointer_at(text, p, t):
                continue
            end = p + len(t)
            if text[end:end + 1] in ("俩", "们"):  # "它俩" / "它们": both, not the one in focus
                continue
            # "this nodule" / "这个结节": the pronoun is the named finding's determiner, not a finding of its own
            # ("它跟结节比" / "它比结节长吗": "it" determines nothing); "它上面那个": the finding the position is taken
            # from, not a finding named apart
            determiner = t not in ("它", "it")
            if not any(a <= p < b or (name.startswith("d:") and determiner and end <= a <= end + 2)
                       or (name.startswith("rel:") and end <= a <= end + 1 and not text[end:a].strip())
                       for a, b, name in taken):
                found.append((p, end, "focus"))
    kept: list[tuple[int, str]] = []
    covered = -1
    for a, b, name in sorted(found, key=lambda x: (x[0], -(x[1] - x[0]))):
        if a < covered:
            continue
        covered = b
        if not kept or kept[-1][1] != name:
            kept.append((a, name))
    # "跟另一个比,它大还是小" / "compared with the other one, is it bigger?": the finding compared with is named first
    # but is the second of the comparison; the one asked about, named after it, comes first
    lead = _COMPARED_WITH_FIRST.match(text)
    if lead is not None and any(a < lead.end() for a, _ in kept) and any(a >= lead.end() for a, _ in kept):
        kept = [k for k in kept if k[0] >= lead.end()] + [k for k in kept if k[0] < lead.end()]
    return tuple(name for _, name in kept)


def parse(question: str, vocab: Vocabulary | None = None) -> Query:
    """Parse one question. Never raises on odd input; an empty question is the engine's concern.

    With the default vocabulary the result is memoised (``_parse_memo``: a bounded LRU of 4096 questions, keyed
    by the exact question text and the vocabulary object). That is safe because a ``Query`` is deeply
    immutable: a frozen dataclass whose fields are only str, int, float, bool, None and tuples of str (tested
    in tests/orchestrator/dialogue/test_parser_invariants.py), so a memoised answer cannot be changed by a
    caller that received it, and parsing is a pure function of (text, vocabulary). ``parse_uncached`` is
    the same without the memo."""
    if vocab is not None:
        return parse_uncached(question, vocab)
    return _parse_memo(question, _ByIdentity(load_vocabulary()))


class _ByIdentity:
    """A vocabulary as a memo key: equal only to itself (a Vocabulary holds dicts, so it has no hash)."""

    __slots__ = ("vocab",)

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def __hash__(self) -> int:
        return id(self.vocab)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.vocab is self.vocab


@lru_cache(maxsize=4096)
def _parse_memo(question: str, vocab: _ByIdentity) -> Query:
    return parse_uncached(question, vocab.vocab)


# two axes of one opacity named together: "长径和短径", "长短径", "长和宽", "length and width", "long and short axes"
_TWO_AXES = re.compile(r"长径.{0,3}短径|短径.{0,3}长径|长短径|长轴.{0,3}短轴|长.{0,1}[和与跟及]宽|length and width|"
                       r"long and short ax[ei]s|long and short diameters?")
# "Explain cardiothoracic ratio" / "解释一下心胸比": the question opens by asking for an explanation
_EXPLAIN_OPENING = re.compile(r"^\s*(?:(?:please|pls|can you|could you)\s+)?explain\b|^\s*(?:请)?解释")
# "CTR 是什么?" / "胸片上说的外带是指哪里?": the whole question is "<words> is what / means where"
_ZH_WHAT_MEANS = re.compile(r"^(?P<named>[^,，;；?？]{1,24}?)(?:是指|指的是)(?:哪里|哪儿|什么|啥)?[?？。!！\s]*$"
                            r"|^(?P<named2>[^,，;；?？]{1,24}?)(?:是什么|是啥|是个啥)(?:意思)?[?？。!！\s]*$"
                            # ... and in English with no article or an indefinite one: "what's an air bronchogram?"
                            # ("what is the cardiothoracic ratio?" asks this film's)
                            r"|^(?:so |and |ok,? )?(?:what(?:'s| is| are)|define)\s+(?:an?\s+)?"
                            r"(?!(?:the|this|that|these|those|its?|in|on|at|near|behind|inside|around|going|wrong|there)\s)"
                            r"(?P<named3>[a-z][a-z' -]{1,40}?)\s*[?.!]*\s*$")


def term_defined(text: str, vocab: Vocabulary, named_term: str | None) -> bool:
    """A term (of the signs or the glossary) is the whole subject of a "what is / what does it mean"."""
    m = _ZH_WHAT_MEANS.match(text.strip())
    if m is None or named_term is None:
        return False
    subject = m.group("named") or m.group("named2") or m.group("named3") or ""
    return named_term in (find_sign_term(subject, vocab), find_glossary_term(subject, vocab))


def _not_on_this_film(intent: str, by_fallback: bool, asked: str, scores: dict[str, float], features: dict[str, Any],
                      signs: tuple[str, ...], v: Vocabulary) -> tuple[str, tuple[str, ...], bool]:
    """What one film cannot say: a change over time ("is the nodule new?": out_of_scope, an earlier film would), and
    a sign of what Hilum does not read, asked whether present ("any rib fractures?": that sign, not read). A term
    explained stays explained, unless nothing but its name made it so ("is there a pacemaker?"); an explicit
    out-of-scope ask ("does he need surgery?") stays out of scope. ``asked``: the question's first question
    (``first_question``), so that a change over time said after it asks nothing ("Heart size ok吗?病人新出现杂音").
    -> (intent, signs, needs_prior)"""
    # "what is the doubling time?" asks a change's value (an earlier film answers it); "what does doubling time mean?"
    # the term's meaning
    value_asked = CHANGE_TERM in (features["term"], features["glossary"]) and not _ASKS_MEANING.search(asked)
    # ("what's the interval change?": a change asked with no term of the vocabulary's named is its value, not a term)
    value_asked = value_asked or (intent == "explain_term" and not (features["term"] or features["glossary"])
                                  and not _ASKS_MEANING.search(asked))
    needs_prior = (intent != "explain_term" or value_asked) and bool(
        (_NEEDS_PRIOR.search(asked) and not dialogue_recalled(asked)) or _LESION_AGE.search(asked))
    if needs_prior:
        return "out_of_scope", signs, True
    term = features["term"]
    # a bone or a device is never a lesion, wherever it is said to be; a sign a lesion could be said to be ("is the
    # basal band just plate atelectasis?") asks that lesion's checklist
    never_a_lesion = v.sign_categories.get(term) in UNREAD_CATEGORIES
    pointed = not never_a_lesion and (
        features["pointed"] or features["has_location"] or bool(lesion_groups(features["descriptors"])))
    unread = never_a_lesion or term in UNREAD_SIGNS
    # (a device or a bone a finding could be, in the words that ask a checklist: "结节会不会是心电电极" asks that
    # sign; no checklist is named)
    looked_at = features["presence"] or features["yes_no"] or (never_a_lesion and intent == "sign_checklist")
    if (unread and looked_at and not (features["checklist"] or pointed)
            and (intent != "explain_term" or by_fallback) and scores.get("out_of_scope", 0.0) < 5):
        return "assess_anatomy", (term,), False
    # "主动脉结突出吗": a structure's state asked, the sign named is one nothing on the film evidences
    if intent == "assess_anatomy" and not signs and term in v.unevidenced and not pointed:
        return intent, (term,), False
    # "肺纹理增多吗" / "有没有胸膜增厚" / "is there bronchiectasis?": a sign nothing on the film evidences and no finding
    # could be, asked whether present, is not read (it was explained, screened for, or answered with a finding's
    # density); its meaning asked ("what does bronchiectasis mean?") stays explained
    # (how it looks, asked, is as unread as whether it is there: "肺纹理怎么样", "what about the vascular markings?"; not
    # a look for something else beside it, "双肺纹理清晰,肺野内有无异常密度影?", "除了肺纹理,还有别的异常吗", nor the
    # difference between it and something else)
    if (term in v.unevidenced and term not in LESION_LIKE_SIGNS and (looked_at or _STATE_ASKED.search(asked))
            and features["term_asked"] and intent != "sign_checklist"
            and not (_LOOKS_FOR_MORE.search(asked) or features["general_difference"] or features["whole_lungs_clear"])
            and not (features["checklist"] or pointed or features["explain_opening"] or _ASKS_MEANING.search(asked))
            and scores.get("out_of_scope", 0.0) < 5):
        return "assess_anatomy", (term,), False
    return intent, signs, False


def _blanked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """The text with each span blanked (its length kept, as every blanking of ``rest`` keeps it)."""
    for a, b in spans:
        text = text[:a] + " " * (b - a) + text[b:]
    return text


def _as_stated(stated: tuple[float, str] | None, intent: str, size_op: str | None, size_mm: float | None,
               also: tuple[str, ...], descriptors: tuple[str, ...]
               ) -> tuple[str, str | None, float | None, tuple[str, ...], tuple[str, ...]]:
    """A size the reader states ("it looks bigger to me, like 15 mm") asks the finding's size again, to compare: no
    threshold, and no "bigger" read as "the bigger one" (intent, size_op, size_mm, also, descriptors)."""
    if stated is None:
        return intent, size_op, size_mm, also, descriptors
    return ("size", None, None, tuple(a for a in also if a != "size"),
            tuple(d for d in descriptors if d not in ("small", "large")))


# what is left of a clause that asked the answer's language once its words are taken out ("用英文回答" -> "回答"; "please
# answer in English:" -> "please :"): asks nothing
_LANGUAGE_LEFT_BEFORE = re.compile(r"(?:(?<![a-z])(?:please|pls|kindly|can you|could you)|请|麻烦你?|能不能|可以)?\s*$")
_LANGUAGE_LEFT_AFTER = re.compile(r"^\s*(?:回答|回复|作答|答复|说|讲|解答|一下)*\s*(?:吧|please|pls)?\s*[:：,，;；。.!！]*")


def _language_clause(question: str) -> tuple[str, str] | None:
    """"用英文回答:A1多大?" / "answer in Chinese: how big is A1?" / "how big is A1? answer in Chinese": the language the
    answer is asked in (zh | en) and the question without the request, where it asks something of its own; None where
    the request is all it says (answered as such: "Hilum answers in the language each question is asked in")."""
    text = normalise(question)
    found = next(((lang, m) for lang, pattern in _LANGUAGE_ASKED if (m := pattern.search(text))), None)
    if found is None:
        return None
    lang, m = found
    before, after = text[: m.start()], text[m.end():]
    before = before[: _LANGUAGE_LEFT_BEFORE.search(before).start()]  # type: ignore[union-attr]  # (it always matches)
    after = after[_LANGUAGE_LEFT_AFTER.match(after).end():]  # type: ignore[union-attr]
    rest = f"{before.strip()} {after.strip()}".strip()
    if not rest or nothing_said(rest) or social_words(rest):
        return None
    return lang, rest


# "How many are in the left lung?" / "how many in the right upper zone?": findings counted in a region, not a checklist's
# signs ("how many signs does it show?")
_HOW_MANY = re.compile(r"(?<![a-z])how many(?![a-z])|多少个|几个|几处")
_SIGNS_COUNTED = re.compile(r"(?<![a-z])(?:signs?|features?|criteria|items?|points?)(?![a-z])|征象|表现|特征|条(?!索)")
# "list them" / "列出来" / "list the findings": the findings listed
_LIST_ASKED = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|so|and|now)[,\s]+)?(?:(?:can|could|would) you\s+|please\s+|pls\s+)?(?:list|enumerate|itemi[sz]e)"
    r"(?:\s+(?:them|those|these|all|everything|(?:all\s+(?:of\s+)?)?(?:them|the\s+(?:findings|lesions|regions|"
    r"candidates|opacities|abnormalities)|findings|lesions)))?(?:\s+(?:for me|please|out|again))*\W*$"
    r"|列出|列一下|列个(?:表|清单)|列举|逐一列|一一列|罗列")
# "which is nearer the pleura, A1 or A2?" / "哪个离胸膜更近": the findings compared by their distance to a landmark
_NEARER = re.compile(r"(?<![a-z])(?:closer|nearer|closest|nearest|further|farther|furthest|farthest)(?![a-z])|近|远")
_COMPARED_LANDMARKS = ("pleura", "diaphragm", "hilum", "heart", "mediastinum", "apex")
# "is one lung bigger than the other?" / "两侧肺一样大吗": the lung fields' sizes
_LUNGS_SIZED = re.compile(
    r"(?<![a-z])(?:one|either|a|the (?:right|left)|which|right|left)\s+lung\s+(?:is\s+|looks?\s+|seems?\s+)?"
    r"(?:bigger|larger|smaller|greater)(?![a-z])"
    r"|(?<![a-z])(?:is|are)\s+(?:the\s+)?(?:right|left|one)\s+lung\s+(?:bigger|larger|smaller)(?![a-z])"
    r"|(?<![a-z])lungs?\s+(?:are\s+|look\s+)?(?:the\s+)?same\s+size(?![a-z])|(?<![a-z])lungs?\s+(?:of\s+)?(?:equal|"
    r"different|symmetric(?:al)?)\s+(?:in\s+)?sizes?(?![a-z])|(?<![a-z])(?:sizes?|volumes?)\s+of\s+(?:the\s+)?(?:two\s+|both\s+)?"
    r"lungs(?![a-z])|(?<![a-z])which lung is (?:bigger|larger|smaller)(?![a-z])"
    r"|(?:两侧|双侧|左右|两个|两边)?肺(?:的)?(?:一样大|大小(?:一样|相同|对称|相等|是否一样|有没有差别|有差别|不一样|不同))"
    r"|(?:左|右|哪侧|哪边|一侧|哪个)肺(?:比.{0,4}肺)?(?:更|较)?(?:大|小)(?=吗|么|些|一些|一点|呢|[?？]|$)")
# "are the costophrenic angles the same?" / "两侧肋膈角一样吗": the two angles set against each other
_SAME_ASKED = re.compile(r"(?<![a-z])(?:same|equal|symmetr\w*|alike|similar|differ\w*|match\w*|compare\w*)(?![a-z])|"
                         r"一样|相同|对称|差不多|区别|差别|不同|相等|一致|比较")


def _of_the_film(q: Query, text: str) -> Query:
    """What a question of the film's own structures asks, where its words alone had read otherwise: findings counted
    in a region ("How many are in the left lung?" had been a checklist of signs), listed ("list them" had asked which
    one), compared by a landmark's distance ("which is nearer the pleura, A1 or A2?" had been a general comparison),
    the lungs' sizes ("is one lung bigger than the other?" had asked which finding) and the two costophrenic angles
    compared."""
    if (q.intent == "sign_checklist" and not (q.checklist or q.unlisted_disease or q.verdict_asked) and q.has_location
            and _HOW_MANY.search(text) and not _SIGNS_COUNTED.search(text)):
        return replace(q, intent="screen", of_the_film=False)
    if (_LIST_ASKED.search(text) and not (q.checklist or q.term or q.signs or q.anchor_ids or _SIGNS_COUNTED.search(text))
            and q.intent in ("screen", "out_of_scope", "describe_margin", "locate")):
        return replace(q, intent="screen", listed=True, references=(), mentions=(), both=False, bare_pointer=False,
                       elliptical=False, yes_no=False, not_understood=False)
    if q.intent == "compare" and q.landmark is None and _NEARER.search(text):
        kinds = [a.removesuffix("_right").removesuffix("_left") for a in q.anatomy]
        landmark = next((k for k in _COMPARED_LANDMARKS if k in kinds), None)
        return replace(q, landmark=landmark) if landmark else q
    if _LUNGS_SIZED.search(text) and not (q.anchor_ids or _LESION_WORD.search(text) or q.checklist):
        return Query(intent="assess_anatomy", lang=q.lang, lungs_sized=True, yes_no=q.yes_no, unit=q.unit,
                     answer_lang=q.answer_lang)
    if q.intent == "assess_anatomy" and any(a.startswith("costophrenic") for a in q.anatomy) and _SAME_ASKED.search(text):
        return replace(q, angles_compared=True)
    return q


# "how high does it reach?" / "how far up does the fluid go?" / "它到哪个高度": how high a finding reaches up its side,
# asked of no landmark (an effusion's height above its costophrenic angle, which its size answer gives). "reach" is a
# word of touching ("does it reach the pleura?"), and the question had been answered with the distance to the hilum
_HEIGHT_REACHED = re.compile(
    r"(?<![a-z])(?:how (?:high|far up)|what (?:level|height)|up to where)(?![a-z]).*?"
    r"(?<![a-z])(?:reach\w*|go|goes|extend\w*|come\w*|rise\w*|get\w*)(?![a-z])"
    r"|(?<![a-z])how tall(?![a-z])|到哪个?(?:高度|水平|位置)|多高|上缘到哪")


def _height_reached(q: Query, text: str) -> Query:
    """A finding's height asked (``_HEIGHT_REACHED``) where the words read a distance, a comparison or a margin: its
    size answer (an effusion's height above the angle, with what an upright film grades it); "积液到哪个高度", the
    effusion named with no finding pointed at, what "积液有多高" asks (the effusion's sign answer, with its height)."""
    if (q.intent not in ("measure_relation", "compare", "describe_margin") or q.anatomy or q.signs
            or not _HEIGHT_REACHED.search(text)):
        return q
    if q.references or q.anchor_ids or q.descriptors:
        return replace(q, intent="size", checklists_asked=(), bare_pointer=False)
    if "pleural_effusion" in q.checklists_asked:
        return replace(q, intent="assess_anatomy", signs=("pleural_effusion",), checklists_asked=())
    return q


def _asked_as(question: str, vocab: Vocabulary | None) -> Query:
    """The question's words parsed with the unit it asks in said in mm (``units.read_units``); the unit kept, a range
    of sizes read ("between 8 and 15 mm": ``size_op`` "between"), what ``_of_the_film`` reads, and a height asked
    (``_height_reached``)."""
    units = read_units(question)
    q = _parse_words(units.text, vocab)
    q = replace(q, unit=units.unit, threshold_px=units.threshold_px and (q.size_op is not None or q.distance_op is not None))
    text = normalise(units.text)
    ranged = size_range(text) if q.intent == "size" or "size" in q.also else None
    if ranged is not None:  # (read as a threshold at one bound before: "是不是在8到15毫米之间" was "over 15 mm?")
        q = replace(q, size_op="between", size_mm=ranged[0], size_to_mm=ranged[1],
                    threshold_px=units.threshold_px)
    return _height_reached(_of_the_film(q, text), text)


def parse_uncached(question: str, vocab: Vocabulary | None = None) -> Query:
    """``parse`` without the memo: the question's words (``_parse_words``), with what is read apart from them (``_asked_as``):
    a language the answer is asked in beside a question ("answer in Chinese: how big is A1?"), the unit asked in
    ("in inches?"), a range ("between 8 and 15 mm?") and a few questions of the film whose words read otherwise."""
    said = _language_clause(question)
    if said is not None:  # "用英文回答:A1多大?": the question, answered in the language asked
        lang, rest = said
        return replace(_asked_as(rest, vocab), answer_lang=lang)
    return _asked_as(question, vocab)


def _parse_words(question: str, vocab: Vocabulary | None = None) -> Query:
    """The question's intent and everything it names, from its words."""
    v = vocab or load_vocabulary()
    ix = v.index
    raw = normalise(question)
    lang = detect_lang(raw)
    foreign = foreign_language(raw, v)
    if foreign is not None:  # the question's language is that one: the engine answers in the session's
        return Query(intent="out_of_scope", lang=detect_lang(raw), foreign=foreign)
    text = drop_tag_right(zh_numerals(expand_side_letters(correct_zh_typos(correct_typos(en_numerals(raw), v.lexicon), v), v)))
    text = drop_report_heading(text, v)
    # "sitting right on the diaphragm": "right" as an adverb names no side
    loc = parse_location(_ADVERB_RIGHT.sub(lambda m: " " * len(m.group(0)), text), v)
    near = _proximity_match(text, v)
    # "the one near the diaphragm" says which finding, not what is asked of it: its words ("near", "靠近",
    # "肺尖") ask no distance and name no zone
    rest = text[: near[2]] + " " * (near[3] - near[2]) + text[near[3]:] if near else text
    pointer_mm, rest = size_named(rest, text[: len(text) - len(after_statements(text, v))])
    # (its value and unit ask no size and check none: "is the 12 mm one smooth?")
    valued = size_named(text, "")[1]
    # "心脏有没有变大 我爸有高血压": a relative's condition asks nothing
    if ix.family_history is not None:
        rest = ix.family_history.sub(lambda m: " " * len(m.group(0)), rest)
    # "sorry if this is a silly question, but …" / "不好意思": courtesy asks nothing
    if ix.courtesy is not None:
        rest = ix.courtesy.sub(lambda m: " " * len(m.group(0)), rest)
    # "no, I meant the left one" / "不是,我说的是左边那个": the correction's words ask nothing (the engine asks the previous
    # question again of the finding pointed at)
    corrected = correction(text)
    rest = _blanked(rest, corrected)
    if near and loc["zone"]:
        loc = {**loc, "zone": _first_key(_strip_terms(rest, v), ix.zones)}
    # "Ａ２" (full-width) is A2
    ids = tuple(f"{m.group(1).upper()}{int(m.group(2))}"
                for m in _ANCHOR_ID.finditer(unicodedata.normalize("NFKC", question)))
    # "这个病人是不是得了肺癌?" / "this patient" / "this x-ray": a demonstrative of a person or the film points at no finding
    refs = tuple(r for r in dict.fromkeys(_references(text, v) + ids) if not _determines_no_finding(text, r))
    # "我阿公以前有肺结核" / "history of TB": a disease in the patient's history is not the checklist asked
    history = ix.history
    asked_first = first_question(text, v)  # (a disease named only in a second question is not asked)
    asked_now = history.sub(lambda m: " " * len(m.group(0)), asked_first) if history else asked_first
    checklist = _first_key(asked_now, ix.checklists)
    # "benign or malignant?" / "良性还是恶性": both checklists, side by side (the first named alone before)
    both_ways = set(_all_keys(asked_now, ix.checklists)) >= _BOTH_WAYS
    term = find_sign_term(text, v)
    # "what is the hilum?": a word of anatomy or of the film's conventions, explained when nothing else is asked
    glossary = None if term else find_glossary_term(text, v)
    threshold = size_threshold(text, v)
    descriptors = tuple(_all_keys(text, ix.descriptors))
    # "the spiculated one" / "钙化灶": a margin or a content that says which finding (never "is it spiculated?");
    # a content inside a lesion named ("结节里面有没有钙化灶") is asked about, not pointed with
    named_lesion = bool(lesion_groups(descriptors))
    pointer_spans = [(d, m.span()) for d, pattern in ix.descriptor_pointers for m in pattern.finditer(text)]
    for d, (a, b) in pointer_spans:
        # "钙化结节" is one pointer; "结节里面有没有钙化灶" names the lesion apart from the content asked about
        # ... and so does "the lump in the right middle lobe" ("does the lump in the RML have a cavity inside?")
        apart = text[:a] + " " * (b - a) + text[b:]
        named_apart = bool(lesion_groups(tuple(_all_keys(apart, ix.descriptors)))) or bool(_LESION_IN_PLACE.search(apart))
        # "solid or ground-glass?" / "实性还是磨玻璃结节": a choice offered is asked about, not pointed with
        offered = bool(_ALTERNATION.search(text[max(0, a - 4):a]) or _ALTERNATION.match(text[b:].lstrip()))
        linked = bool(_LINKED_AFTER.match(text, b) or _LINKED_BEFORE.search(text[:a]))
        if d not in descriptors and not (named_apart and d in _CONTENT_POINTERS and not linked) and not offered:
            descriptors += (d,)
            # "毛刺那个是不是纯实性的": the pointer's words say which finding, not what is asked of it
            rest = rest[:a] + " " * (b - a) + rest[b:]
    negated = tuple(d for m in _NOT_THE_ONE.finditer(text)
                    for d in _all_keys(m.group(1) or m.group(2) or m.group(3) or "", ix.descriptors))
    descriptors = tuple(d for d in descriptors if d not in negated)
    if threshold is not None:
        # "bigger than 1 cm" compares with a number, not with the other lesion; a size pointer
        # ("小的那个是不是不到一公分") still says which finding
        pointed_with = {d for d, _ in pointer_spans}
        descriptors = tuple(d for d in descriptors if d not in ("small", "large") or d in pointed_with)
    if _connecting_band(text):  # "有没有条索相连" / "a band connecting it": the link, not a lesion
        descriptors = tuple(d for d in descriptors if d != "strand-like")
    # "那个跟那个" / "the right-sided one and the left-sided one": two findings pointed at, as "both" does
    # "分别" / "respectively" of one lesion named is its own axes ("结节的长径短径分别多少"), not two findings
    respectively = ix.cue("respectively")
    # ... and so is "它的长径和短径分别是多少" / "its length and width respectively": two axes named, of one finding
    own_axes = len(lesion_groups(descriptors)) == 1 or (len(lesion_groups(descriptors)) == 0 and bool(_TWO_AXES.search(text)))
    # "are both hila normal?": "both" of a pair of structures points at no lesion; nor does "on both sides" said of a
    # structure named ("are the costophrenic angles the same on both sides?" compared the two findings)
    structures = bool(_BOTH_STRUCTURES.search(text) or (loc["anatomy"] and _ON_BOTH_SIDES.search(text)))
    both_words = [t for t, _ in ix.both_reference.found(text)
                  if not ((respectively.any_in(t) and own_axes) or (structures and t in ("both", "the two")))]
    both = bool(both_words) or any(p.search(text) for p in ix.two_pointers)
    other = ix.other_reference.any_in(text)
    # "it … the other one" names two findings, as "A1 … A2" or "the nodule … the strand" do
    it_and_other = other and any(r not in ix.other_reference.lows for r in refs)
    mentions = tuple(m for m in named_mentions(text, v, pointer_spans) if not m.startswith("d:") or m[2:] in descriptors)
    # "和另一个比呢" / "compared with the other one?": the other one compared with, the one in focus asked about
    it_and_other, mentions = _it_and_other(text, mentions, other, it_and_other)
    ordinals = {m for m in mentions if m.startswith("ord:")}
    # "the second abnormality" / "第二个病灶": says which finding; its noun asks nothing ("abnormality" no screening)
    for m in _ORDINAL_NOUN.finditer(rest):
        if any(rest[: m.start()].rstrip().endswith(t) for _, t, _ in ix.ordinals.found_terms(rest[: m.start()])):
            rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end():]
    which_lesion = ix.which_lesion is not None and bool(ix.which_lesion.search(text))
    # "is the one above it smaller?": the one by its position, set beside the one in focus it is taken from
    beside_position = (len(mentions) == 1 and mentions[0].startswith("rel:") and threshold is None
                       and any(r in ("it", "它") for r in refs) and ix.cue("comparatives").any_in(text))
    mentions, beside_focus = _beside_focus(text, (*mentions, "focus") if beside_position else mentions)
    # "is the upper one bigger than the lower one?" / "the right lung lesion … the left lung lesion": two findings by their
    # positions or sides
    two_positions = (len({m for m in mentions if m.startswith("rel:")}) >= 2
                     or len({m for m in mentions if m.startswith("side:")}) >= 2)
    # two lobes named ("is the LLL thing bigger than the RML nodule"): a finding in each
    pair = (len(set(ids)) >= 2 or both or len(lesion_groups(descriptors)) >= 2 or it_and_other or len(ordinals) >= 2
            or which_lesion or len(set(_all_keys(text, ix.lobes))) >= 2 or beside_focus or two_positions)
    anatomy_kinds = [a.removesuffix("_right").removesuffix("_left") for a in loc["anatomy"]]
    relative = _relative_position(text, ix, bool(ids))
    whole_lungs = ix.cue("whole_lungs").any_in(text)
    # "both" in "both lungs" points at no lesion
    lesion_refs = tuple(r for r in refs if not ((whole_lungs and f"{r} lung" in text) or (structures and r in ("both", "the two"))))
    lesion_talk = bool(lesion_refs or ids or lesion_groups(descriptors) or relative)
    signs = find_sign_questions(text, anatomy_kinds, v, lesion_talk)
    held = held_named(text)  # "有空洞的呢" / "the one with a cavity": its "有" / "with" asks no presence
    presence = ix.cue("presence").any_in(text) and not held
    # a lesion pointed at (refs holds the explicit ids too)
    pointed = bool(relative or lesion_refs)
    located = any(loc[k] for k in ("lesion_side", "lobe", "zone", "band"))
    # a content asked of a finding named by its number ("any calcification within lesion #1?") is not looked for, nor
    # is one that names the finding holding it ("有空洞的呢": the one with a cavity)
    asked = None if pointed or checklist or located or ordinals or held else kind_asked(asking_clauses(text, v), v)
    # "what's the left costophrenic angle?" / "左肋膈角是什么?": a structure of one side, its meaning not asked
    sided = any(a.endswith(("_right", "_left")) for a in loc["anatomy"]) and not _ASKS_MEANING.search(text)
    features = {
        "term": term,
        # the sign named in the question asked, not only in the patient's history ("...?我阿公以前有肺结核")
        "term_asked": term is not None and find_sign_term(asked_now, v) == term,
        "checklist": checklist,
        "anatomy": loc["anatomy"],
        "anatomy_kinds": anatomy_kinds,
        "references": refs,
        "anchor_ids": ids,
        "ordinal": _ordinal(text, v),
        "both": both,
        "pair": pair,
        "one_lesion": one_lesion_asked(text),
        "descriptors": descriptors,
        "has_location": any(loc[k] for k in ("lesion_side", "lobe", "lobe_level", "zone", "band")),
        "asks_region": loc["asks_region"],
        "relative": relative,
        "proximity": bool(near),
        "other": other,
        "diagnosis": ix.cue("diagnosis").any_in(text),
        "differential": bool(_DIFFERENTIAL.search(text)),
        "sign": signs[0] if signs else None,
        "checklist_cue": ix.checklist_cues.any_in(text),
        # "有没有胸膜凹陷征" / "does it show a pleural tail?": a sign of a lesion's, asked whether present
        "lesion_sign": (presence or bool(_YES_NO.search(raw))) and ix.cue("lesion_signs").any_in(text),
        "margin_part": _margin_part(text, v),
        # "so the nodule is the more worrying one?": which of the findings is worse
        "which_compared": ix.cue("which").any_in(text) and ix.cue("comparatives").any_in(text),
        "compare": (_compare_cue(text, v, pair) or beside_position
                    or bool(ix.more_of_concern and ix.more_of_concern.search(text))),
        "size_op": threshold[0] if threshold else None,
        "threshold_from_landmark": threshold is not None and threshold_from_landmark(text, v),
        # "is the nodule 12 mm?" checks a value; "the report says 12 mm, but is the edge spiky?" does not
        "measure_value": ix.measure_value is not None and bool(ix.measure_value.search(after_statements(valued, v))),
        "units": sum(w for w, _ in ix.unit_keywords.found(valued)),  # in keyword order, as the original sum
        "landmark": sorted(set(anatomy_kinds) & ix.relation_landmarks),
        # a finding named with a structure its edge is measured to ("is A1 more than 2 cm from the heart?")
        "structure_measured": lesion_talk and bool(set(anatomy_kinds) & ix.measured_structures),
        "distance_words": distance_words(text, v) is not None,
        "lesion_talk": lesion_talk,
        # a structure Hilum assesses (heart, hilum, mediastinum, ...) and no lesion, named or located
        # (the costophrenic angles too: "are the costophrenic angles well defined?")
        # (not a distance from it: "离左肺门大概多少cm" after a turn asks the finding's; nor a finding named by it: "how
        # large is the thing near the diaphragm?")
        "structure_only": (bool(set(anatomy_kinds) & (set(v.anatomy_states) | {"costophrenic_angle"}))
                           and not (lesion_talk or located or pointed or near or _DISTANCE_FROM.search(text))),
        # "are both lung fields clear?" / "is the LLL clear?": the lungs, or a region of them, said to be clear
        "whole_lungs_clear": (whole_lungs or located) and ix.cue("clear_words").any_in(text),
        "presence": presence,
        "whole_lungs": whole_lungs,
        "pointed": pointed,
        # "双肺有无实变影?": a kind of lesion looked for over both lungs, at no lesion or side in particular
        "kind_over_lungs": (whole_lungs and presence and not (pointed or checklist or loc["lesion_side"])
                            and ix.cue("lesion_kinds").any_in(text)),
        # "Any consolidation in the left upper zone?" / "右上肺野有没有 mass 或者 cavity": a kind of lesion looked
        # for in a region (not a content asked of a lesion named there: "右肺结节有没有钙化")
        "kind_in_region": (presence and not (pointed or checklist) and any(loc[k] for k in ("lesion_side", "lobe", "zone"))
                           and ix.cue("lesion_kinds").any_in(text) and not _LESION_BY_PLACE.search(text)
                           and (not named_lesion or _kinds_offered(text, v))),
        # "any nodules?" / "有没有钙化结节" / "there's a mass anywhere?": a kind of lesion is what the presence word asks for
        "kind_asked": asked == "lesion" and not signs,  # "is there any consolidation?" asks the sign
        "content_asked": asked == "content",
        # (two kinds of lesion this film can show, "结节和条索影啥区别", are the findings compared, not two terms)
        "general_difference": bool(ix.general_difference and not refs and len(lesion_groups(descriptors)) < 2
                                   and ix.general_difference.search(text)),
        "resembles": ix.resembles is not None and bool(ix.resembles.search(text)),
        "material_compared": ix.material_compared is not None and bool(ix.material_compared.search(text)),
        "suspicion": ix.cue("suspicion").any_in(text),
        "lesion_pointer": bool(_LESION_POINTER.search(text)),
        "pointer_named": bool(_ONE_POINTER.search(text)),
        "lesion_by_place": bool(_LESION_BY_PLACE.search(text)),
        "lesion_in_place": bool(_LESION_IN_PLACE.search(text)),
        "looks_ok": bool(_LOOKS_OK.search(text)),
        "concern": ix.cue("concern").any_in(text),
        "lesion_looked_for": ix.lesion_looked_for is not None and bool(ix.lesion_looked_for.search(text)),
        "which_region": ix.which_region is not None and bool(ix.which_region.search(text)),
        # "show me the nodule on the image": "show me" with a finding named
        "show": ix.cue("show_on_image").any_in(text) or (
            ix.cue("show_named").any_in(text) and (pointed or bool(lesion_groups(descriptors)) or loc["lesion_side"] is not None)),
        "explain_not": ix.cue("explain_not").any_in(text),
        "explain_opening": bool(_EXPLAIN_OPENING.search(text)),
        # (of nothing this film shows in particular: no finding pointed at, numbered or named by its kind)
        "term_defined": (not (refs or ids or lesion_groups(descriptors) or sided)
                         and term_defined(text, v, term or glossary)),
        "glossary": glossary,
        # "what's the left costophrenic angle?" / "左肋膈角是什么?": a structure of one side, its meaning not asked
        "sided_structure": sided,
        # (after courtesy: "ok, and the other one?")
        "elliptical_form": bool(_ELLIPSIS.search(text) or _ELLIPSIS.search(rest.lstrip())),
        # (a clock position with no part of the margin named apart from the clock itself)
        "clock_from_landmark": (bool(_CLOCK.search(text)) and bool(set(anatomy_kinds) & ix.relation_landmarks)
                                and not _margin_part(_CLOCK.sub(" ", text), v)),
        "yes_no": bool(_YES_NO.search(raw) or _IS_IT.search(raw)),
    }
    # a finding named by its number, its order or its size among the findings ("A1?", "第二个病灶", "what's the biggest
    # lesion?", "最大的那个是什么"): this film's, never a term; shown when nothing is asked
    features["numbered"] = bool(ids) or features["ordinal"] is not None or bool({"large", "small"} & set(descriptors))
    points = (pointed or bool(descriptors) or any(loc[k] for k in ("lesion_side", "lobe", "lobe_level", "zone", "band"))
              or features["other"] or features["ordinal"] is not None)
    if points:  # "换成下面那条看看呢": "try that one" asks nothing of its own (no screening "看看")
        rest = _blank_try_verbs(rest)
    scores = _first_question_scores(rest, v)
    intent, by_fallback = _choose(scores, features)
    pointed_intent = intent  # what a question that only points asks: changed below only by something it asks
    intent, signs, needs_prior = _not_on_this_film(intent, by_fallback, asked_first, _apart_from_sign(scores, rest, term, v),
                                                   features, signs, v)
    answer_lang = language_asked(text)  # a request about the answers' language asks nothing of the film
    social = social_words(raw)
    intent = "out_of_scope" if answer_lang or social else intent
    # "is this a child?" / "患者多大年龄": the patient asked about, with nothing of the film named
    patient = (not (answer_lang or social) and bool(_PATIENT_ASKED.search(text))
               and not (ids or lesion_groups(descriptors) or relative or loc["anatomy"] or signs or features["checklist"]
                        or features["term"] or _LESION_WORD.search(text)))
    intent = "out_of_scope" if patient else intent
    # "how many ribs are visible?": the film's technique (inspiration), asked of the film, not of its bones
    intent = "film_info" if (_RIB_COUNT.search(text) or _VIEW_ASKED.search(text) or _LATERAL_VIEW.search(text)) and not (
        answer_lang or social or patient) else intent
    # "is it serious?" / "how urgent is this?" / "是不是很严重": how serious the film is, with no finding named (a bare
    # pronoun names none) and nothing else asked: what "should I worry?" answers (it asked back which finding was meant,
    # or counted one's lung-cancer signs)
    worried = (features["concern"] and intent in ("describe_margin", "locate", "sign_checklist") and not (
        answer_lang or social or patient or features["checklist"] or features["compare"] or ids or features["lesion_pointer"]
        or lesion_groups(descriptors) or loc["lesion_side"] or loc["anatomy"]) and (by_fallback or intent == "sign_checklist"))
    intent = "out_of_scope" if worried else intent
    # "which side is worse?" / "哪侧更严重": what each lung shows (it asked back which finding was meant)
    sides_graded = not (answer_lang or social or ids) and bool(_SIDES_GRADED.search(text))
    # "is the left lung clearer than the right?" / "左肺比右肺清楚吗": the lungs compared, their lucency not read
    lucency = not (answer_lang or social or ids or sides_graded or loc["anatomy"]) and bool(_LUNG_FIELDS_LUCENCY.search(text))
    intent = "compare" if sides_graded or lucency else intent
    # "compare the two sides" / "比较两侧": the lungs compared (a structure named is compared as that structure answers)
    sides_compared = lucency or (intent == "compare" and not (answer_lang or social or ids or sides_graded or loc["anatomy"])
                                 and bool(_SIDES_COMPARED.search(text)))
    compared_attribute = "lucency" if lucency else "density" if _DENSITY_COMPARED.search(text) else None
    # "why is the margin uncertain?" / "为什么无法判断": why a statement is hedged is how sure Hilum is of it
    intent = "confidence" if intent not in ("out_of_scope", "explain_term") and _WHY_UNSURE.search(text) else intent
    # "what are the limits of this reading?" / "what might you miss?" / "how good are you on real films?": what the
    # reading may miss (a margin question, out of scope or a term before)
    limits = not (answer_lang or social or ids) and bool(_LIMITS_ASKED.search(text))
    intent = "confidence" if limits else intent
    # "is A2 a real lesion?" / "A2是真的病灶吗": how sure Hilum is that it is (the place, or the whole screening, before)
    # (a disease named keeps its checklist: "is it really lung cancer?"; "A2是不是血管影" names none)
    real_asked = not (answer_lang or social or loc["anatomy"] or features["checklist"]) and intent != "out_of_scope" and bool(
        _REAL_ASKED.search(text))
    intent = "confidence" if real_asked else intent
    # "is it a mass or a nodule?" / "是肿块还是结节": what the finding is, its kind and size (it was read as a margin or
    # a place question, and answered neither)
    which_kind = intent in ("describe_margin", "locate") and bool(_KIND_ASKED.search(text))
    intent = "locate" if which_kind else _where_is_the_kind(intent, text, descriptors)
    # "is the nodule big?" / "is the strand thick?" / "结节大吗" / "条索影粗吗": its size, asked as yes or no (its margin
    # or its place before)
    intent = "size" if intent in ("describe_margin", "locate") and size_predicate(text, features) else intent
    # "A1怎么样" / "它怎么样" / "is A1 ok?": how a finding pointed at looks is what it is, described in full (the film's
    # whole screening answered it)
    finding_asked = intent == "screen" and features["looks_ok"] and bool(ids or pointed) and not (
        answer_lang or social or features["diagnosis"])
    intent = "locate" if finding_asked else intent
    # "tell me about the first one" / "第一个详细说说" / "tell me about A2": a finding named and described whole, as
    # "describe A1" is (it was given where it lies, and no more)
    described = intent == "locate" and whole_description(text) and features["numbered"]
    intent = "describe_margin" if described else intent
    hila = not answer_lang and hila_compared(text, features)
    intent, loc = ("assess_anatomy", {**loc, "anatomy": ("hilum",)}) if hila else (intent, loc)
    apart = (intent == "measure_relation" and not (answer_lang or social or hila)
             and hila_apart(text, features, {s for _, s in _side_mentions(text, v)}))
    # (both hila: neither side locates a finding)
    loc = {**loc, "anatomy": ("hilum",), "side": None, "lesion_side": None} if apart else loc
    domes = not (answer_lang or social) and domes_compared(text, features)
    intent, loc = ("assess_anatomy", {**loc, "anatomy": ("diaphragm",)}) if domes else (intent, loc)
    angles = None if answer_lang or social else angle_in_degrees(text, features, loc["side"])
    intent, loc = ("assess_anatomy", {**loc, "anatomy": angles}) if angles else (intent, loc)
    vertical = None if answer_lang or social or intent != pointed_intent else vertical_asked(text, features)
    across = None if vertical or answer_lang or social or intent != pointed_intent else across_asked(text, features)
    beside = not (answer_lang or social) and beside_centre(text, features)
    intent = "measure_relation" if vertical or across or beside else intent
    unread = None if answer_lang or social or patient else unread_structure(text, intent, features, signs)
    intent = "assess_anatomy" if unread else intent
    behind_fluid = not (answer_lang or social or ids) and bool(_BEHIND_FLUID.search(text))
    intent = "out_of_scope" if behind_fluid else intent
    on_ct = None if answer_lang or social else ct_measure(text, intent)
    # (a guideline is answered as what comes next, ``next_step``; a volume or HU asked of no size or density, as such)
    intent = intent if on_ct is None or (on_ct, intent) in (("volume", "size"), ("hu", "density")) else "out_of_scope"
    # a cue that asks of its own ("它跟另一个比呢": a comparison; "那它是良性的吗": a disease) is no ellipsis
    # "how is the left lung?" / "the right lung?": a lung, not a finding in it, asked about with nothing asked of it is
    # that lung's screening (it located a finding there, or said none matched), as "右肺怎么样" is; an ellipsis ("那左肺
    # 呢?") points at the finding there, unless it follows a lung's screening (``DialogueEngine._elliptical``)
    # (a side named and no finding, lobe, zone or structure in it)
    side_alone = not (pointed or ids or descriptors or features["ordinal"] is not None or features["other"]
                      or features["both"] or any(loc[k] for k in ("lobe", "lobe_level", "zone", "band")) or loc["anatomy"])
    lung_asked = (max(scores.values(), default=0.0) < 1 and by_fallback and intent == "locate"
                  and not features["elliptical_form"] and side_alone and bool(_LUNG_NAMED.search(text)))
    intent = "screen" if lung_asked or _region_asked(intent, text, features, signs) else intent
    # ... and so is one whose own words changed what it asks ("is this a child?": the patient, not "this one")
    asks_nothing = max(scores.values(), default=0.0) < 1 and by_fallback and intent == pointed_intent
    elliptical = asks_nothing and features["elliptical_form"] and points
    bare_pointer = asks_nothing and (points or features["both"])
    intent = first_asked(text, intent, v)
    also = also_asked(text, intent, v)
    # the threshold's yes or no, where the size is asked (first, or in a later clause: "is its margin smooth and is it
    # bigger than 1 cm?")
    # (each from its own clause: "is it bigger than 1 cm and is it more than 2 cm from the hilum?")
    sized, measured = thresholds_asked(text, v) if {intent, *also} & {"size", "measure_relation"} else (None, None)
    size_op, size_mm = sized if sized and (intent == "size" or "size" in also) else (None, None)
    distance = measured if intent == "measure_relation" or "measure_relation" in also else None
    # "really? it looks bigger to me, like 15 mm" / "the radiologist measured it at 2 cm" / "我觉得有15毫米": a size stated
    # of the finding under discussion, which the answer compares with its own (no threshold, no "the bigger one")
    stated = (stated_size(text) if not (answer_lang or social) and (intent == "size" or (intent == "locate" and by_fallback))
              else None)
    intent, size_op, size_mm, also, descriptors = _as_stated(stated, intent, size_op, size_mm, also, descriptors)
    # "which is lower?" / "哪个位置更高": the findings' heights compared, the lowest (highest) first
    compared_height = height_compared(text) if intent == "compare" and relative is None else None
    relative = compared_height or relative
    # what Hilum cannot say, and the short follow-ups that ask of the last answer
    said = cannot_say_cues(raw, text, {
        "intent": intent, "asks_own": not (answer_lang or social or patient), "asks_nothing": asks_nothing,
        "by_fallback": by_fallback, "features": features,
        "checklist": checklist, "both_ways": both_ways, "loc": loc, "ids": ids, "bare_pointer": bare_pointer,
        "elliptical": elliptical, "needs_prior": needs_prior, "unread": unread,
        "asked_else": bool(worried or behind_fluid or on_ct or loc["anatomy"] or signs or term)})
    intent, bare_pointer, elliptical, needs_prior, loc, unread = (said[k] for k in (
        "intent", "bare_pointer", "elliptical", "needs_prior", "loc", "unread"))
    structure = said["structure"]
    # "how wide is the chest?" / "how far is the right hilum from the diaphragm?" / "where is the spine?": the structures
    # asked of, no lesion (it had fallen through to "no lesion was found", or a finding's distance)
    structures = (None if answer_lang or social or patient or ids or structure or signs or features["term"]
                  or features["checklist"] or intent == "out_of_scope" else structure_question(text, features))
    intent, unread, bare_pointer, elliptical, loc = ((intent, unread, bare_pointer, elliptical, loc) if structures is None
                                                     else _of_structures(structures, loc))
    # "is A1 inside the lung?" / "A1在肺内吗?": whether it lies in a lung field (its density before)
    in_lung = (not (answer_lang or social or structure) and structures is None and features["lesion_talk"]
               and intent in ("locate", "density", "describe_margin") and bool(_IN_LUNG.search(text)))
    intent = "locate" if in_lung else intent
    # "summarise what we found including the measurements" / "总结一下": a summary asked for, whatever else its words name
    # (the measurements it is to include): the screening as a report's summary, with what the session stated
    intent = ("screen" if _SUMMARY_REQUEST.match(raw.lower()) and not (ids or needs_prior or answer_lang or social)
              else intent)
    return Query(
        intent=intent,
        lang=lang,
        side=loc["side"],
        lobe=loc["lobe"],
        lobe_level=loc["lobe_level"],
        zone=loc["zone"],
        band=loc["band"],
        anatomy=loc["anatomy"],
        # the kinds a kind question offers ("a mass or a nodule?") are asked about, not which finding is meant
        descriptors=tuple(d for d in descriptors if not (which_kind and d in ("mass", "nodule"))),
        references=refs,
        lesion_side=loc["lesion_side"],
        checklist=checklist if intent == "sign_checklist" and not both_ways else None,
        term=(term or glossary) if intent == "explain_term" else None,
        anchor_ids=ids,
        ordinal=features["ordinal"],
        other=features["other"],
        both=both,
        relative=relative,
        relative_ranked=compared_height is not None or ranked_by_height(text, relative),
        image_side=image_side(text),
        stated_mm=stated[0] if stated else None,
        stated_by=stated[1] if stated else None,
        # (only where what is left of it points and asks nothing: "不是,我问的是它在哪" asks where)
        correction=bool(corrected) and points and max(scores.values(), default=0.0) < 1,
        proximity=near[0] if near else None,
        landmark=near[1] if near else None,
        it_and_other=it_and_other,
        # (the hila's heights compared: "is the left hilum higher than normal?" asks no hilar enlargement, whose "normal"
        # state word it holds)
        signs=signs if intent == "assess_anatomy" and not (domes or hila) else (),
        domes_compared=domes,
        hila_apart=apart,
        vertical=vertical,
        across=across,
        needs_prior=needs_prior,
        earlier_place=needs_prior and bool(_SHOWN_WHERE.search(text)),
        next_step=(intent == "out_of_scope" and not needs_prior and bool(_NEXT_STEP.search(raw.lower()))) or on_ct == "guideline",
        ct_measure=on_ct,
        fissure=intent in ("measure_relation", "locate") and features["lesion_talk"] and bool(_FISSURE.search(text)),
        margin_part=margin_part_asked(text, intent, also, v) if features["margin_part"] else None,
        unread_structure=unread,
        behind_fluid=behind_fluid,
        patient_asked=patient,
        worry_asked=(intent == "out_of_scope" and features["concern"] and not (needs_prior or patient or answer_lang or social)
                     and scores.get("out_of_scope", 0.0) < 2),
        sides_graded=sides_graded,
        sides_compared=sides_compared,
        counts_signs=(intent != "compare" or not sides_graded and (
            features["concern"] or features["suspicion"] or features["diagnosis"]
            or bool(ix.more_of_concern and ix.more_of_concern.search(text)))),
        compared_whole=intent == "compare" and not _ONE_THING_COMPARED.search(text),
        checklists_asked=(checklist,) if checklist and intent == "compare" else (),
        wall_asked=intent in ("size", "density", "locate", "describe_margin") and bool(_WALL.search(raw.lower())),
        attribute=("missed" if limits else "presence" if real_asked else attribute_asked(text) if intent == "confidence"
                   else film_attribute(text) if intent == "film_info"
                   else compared_attribute if intent == "compare" else None),
        answer_lang=answer_lang,
        social=social,
        full=(which_kind or finding_asked or (intent == "describe_margin" and whole_description(text))
              or (intent == "locate" and (features["numbered"] or points) and bool(_WHAT_IS_NAMED.search(text)))),
        what_is_it=bool(_WHAT_IS_THIS.match(text)),
        shape_asked=intent in ("locate", "describe_margin") and bool(_SHAPE_ASKED.search(text)),
        unlisted_disease=unlisted_disease(text) if intent == "sign_checklist" and not checklist else None,
        of_the_film=intent == "sign_checklist" and of_the_film(text, features),
        differential=intent == "sign_checklist" and ((not checklist and features["differential"]) or both_ways),
        besides_focus=intent == "screen" and bool(_BESIDES_FOCUS.search(text)),
        diagnosis=features["diagnosis"] and intent == "screen",
        size_op=size_op,
        size_mm=size_mm,
        distance_op=distance[0] if distance else None,
        distance_mm=distance[1] if distance else None,
        size_named_mm=pointer_mm,
        yes_no=bool(_YES_NO.search(raw)),
        asks_normal=intent == "screen" and bool(_YES_NO.search(raw)) and bool(_NORMAL_ASKED.search(raw.lower())),
        size_asked=size_asked(text, descriptors) if intent == "compare" and _YES_NO.search(raw) else None,
        one_lesion_asked=intent == "measure_relation" and features["pair"] and features["one_lesion"],
        summary_asked=intent == "screen" and bool(_SUMMARY_ASKED.search(raw.lower())),
        place_checked=intent == "locate" and not (features["show"] or structure) and (bool(_PLACE_CHECK.search(raw))
                                                                                       or in_lung),
        elliptical=elliptical,
        bare_pointer=bare_pointer,
        side_only=(elliptical and bool(loc["lesion_side"]) and side_alone
                   and not (features["pointer_named"] or features["lesion_pointer"])),
        not_descriptors=negated,
        kinds=screen_kinds(text, v) if intent == "screen" or (intent == "density" and asked == "content") else (),
        mentions=mentions,
        also=also,
        verdict_asked=said["verdict"],
        pair_pick=said["picked"],
        why_asked=said["why"],
        how_much=said["how_much"],
        not_understood=said["not_understood"],
        landmark_asked=said["landmark"] if intent == "measure_relation" else None,
        normal_structure=structure,
        segment=segment_named(text) if intent == "locate" else None,
        structure_asked=structures[0] if structures is not None else None,
        in_lung=in_lung,
    )
