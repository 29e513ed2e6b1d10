"""The question set: >= 150 questions (zh, en, paraphrases, typos, mixed) with expected intent and,
where relevant, the anchor they bind to ("clarify": asks back; "none": says nothing is there).

    .venv/bin/python -m pytest tests/orchestrator/dialogue/test_questions.py -q -s
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dialogue.engine import DialogueEngine
from orchestrator.settings import Settings

DATA = Path(__file__).resolve().parent / "data"
QUESTIONS = DATA / "questions.jsonl"
# written after the parser and first run untuned (35/40 right then); fixed since, kept as a regression set
HELD_OUT = DATA / "questions_heldout.jsonl"
REQUIRED = 0.95
# issue 26's held-out set: 166 questions (zh, en, mixed; radiologists' and colloquial phrasing, typos,
# units, clock positions, "the one above it", comparisons, diagnosis and sign questions) written on
# 2026-12-02 BEFORE any parser change for it, and kept out of tuning: parser changes are tuned on
# questions.jsonl and never on this file. Scored, not tuned: its floor is the score when it was
# written (119/166), raised to each measured score after a parser change that was tuned without it
# (159/166 on 2026-12-02), so a later change can be seen to hurt; the target is 0.97. Its last seven misses
# were then fixed as general rules tuned on this file (166/166), so it is now a tuning set, not a held-out one.
HELD_OUT_V2 = DATA / "questions_heldout_v2.jsonl"
# the held-out set now: 211 questions written on 2026-12-02 by someone who never read the parser and
# never ran it on them, scored once against the parser as it was (180/211 at commit eac14de), after
# a change tuned on v2 (180/211), after one tuned on the dev set v4 (190/211) and after the resolver's
# proximity and focus-order rules tuned on v4 (191/211), and after the rules tuned on the dev set v5
# (194/211), and after the rules tuned on the dev set v7 and its probes (195/211), and after the rules tuned on
# the dev set v8 (196/211), and after the rules tuned on the dev set v9 (197/211), and after the rules tuned on the
# dev set v10 and its scratch probes (203/211), and after the rules tuned on the dev sets v11, v12 and v13 (203/211
# after each), and after the rules and the glossary tuned on the dev set v14 (204/211), and after those tuned on v15-v21
# (204/211) and v22-v23 (205/211), never on this file. Its misses are not printed (``show_misses``): until 2026-12-02 the
# test printed them, so later sessions had seen them once; no rule was written from them. On 2026-12-03 a grep for
# vocabulary over every question file (v3 not left out) showed about ten lines that may be v3's (follow-up
# intervals, thanks, a question about the liver) before the v8 rules were finished; those rules were written from
# v8's misses beforehand. Later on 2026-12-03, while v13 was being written, a count of intent labels over all the
# question files (v3's lines not left out by mistake) printed one pooled count per intent, no question and no
# per-file number; nothing was written from it. On 2026-12-04 a grep for film words (projection, PA film, spacing, ...)
# over every question file printed five lines before v3 was found not left out; a count over v3 alone showed none of
# the five was v3's (0 matching lines), and nothing of v3 was printed
HELD_OUT_V3 = DATA / "questions_heldout_v3.jsonl"
HELD_OUT_V3_FLOOR = 205 / 211  # 204 until the rules tuned on the dev sets v22-v23 (2026-12-04), never on v3
# a fourth held-out set, from two more writers (2026-12-04, 160 each, the brief of the dev sets v15-v21 asking for a broad
# week's mix), written after the rules tuned on v15-v21 and scored once, never tuned on: 151/160 and 147/160 at commit
# 67302b0 (before this round's rules), 155/160 and 153/160 after them (308/320, 96.3%). Its misses are not printed
HELD_OUT_V4A = DATA / "questions_heldout_v4a.jsonl"
HELD_OUT_V4A_FLOOR = 158 / 160  # 155 when first scored; 156, 157, 158 after later rounds, none tuned on it
HELD_OUT_V4B = DATA / "questions_heldout_v4b.jsonl"
HELD_OUT_V4B_FLOOR = 155 / 160  # 153 when first scored; none of the later rounds tuned on it
# a fifth, from two more writers (2026-12-04, the same brief), written after the rules tuned on v22-v23 and scored once,
# never tuned on: 147/160 and 148/160 at commit 67302b0, 154/160 and 153/160 at cc1f6b9 (307/320, 95.9%)
HELD_OUT_V5A = DATA / "questions_heldout_v5a.jsonl"
HELD_OUT_V5A_FLOOR = 155 / 160  # 154 when first scored; 155 after the v24-v25 rules, not tuned on it
HELD_OUT_V5B = DATA / "questions_heldout_v5b.jsonl"
HELD_OUT_V5B_FLOOR = 153 / 160
# a sixth, from two more writers (2026-12-04, the same brief), written after the last rules (v26-v27) and scored once,
# never tuned on: 143/160 and 148/160 at commit 67302b0, 150/160 and 156/160 at 6c7db1e (306/320, 95.6%)
HELD_OUT_V6A = DATA / "questions_heldout_v6a.jsonl"
HELD_OUT_V6A_FLOOR = 152 / 160  # 150 when first scored; 151, 152 after later rounds, none tuned on it
HELD_OUT_V6B = DATA / "questions_heldout_v6b.jsonl"
HELD_OUT_V6B_FLOOR = 158 / 160  # 156 when first scored
# a seventh and last, from two more writers (2026-12-04, the same brief), written after every rule of this stop and scored
# once, at ebb6eec, never tuned on: 144/160 and 140/160 at commit 67302b0, 155/160 and 156/160 at ebb6eec (311/320, 97.2%)
HELD_OUT_V7A = DATA / "questions_heldout_v7a.jsonl"
HELD_OUT_V7A_FLOOR = 156 / 160  # 155 when first scored; 156 after the v30-v31 rules, not tuned on it
HELD_OUT_V7B = DATA / "questions_heldout_v7b.jsonl"
HELD_OUT_V7B_FLOOR = 157 / 160  # 156 when first scored; 157 after the v30-v31 rules, not tuned on it
HELD_OUT_V2_FLOOR = 166 / 166
# a development set: 233 questions (zh 105, en 94, mixed 34; every intent, colloquial and jargon phrasing, typos,
# "show me / mark it", anatomy and out-of-scope requests) written before a parser change and scored
# against the parser as it was (195/233), then used to tune that change as general rules (231/233); its floor
# is the score after; the two it left (anchor choices the resolver makes: "the one near the diaphragm", "it … the
# other one" in focus order) were then fixed in orchestrator/dialogue/anchors.py (233/233)
DEV_V4 = DATA / "questions_dev_v4.jsonl"
DEV_V4_FLOOR = 233 / 233
# a second development set: 237 questions (zh 109, en 95, mixed 33; every intent, pointers by margin, content,
# position and distance, two-finding questions, units, API-style shorthand, out-of-scope asides) written on
# 2026-12-02 by someone who read neither the parser nor v3, scored against the parser as it was (184/237 at
# commit b18f2c1), then used to tune general rules (vocabulary, "the spiculated one" / "钙化灶" as pointers,
# "那个跟那个" as two findings, a sign inside a disease's name): 231/237. The six left are judgement calls
# (an emphysema question, "the difference between solid and subsolid nodules", an aside about blood pressure)
DEV_V5 = DATA / "questions_dev_v5.jsonl"
DEV_V5_FLOOR = 236 / 237  # three of its six left fixed by the v15-v19 round
# a third development set: 240 questions (zh 110, en 94, mixed 36; 27 ask back, 21 with nothing there, 34 in a
# follow-up context) written on 2026-12-02 by someone who read neither the parser nor v3. Four of its labels were
# then set to the project's rule for an open diagnosis question (answered by the screening summary, never a
# diagnosis: questions.jsonl); scored against the parser as it was (187/240 at commit 9ccbdc0), then used to tune
# general rules (an elliptical follow-up, "and the other one?" / "那右边那个呢", asks what the previous turn asked;
# two questions in one answer the first; "lesion 2" / "#1" / "病灶1" as ordinals; "the smooth one" as a pointer; "not the round one, the other"; a
# pointer's words asking nothing; a kind of lesion looked for in a region screens; "the difference between a
# nodule and a mass" is a term question; vocabulary): 233/240. Held-out v3 did not move (194/211). With the
# elliptical rule, six older labels that had such follow-ups answered by "locate" were changed to the intent
# their context asked (questions.jsonl 5, heldout_v2 1)
DEV_V6 = DATA / "questions_dev_v6.jsonl"
DEV_V6_FLOOR = 240 / 240
# a fourth development set: 118 questions (zh, en, mixed; shorthand such as "R base" and "GGO", colloquial words
# for a lesion or its edge, typos with swapped letters, polite wrappers, two clauses in one, "what is X",
# follow-ups by pronoun, ordinal and position) written and labelled on 2026-12-02 before the parser was run on
# them: 91/118 then. Tuned as general rules (vocabulary classes; a side's letter; two swapped letters; of two
# clauses that ask, the first; a kind of lesion looked for screens for that kind, or asks the finding in focus;
# "the cavity" / "the ground-glass nodule" bind by content; findings listed in the order named): 118/118, and
# v5 233/237, v6 240/240 (the screening-kind, content-binding and order rules fixed its last seven). Then four
# scratch probe sets (about 200 questions, labelled before they were run, not kept) found more general misses:
# "whether" corrected to "weather", a kind named in a statement clause, a value with its unit, an ordinal's noun,
# "which lesion … more", a lesion's sign asked whether present (test_parser.py). Held-out v3: 194/211 before,
# 195/211 after, never read
DEV_V7 = DATA / "questions_dev_v7.jsonl"
DEV_V7_FLOOR = 118 / 118
# a fifth development set: 150 questions (zh 65, en 60, mixed 25; radiologists' abbreviations such as SPN and LLL,
# traditional characters, full-width punctuation, units written apart from their number, "not the strand, the
# other", "the smaller one", chat phrasing, two clauses) written and labelled on 2026-12-03 by someone who read
# neither the parser nor v3 and never ran it, scored against the parser as it was (130/150 at commit a1f46c2),
# then used to tune general rules: traditional characters read as simplified (zhconv), spaces between Chinese and
# Latin text or digits dropped, a region said to be clear screens it, a content asked of a finding named by its
# number is asked of it, two lobes named are two findings, "不是X,另一个" excludes X, "小的那个" still points at
# the smaller one beside a size threshold, vocabulary (SPN, follow up, thanks, other organs, 隔着): 145/150. The
# five left: a statement clause before the question, a density compared with soft tissue, two lobes compared in
# the order named, "上面那个 vs 下面那个", "这张片子像肺结核吗"; all five were fixed by the rules tuned on v9 (150/150)
DEV_V8 = DATA / "questions_dev_v8.jsonl"
DEV_V8_FLOOR = 150 / 150
# a sixth development set: 150 questions (zh 71, en 58, mixed 21; radiologists' phrasing, colloquial and polite
# wrappers, typos in both scripts, mm/cm values, clock positions, "the one above it" / "它下方那个" after a turn,
# comparisons in the order named, elliptical follow-ups, out-of-scope asides) written and labelled on 2026-12-03 by
# someone who had not read the parser and never ran it on them, scored against the parser as it was (126/150 at
# commit 08a7d20), then used, with v8's five left, to tune general rules: a statement clause before the question
# asks nothing (nor does its value), nor does courtesy ("sorry if this is a silly question"); a finding compared with
# a tissue's density ("compared with soft tissue") is not a comparison; "像肺结核吗" with a disease asks its signs; a
# size asked of a structure alone ("how big is the heart?") assesses it; "the difference between a lobe and a zone"
# compares no findings; "is the smaller lesion close to …" is a predicate, not "the one near …"; "the one above it",
# "上面那个 vs 下面那个", a lobe and "the left or the right one" are findings named in order (Query.mentions), and
# "it … the one below" two of them; "换成下面那条看看呢" is elliptical; "is the stripe in the lingula?" binds the stripe
# wherever it lies; a letter spelled by its sound ("edjes"); vocabulary (见到什么, 那么大, 相隔, pleural-based, fat,
# atelectasis, 怎么回事, broad, exercise, 小一点, 那些刺): 149/150. Held-out v3: 196/211 before, 197/211 after, never
# read. The one left: "nodual" (two letters wrong in a short word) is not read as "nodule", so the nodule is not named;
# fixed by the vowel-slip rule tuned on v10 (150/150)
DEV_V9 = DATA / "questions_dev_v9.jsonl"
DEV_V9_FLOOR = 150 / 150
# a ninth writer's development set: 174 questions (97 in Chinese or mixed, 77 in English; typos in both scripts such as
# "nodual", "lesoin", "分页", "条锁影", "plural effusion"; non-native English ("the nodule have how much big?"),
# elliptical follow-ups, units, positions ("the lateral one", "靠近心脏那个", "the lump near the heart"), comparisons,
# sign and checklist questions, out-of-scope and CT-only asides, screening rephrasings, measurement synonyms,
# polite and statement preambles) written and labelled on 2026-12-03 before the parser was run on them: 155/174
# then (at commit 071b718; one label, "and where's the other one?" after A2, was corrected to A1 before tuning).
# Tuned, with seventeen scratch probe sets (about 640 questions, labelled before they were run, not kept), as general
# rules: a vowel slip in a word of six letters or more ("nodual") is corrected; a known word with its ending
# ("notching") and common English words ("different", "each", "order", "medical", "thinner") are no typos of
# vocabulary words; a keyword ending in a one- or two-letter word or "the" ("what's a", "from the") is a whole word
# ("from the" is not in "from these"); Chinese homophone typos (分页, 毛次, 直经, 条锁, 钙话, 胸摸, 空动, 边原, 磨玻离,
# 病躁, 隔肌, ...); "a 12 mm nodule" is a value, not A12;
# a sentence's end ends a statement; a condition ("如果是肺炎") is no statement; "the lateral / medial one" and
# "外侧 / 内侧那个" pick the finding farthest from / nearest to the midline; "the upper one … the lower one" names
# two findings, as do two lesions named with "compared to" / "similar"; "分别" of one lesion named is its axes;
# "between them" / "how far apart are they" is both; "than" a number counts ("more than two lesions?") and "the more
# worrying one" compares; "Lungs?" alone screens; two terms' difference ("毛刺和分叶有什么区别", "how is a mass
# different from a nodule") is a term question; a place on this film asks no term; a lesion looked for ("is there a
# lesion in …") screens, as does a region where lesions hide ("锁骨下区有没有异常"); the outline of a structure alone
# assesses it; a lesion's contact with the heart is a relation; how bad a lesion named is ("something to worry
# about", "要紧吗", "suspicious features in the RML nodule") asks its checklist; a comparison or a disease named in
# "X呢" / "那它…" is no ellipsis, "再看看另一个" is one; vocabulary (HU, PET-CT, 强化, CRP, hereditary, fly, "how
# thick", "extent", "length", "volume of", "reach", "贴不贴", "哪个离", "谁大", "which part", "fuzzy", "rim",
# "boundary", "o'clock", "vacuole", "长宽", "lump", "白点", "白线", lymphadenopathy, 恶性/良性, 恶变): 174/174; v9 149 -> 150/150,
# the other sets unchanged (v5 233/237, the rest full). Held-out v3: 197/211 before, 203/211 after, never read.
# Left in the probes, as judgement calls: "perihilar" as a region, "空洞呢" after a margin question, pleural
# thickening and free air (no such sign), "肺纹理" (lung markings), "what is that white line?" (answered by locate,
# as questions.jsonl's "what is the lesion in the left lower zone?")
DEV_V10 = DATA / "questions_dev_v10.jsonl"
DEV_V10_FLOOR = 174 / 174
# an eleventh writer's development set: 225 questions (zh 103, en 79, mixed 43; 9 ask back, 14 with nothing there, 41 in
# a follow-up context; clock positions, units, "the one above / below it", homophone and letter typos in both
# scripts, signs asked of the film, term questions, statements and courtesy before the question, out-of-scope asides)
# written and labelled on 2026-12-03 before the parser was run on them (sixteen that repeated an earlier set's
# question were reworded first): 206/225 then (at commit 76c5c31). One label was a judgement call, corrected before
# tuning: "片子上有钙化吗" (a content looked for over the film, no finding in focus) screens, as "两肺有没有实变?" does,
# not assess_anatomy. Tuned, with four scratch probe sets (230 questions, labelled before they were run, not kept),
# as general rules: "something there" said colloquially ("有东西", "有点什么", "藏没藏", "是不是有东西") looks for a
# lesion; a content after a copula ("是不是钙化灶") is asked about, not pointed with, and "钙化的那个结节" points; a choice
# of positions ("靠内还是靠外", "偏上还是偏下") asks where; "贴着" is a contact; a comparison that opens with what is
# compared with ("跟另一个比,它…", "compared to the nodule, is the strand …") names its subject first, and "和另一个比呢"
# compares the one in focus; the one in focus and a finding named by its number ("它跟 A2 比呢") are two findings; a
# term with a diagnosis word ("支气管扩张是什么病") asks the term; two terms' difference without "有" or with Latin terms
# ("lobulation 和 spiculation 啥区别"), but not two kinds of lesion this film shows ("结节和条索影啥区别": compared); a
# statement before "要紧吗" asks nothing; vocabulary (结接, 空东, 肺们; 胸腔里有水, water on the lung, lung collapse;
# 纵隔偏, 气管歪, windpipe, "in the middle"; 心脏后面; "describe the nodule"; whole x-ray; repeat x-ray, 上次的片子,
# 怎么处理; pleural tag): 224/225, the other sets unchanged. The one left, as a judgement call: "有没有肺不张" (Hilum
# reads no atelectasis sign, and its answer words are not the parser's to add). Held-out v3: 203/211 before, 203/211
# after (scored once, never read), so its floor stays
DEV_V11 = DATA / "questions_dev_v11.jsonl"
DEV_V11_FLOOR = 225 / 225  # "有没有肺不张", its last miss, answered "not read" since 2026-12-04 (dev set v14 round)
# a twelfth development set: 215 questions (zh 114, en 68, mixed 33; 7 ask back, 12 with nothing there, 28 in a
# follow-up context; fragments ("大小", "size pls", "A1?"), long multi-sentence questions from relatives, GPs and
# students, British spellings, abbreviations (RUL, LLL, CTR, GGO, SPN, PA), Chinese numerals (十毫米, 两厘米, 二点五厘米),
# full-width digits, emoji, polite wrappers, negated and tag questions ("不是很规则吧", "isn't it smooth?", "the strand
# isn't calcified, is it?"), "what about X" ellipsis, questions about what was said before ("you said A1 was 12 mm,
# right?"), requests to draw, outline or measure, a sign asked of a finding named by its number, comparisons, ribs and
# clock positions, out-of-scope asides) written and labelled on 2026-12-03 before the parser was read or run on them:
# 185/215 then (at commit 76c5c31 with the v11 rules). Three labels were judgement calls, corrected before tuning: a
# clock position taken from the hilum ("结节在肺门的几点钟方向", "A1 在 right hilum 几点钟方向", "at 9 o'clock from the right
# hilum") is the finding's relation to the hilum (measure_relation), not locate. Tuned, with two scratch probe sets (110 questions, labelled
# before they were run, not kept), as general rules: Chinese numerals before a unit are a value ("十毫米", "二点五厘米");
# a full-width finding number ("Ａ２") is one, an age ("a 58-year-old") is none; a tag question's "right" names no side
# and its "it" no finding, and a statement confirmed by a tag ("you said A1 was 12 mm, right?") is what is asked; a
# finding named by its number or order with nothing asked ("A1?", "第二个病灶是啥") is shown, never a term; "换 … 看看"
# and "what about" before Chinese words are elliptical, and a landmark alone after a turn ("what about the hilum?")
# asks the relation; a clock position from a landmark is a relation; a structure's outline ("are the hemidiaphragms /
# costophrenic angles well defined?") beats the margin's words; "is the X near Y?" after a statement is a predicate;
# "谁" is "which one"; two terms' difference with 不一样 / 不同 / 差别; vocabulary (宽多少, 算不算大, 啥情况, 清爽, 有个东西,
# 甲状腺, 胆囊, gym, draw, short for, meant by, 怎么算的, anterior / posterior rib, 第几rib, 到底是啥, AP or PA, 站着拍,
# colour, "the same density", "bones" no typo of "ones"): 215/215, the other sets unchanged (v5 233/237, v11 224/225,
# the rest full). Held-out v3: 203/211 before, 203/211 after (scored once, never read), so its floor stays. Left in the
# probes, as judgement calls: "ok, and the calcification?" after a margin question (a content as pointer, as v10's
# "空洞呢"), "cm?" alone (cm / mm as size words broke v9's "follow-up for a 12 mm nodule"), "那个结节应该不大吧",
# "How is the cardiothoracic ratio calculated?"
DEV_V12 = DATA / "questions_dev_v12.jsonl"
DEV_V12_FLOOR = 215 / 215
# a thirteenth development set: 152 questions (zh 67, en 59, mixed 26; requests phrased as instructions ("tell me …",
# "I need the …", "请给出 …"), report-draft and dictation style ("Impression: nodule size?", "印象：…，大小？"), report
# vocabulary (opacity, lucency, blunting, air bronchogram, silhouette sign, 轮廓征, 透亮区), "and also" / "另外" / "顺便"
# with two asks, the patient's history before the question, "can we …" / "我们看到的这个", numbers as English words
# ("ten millimetres"), British and Australian idioms, a trailing "please", Chinese term typos, traditional-only and
# Hong Kong / Taiwan usage (肋膜, 公分, 公厘, 有無, 橫膈, Cantonese 嗰粒 / 有冇 / 邊個)) written and labelled on 2026-12-03
# before the parser was read or run on them: 138/152 then (at commit 13a71e2). Tuned, with four scratch probe sets (about
# 100 questions, labelled before they were run, not kept), as general rules: a report section's heading before a colon
# ("Impression:", "印象：", "Dictation:") asks nothing when what follows asks; an English clause asks with "is / are /
# does / can …" only at its start (or with "?"), so a history statement ("Patient is a 60-year-old ex-smoker with a
# cough.") asks nothing; a disease in a history clause ("我阿公以前有肺结核", "history of TB") is no checklist; Cantonese
# function words read as Mandarin (有冇, 嗰, 邊個, 喺邊度, 唔, 係唔係, 啲, 幾遠, 有幾大); an opening "Right, …" agrees and
# names no side; "顺便" / "另外" / "as well as" / "plus" join a second ask (the first is answered); English number words
# before a unit are a value ("less than twenty mm"); "高密度影" names an opacity, asks no density; a colloquial pointer
# with a lesion's noun ("that lump", "this spot") names the lesion whose badness is asked ("anything nasty?"); "看到结节
# 有没有钙化" asks the content, not whether the nodule is there; vocabulary (上 / 中 / 下 zone, referred, chest physician,
# nasty, dictation, 性质, 碰到, 复诊 / 覆诊, inch, 好大, 毛玻璃): 151/152, the other sets unchanged (v5 233/237, v11
# 224/225, the rest full). The one left, as a judgement call: "右中肺那個腫塊" (the 12 mm finding there is a nodule, not
# a mass: "none" is defensible). Held-out v3: 203/211 before, 203/211 after (scored once, never read), so its floor stays
DEV_V13 = DATA / "questions_dev_v13.jsonl"
DEV_V13_FLOOR = 151 / 152
# a thirteenth writer's set (2026-12-04): 155 questions over every intent (zh 77, en 78; typos, units, clock hours,
# "the one below it", comparisons, film-level checklists), written and labelled before the parser ran on them:
# 147/155 at commit 24299ed. Tuned as general rules: "看下这个胸片" screens and "该吃什么药" asks a medicine (out of
# scope), a four-letter word spelled by its sound ("sise") is corrected, a question that opens with "explain" asks
# the term, "它的长径和短径分别是多少" asks one finding's two axes, and a lesion checklist asked of no finding picks the
# one finding of its kinds (checklists.json `kinds`: a nodule, not a strand, for early lung cancer) -> 153/155, the
# other sets unchanged. Beside the score, "what is the hilum / 肺门 / CTR / silhouette sign?" now answers from
# ontology/glossary.json instead of "I do not know that term" (the sets grade intents, which were already right).
# Left: "Is the left basal opacity close to the heart border?" (the heart's state is read; a rule for it moved nine
# other questions) and "If this were early lung cancer, how many typical signs does it show?" with no turn before
# ("it" points, so which finding is asked). Held-out v3: 203/211 before, 204/211 after (scored once, never read)
DEV_V14 = DATA / "questions_dev_v14.jsonl"
DEV_V14_FLOOR = 155 / 155  # its two left, fixed by the v15-v19 round
# five more writers' sets (2026-12-04, 160 questions each; every intent, zh / en / mixed), each written from a brief
# (data/writer_brief.md: the film's two findings, the intents and the anchor rules; no parser, no earlier set; v15's brief
# had the two errors corrected below, fixed in the file for v16 on) by someone who never read the
# parser, and scored before any rule was tuned on it. v15 (mixed phrasing): 147/160 at commit 67302b0; two labels
# followed errors in the brief, corrected before tuning ("the bigger one" is the 25 mm strand, A2; a distance between
# the two findings is measure_relation, as questions.jsonl has it): 150/160. v16 (radiologists' shorthand) 146/160
# and v17 (patients, relatives, students; non-native English, Cantonese, typos) 142/160, both scored after v15's rules;
# v18 (follow-ups: 91 of 160 in a context) 152/160 and v19 (whole-chest signs, terms, diagnosis, film, confidence,
# fragments) 150/160, both after v15-v17's rules. Labels set to the project's rules before tuning (a rule these
# briefs did not state): "any consolidation?" asks the sign (assess_anatomy, as questions.jsonl), "那这个到底是什么?"
# is answered by the screening summary (test_parser: "右下那块到底是啥"), and "这个病人是不是得了肺癌?" names a disease
# whose checklist the one nodule answers (v14's rule). Tuned as general rules: film_info words (PA 位 / AP 位,
# 窗宽窗位, inverted, bedside, rotation / exposure / inspiration) no longer out of scope, and the answer says how the
# film is shown (bone white, its own percentile window) or that Hilum does not grade technique; "CTR 是什么?" /
# "胸片上说的外带是指哪里?" / "what's an air bronchogram?" define the term (a sign or glossary word as the whole subject;
# "what is the CTR?" still reads the ratio); "GGO", "TB" as sign names (capitals); lobes in the glossary; "both hila"
# names structures, not the two findings; "any cavitation in the RML lesion?" asks the lesion named by its place;
# "跟结节比,它…" / "is it smoother than the nodule?" / "比条索影大吗" / "is the one above it smaller?" compare the one in
# focus with the one named; "what about the other one, how far is it …" is the other one alone; "No, I meant the other
# one" / "不是这个,是左边那个" ask again; "ok, and …" / "I mean" ask nothing; "the 12 mm one" / "那个12毫米的" / "the report
# says 12 mm, but …" name the finding of that size (``Query.size_named_mm``); "if this were early lung cancer, how many
# typical signs does it show?" with nothing in focus counts the nodule's signs (a yes/no "is it malignant?" still
# asks which); "两个都是良性的吗" answers each finding, or says the checklist is not for its kind; "could you have missed
# a small nodule?" says what Hilum misses (``attribute="missed"``); "what is this?" with nothing in focus screens; a
# relative's condition ("我爸有高血压"), "这个病人", "Dx?", PTX, 消炎药, radiation, Cantonese 同 / 啲, 只寸, 节结. After:
# v15 160/160, v16 159/160, v17 158/160, v18 160/160, v19 160/160; v14 153 -> 155/155, v5 233 -> 236/237, the rest
# unchanged. Left as judgement calls: "Benign or malignant?" (the one nodule's checklist, v14's rule; the writer asked
# back), "the lump" said of A1 twice (earlier writers call the strand a lump too). Held-out v3: 204/211 before and after
# (scored after each change, never read)
DEV_V15 = DATA / "questions_dev_v15.jsonl"
DEV_V15_FLOOR = 160 / 160
DEV_V16 = DATA / "questions_dev_v16.jsonl"
DEV_V16_FLOOR = 160 / 160  # "Benign or malignant?" asks which since the v26-v27 round
DEV_V17 = DATA / "questions_dev_v17.jsonl"
DEV_V17_FLOOR = 158 / 160
DEV_V18 = DATA / "questions_dev_v18.jsonl"
DEV_V18_FLOOR = 160 / 160
DEV_V19 = DATA / "questions_dev_v19.jsonl"
DEV_V19_FLOOR = 160 / 160
# two more writers' sets from the same brief (2026-12-04), scored once each before any rule was tuned on them, so each
# is also a held-out measure of the rules tuned on the sets before it: v21 (GPs, emergency doctors, radiographers,
# students) 152/160 at commit 67302b0 and 156/160 (97.5%) after the v15-v19 rules; v20 (code-switching, typos, units,
# clock hours, ordinals, tag questions) 149/160 at 67302b0 and 154/160 (96.3%) after the v15-v19 rules and v21's four
# vocabulary lines. Then tuned on (window / scale / accuracy words, "the right lung lesion … the left lung lesion" as
# two findings, "both domes", 良姓 / 恶行 / 像结合 typos, "show一下", "certain about"): 160/160 each
DEV_V20 = DATA / "questions_dev_v20.jsonl"
DEV_V20_FLOOR = 160 / 160
DEV_V21 = DATA / "questions_dev_v21.jsonl"
DEV_V21_FLOOR = 160 / 160
# two more writers' sets (2026-12-04, the brief asking for a week's broad mix), written after held-out v4 and scored
# before tuning: v22 (night-shift residents, ICU and emergency doctors, radiologists, nurses, students) 156/160 (97.5%)
# and v23 (patients and families across mainland China, Hong Kong, Taiwan and overseas; English learners) 152/160
# (95.0%). Tuned as general rules: "哪个边缘更光滑" compares the findings, "左下那个跟右中那个比" and "它和左下那个" name two
# findings by side, "各多大" of two findings is both (of one finding's axes, its axes), a disease's signs named ("malignancy
# signs") ask its checklist, "血常规 WBC 有点高,有关系吗?" asks about the statement, Cantonese 系咩 / 系咪 / 咗 / 有几长,
# "ball shadow", 反转显示, 有多肯定, "sure or not": 160/160 each, the other sets unchanged
DEV_V22 = DATA / "questions_dev_v22.jsonl"
DEV_V22_FLOOR = 160 / 160
DEV_V23 = DATA / "questions_dev_v23.jsonl"
DEV_V23_FLOOR = 160 / 160
# two more (2026-12-04, the same brief, a week's broad mix), written after held-out v5: v24 153/160 and v25 152/160 (after
# v24's rules) before tuning. Labels set to the project's rules before tuning: "这片子有没有肺癌?" and "Is there any sign of
# cancer on this x-ray?" ask the lung-cancer checklist of the one nodule (v14's rule), as "这个病人是不是得了肺癌?" does.
# Tuned as general rules: a statement before a question that checks a value asks nothing ("My doctor said anything
# above 8 mm needs a CT. Is the RML nodule over 8 mm?"), "离左肺门多少cm" after a turn is the finding's distance, not the
# hilum's size, "How do the hila look?" assesses them, "this x-ray" points at no finding, "right on" names no side,
# "upper one", HU 值, 要命, 唔该晒, 信心度, 支气管镜 (bronchoscopy), "sitting on": v24 156/160, v25 160/160. Left as judgement
# calls: "有空洞吗" with nothing in focus screens for a cavity (the engine's rule), "是良性的还是恶性的" takes the one
# nodule (v14's rule), "any cavitating lesions in either upper zone?" reads as the content, "Can you find the nodule in
# the left upper zone my GP mentioned?" locates (and finds none)
DEV_V24 = DATA / "questions_dev_v24.jsonl"
DEV_V24_FLOOR = 157 / 160
DEV_V25 = DATA / "questions_dev_v25.jsonl"
DEV_V25_FLOOR = 160 / 160
# two more (2026-12-04, the same brief): v26 152/160 and v27 156/160 (after v26's rules) before tuning. Tuned as general
# rules: a checklist asked of the film or the patient, or its signs counted, takes the one nodule, but a verdict asked of
# an "it" the reader has in mind ("is it cancer?", "benign or malignant?", "係咪癌嚟㗎?") asks which (``Query.of_the_film``;
# four writers labelled it so: v16, v21, v24, v27); a question whose change-over-time words are in a statement after it
# ("Heart size ok吗?病人新出现杂音") needs no earlier film; a question, then a statement of follow-up or care, asks the
# first ("右肺那个东西有多大啊,医生说要我三个月后复查"); "the thing near the diaphragm" names a finding; Cantonese 呢粒 / 有几近 /
# 同 before Latin words; screen一下, lobectomy, 反相, "band opacity", "are you certain": v26 158/160, v27 160/160, v16
# 159 -> 160, v24 156 -> 157, v25 160 -> 159 -> 160. Left in v26: "Quick read please,膝关节置换术前评估" (the knee is out of
# scope; the pre-operative chest read is the ask) and "Describe the nodule - and while you're at it, how big is it?"
DEV_V26 = DATA / "questions_dev_v26.jsonl"
DEV_V26_FLOOR = 158 / 160
DEV_V27 = DATA / "questions_dev_v27.jsonl"
DEV_V27_FLOOR = 160 / 160
# two more (2026-12-04, the same brief), written after held-out v6: v29 152/160 and v28 152/160 (after v29's rules) before
# tuning. One label set to the project's rule before tuning: "胸片上有 pneumonia 吗?" asks the pneumonia checklist (as
# questions.jsonl, v4, v10, v11 and v14 label it). Tuned as general rules: "any GGO component to the spiculated lesion?"
# names the lesion it asks of; "is the spot in my lung cancer?" asks which spot; "除了这个还有别的病灶吗" / "besides this
# one" leaves the one in focus out and the answer says so (``Query.besides_focus``); a disease named in the question
# after a history statement; "right lung … left lower one" and "than the right" as sides; imperatives to screen
# before a history; 所有病灶; 和上次那张比 needs an earlier film; relative to / stuck to / subpleural; lateral view, supine,
# "could the AI be wrong": v28 160/160, v29 159/160 ("Is it subpleural?" with nothing named reads the outer band)
DEV_V28 = DATA / "questions_dev_v28.jsonl"
DEV_V28_FLOOR = 160 / 160
DEV_V29 = DATA / "questions_dev_v29.jsonl"
DEV_V29_FLOOR = 159 / 160
# the last two of the stop (2026-12-04, the same brief), written after held-out v7: v31 154/160 and v30 155/160 (after
# v31's rules) before tuning. Tuned as general rules: how a structure looks ("Both hemidiaphragms look ok to you?")
# assesses it; a kind of lesion looked for in the first question is what is asked ("Is there a mass in the right upper
# lobe? Referral says 'RUL shadow'."); Cantonese 定 between two terms is "or"; wet read, check for any, up against, how
# high above, how reliable, 多sure, 具体指什么, 靠谱不: v30 159/160, v31 160/160. Left: "spiculation就是毛刺征吗?具体指什么"
# (the first question's margin words win)
DEV_V30 = DATA / "questions_dev_v30.jsonl"
DEV_V30_FLOOR = 159 / 160
DEV_V31 = DATA / "questions_dev_v31.jsonl"
DEV_V31_FLOOR = 160 / 160


class CountingEncoderDouble:
    """Stands in for the encoder: these sessions start from hand-built facts."""

    name = "double"
    calls = 0

    def encode(self, image: Any) -> Any:
        raise AssertionError("the question set never encodes")


def load(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def outcome(turn: Any) -> str:
    if turn.clarification:
        return "clarify"
    ids = [a["id"] for a in turn.anchors if a["kind"] == "finding"]
    return ",".join(ids) if ids else "none"


def run_one(engine: DialogueEngine, item: dict[str, Any], make_facts: Callable[..., Any]) -> tuple[bool, str]:
    sid = engine.start_session(make_facts(), lang="en").session_id
    if item.get("context") == "focus_A1":
        engine.ask(sid, "右肺中叶那个圆形影,边缘是否规则?")
    elif item.get("context") == "focus_A2":
        engine.ask(sid, "左下肺那个条索影边缘光滑吗?")
    turn = engine.ask(sid, item["q"])
    got = outcome(turn)
    ok = turn.intent == item["intent"] and ("anchor" not in item or got == item["anchor"])
    return ok, f"{item['q']!r}: intent {turn.intent} (want {item['intent']}), anchor {got} (want {item.get('anchor', '-')})"


def test_question_set_size_and_mix() -> None:
    items = load()
    assert len(items) >= 150
    assert sum(1 for i in items if any("\u4e00" <= c <= "\u9fff" for c in i["q"])) >= 60
    assert {i["intent"] for i in items} >= {"screen", "describe_margin", "measure_relation", "sign_checklist", "size",
                                            "density", "locate", "compare", "explain_term"}
    assert any(i.get("anchor") == "clarify" for i in items) and any(i.get("anchor") == "none" for i in items)


def test_question_set_accuracy(make_facts: Callable[..., Any]) -> None:
    engine = DialogueEngine(CountingEncoderDouble(), Settings())  # type: ignore[arg-type]
    items = load() + load(HELD_OUT)
    wrong = [msg for ok, msg in (run_one(engine, i, make_facts) for i in items) if not ok]
    accuracy = 1 - len(wrong) / len(items)
    print(f"\nquestion set: {len(items) - len(wrong)}/{len(items)} right ({accuracy:.1%})")
    for msg in wrong:
        print("  WRONG", msg)
    assert accuracy >= REQUIRED, "\n".join(wrong)


def _score_set(path: Path, floor: float, label: str, make_facts: Callable[..., Any], size: int = 150,
               show_misses: bool = True) -> None:
    """A question set's score (intent and anchor both right), printed (with its misses unless ``show_misses``
    is off: a held-out set's misses are not shown, so that no one tunes on them), held to ``floor``."""
    engine = DialogueEngine(CountingEncoderDouble(), Settings())  # type: ignore[arg-type]
    items = load(path)
    assert len(items) >= size
    results = [run_one(engine, i, make_facts) for i in items]
    right = sum(ok for ok, _ in results)
    print(f"\n{label}: {right}/{len(items)} right ({right / len(items):.1%})")
    for ok, msg in results:
        if not ok and show_misses:
            print("  WRONG", msg)
    assert right / len(items) >= floor - 1e-9, f"{label}: {right}/{len(items)}"


def test_heldout_v2_score(make_facts: Callable[..., Any]) -> None:
    """The former held-out set v2, now a tuning set, printed for the README:
    ``.venv/bin/python -m pytest tests/orchestrator/dialogue/test_questions.py -q -s -k heldout_v2``."""
    _score_set(HELD_OUT_V2, HELD_OUT_V2_FLOOR, "held-out set v2 (target 97%)", make_facts)


# the untuned held-out sets: (path, floor, label) per writer; each runs as ``-k heldout_vN``
HELD_OUT_SETS: dict[str, tuple[tuple[Path, float, str], ...]] = {
    "heldout_v3": ((HELD_OUT_V3, HELD_OUT_V3_FLOOR, "held-out set v3"),),
    "heldout_v4": ((HELD_OUT_V4A, HELD_OUT_V4A_FLOOR, "held-out set v4a"), (HELD_OUT_V4B, HELD_OUT_V4B_FLOOR, "held-out set v4b")),
    "heldout_v5": ((HELD_OUT_V5A, HELD_OUT_V5A_FLOOR, "held-out set v5a"), (HELD_OUT_V5B, HELD_OUT_V5B_FLOOR, "held-out set v5b")),
    "heldout_v6": ((HELD_OUT_V6A, HELD_OUT_V6A_FLOOR, "held-out set v6a"), (HELD_OUT_V6B, HELD_OUT_V6B_FLOOR, "held-out set v6b")),
    "heldout_v7": ((HELD_OUT_V7A, HELD_OUT_V7A_FLOOR, "held-out set v7a"), (HELD_OUT_V7B, HELD_OUT_V7B_FLOOR, "held-out set v7b")),
}


@pytest.mark.parametrize("name", list(HELD_OUT_SETS))
def test_heldout_score(name: str, make_facts: Callable[..., Any]) -> None:
    """An untuned held-out set's score (its misses never printed), for the README, e.g. v3's:
    ``.venv/bin/python -m pytest tests/orchestrator/dialogue/test_questions.py -q -s -k heldout_v3``."""
    for path, floor, label in HELD_OUT_SETS[name]:
        _score_set(path, floor, f"{label} (target 97%)", make_facts, show_misses=False)


# the development sets: (path, floor, minimum size); each runs as ``-k dev_vN``
DEV_SETS: dict[str, tuple[Path, float, int]] = {
    "dev_v4": (DEV_V4, DEV_V4_FLOOR, 200),
    "dev_v5": (DEV_V5, DEV_V5_FLOOR, 200),
    "dev_v6": (DEV_V6, DEV_V6_FLOOR, 200),
    "dev_v7": (DEV_V7, DEV_V7_FLOOR, 100),
    "dev_v8": (DEV_V8, DEV_V8_FLOOR, 150),
    "dev_v9": (DEV_V9, DEV_V9_FLOOR, 150),
    "dev_v10": (DEV_V10, DEV_V10_FLOOR, 150),
    "dev_v11": (DEV_V11, DEV_V11_FLOOR, 150),
    "dev_v12": (DEV_V12, DEV_V12_FLOOR, 150),
    "dev_v13": (DEV_V13, DEV_V13_FLOOR, 120),
    "dev_v14": (DEV_V14, DEV_V14_FLOOR, 150),
    "dev_v15": (DEV_V15, DEV_V15_FLOOR, 150),
    "dev_v16": (DEV_V16, DEV_V16_FLOOR, 150),
    "dev_v17": (DEV_V17, DEV_V17_FLOOR, 150),
    "dev_v18": (DEV_V18, DEV_V18_FLOOR, 150),
    "dev_v19": (DEV_V19, DEV_V19_FLOOR, 150),
    "dev_v20": (DEV_V20, DEV_V20_FLOOR, 150),
    "dev_v21": (DEV_V21, DEV_V21_FLOOR, 150),
    "dev_v22": (DEV_V22, DEV_V22_FLOOR, 150),
    "dev_v23": (DEV_V23, DEV_V23_FLOOR, 150),
    "dev_v24": (DEV_V24, DEV_V24_FLOOR, 150),
    "dev_v25": (DEV_V25, DEV_V25_FLOOR, 150),
    "dev_v26": (DEV_V26, DEV_V26_FLOOR, 150),
    "dev_v27": (DEV_V27, DEV_V27_FLOOR, 150),
    "dev_v28": (DEV_V28, DEV_V28_FLOOR, 150),
    "dev_v29": (DEV_V29, DEV_V29_FLOOR, 150),
    "dev_v30": (DEV_V30, DEV_V30_FLOOR, 150),
    "dev_v31": (DEV_V31, DEV_V31_FLOOR, 150),
}


@pytest.mark.parametrize("name", list(DEV_SETS))
def test_dev_set_score(name: str, make_facts: Callable[..., Any]) -> None:
    """A development set's score, e.g. v8's:
    ``.venv/bin/python -m pytest tests/orchestrator/dialogue/test_questions.py -q -s -k dev_v8``."""
    path, floor, size = DEV_SETS[name]
    _score_set(path, floor, name.replace("_", " set "), make_facts, size=size)
