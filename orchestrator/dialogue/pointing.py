"""Words that say how a question points at a finding, read apart from the rest of the parse (``parser.parse_uncached``
sets the ``Query`` fields from them; ``anchors`` and the engine act on those fields).

- The image's side ("the one on the left side of the image", "图像左侧那个", "片子上右边那个"): the viewer's left, not the
  patient's. A frontal film shown the standard way has the patient's right on the image's left; the engine turns the side
  into the patient's only where the film says it is shown that way (``referring.patient_sides``). Plain "the left one" /
  "左边那个" is the patient's left, as radiology always means it.
- A size the reader states as their own or a radiologist's measurement ("it looks bigger to me, like 15 mm", "the
  radiologist measured it at 2 cm", "我觉得有15毫米"): said of the finding under discussion, never a pointer to another one
  whose size happens to match.
- A correction ("no, I meant the left one", "不是,我说的是左边那个", "sorry, the other one"): the question asked before,
  of another finding.
- A rank by height ("the lower one", "上面那个", "which is lower?"): the highest / lowest of the findings, not the one
  above or below the finding in focus ("the one above it", "它上面那个").
- Chinese "X的" pointers ("那个钙化的呢", "毛刺的呢", "分叶的那个"): which finding, as "the calcified one" says in English.

Pure functions of the normalised question text (lower case, NFKC, simplified Chinese).
"""

from __future__ import annotations

import re

from orchestrator.dialogue.units import in_mm

# --- the image's side ------------------------------------------------------------------------------

_IMAGE_NOUN = r"(?:image|picture|pic|screen|film|x-?ray|radiograph|photo|display|monitor)"
_NOT_A_PLACE = r"(?!\s*(?:lung|hil|lobe|hemi|side\s+of\s+the\s+(?:chest|patient|body)))"
_EN_IMAGE_SIDE = re.compile(
    # "the one on the left side of the image", "the right of the picture", "the left one in the image"
    rf"(?<![a-z])(left|right)(?:[- ]hand)?(?:\s+(?:side|half|part|edge|one))?,?\s+(?:of|on|in)\s+(?:the|this|your|my)\s+"
    rf"{_IMAGE_NOUN}(?![a-z])"
    # "the image's left", "the viewer's right"
    rf"|(?<![a-z])(?:{_IMAGE_NOUN}|viewer|reader|observer)(?:'s|s')\s+(left|right)(?![a-z])"
    # "the one on the left as I look at it"
    r"|(?<![a-z])(left|right)(?:[- ]hand)?(?:\s+side)?\s+(?:as|when)\s+(?:i|you|we)\s+(?:look|see|view)(?![a-z])"
    # "in the picture, the left one" (not "on the film, the right lung")
    rf"|(?<![a-z])(?:on|in)\s+(?:the|this)\s+{_IMAGE_NOUN},?\s+(?:on\s+)?(?:the\s+)?(left|right)(?:[- ]hand)?(?:\s+side)?"
    rf"{_NOT_A_PLACE}(?![a-z-])")
# "图像左侧", "图上右边", "屏幕左边", "片子上右边", "胸片上的左侧", "片子的左边"; never "片子左肺" (the left lung, named)
_ZH_IMAGE_SIDE = re.compile(
    r"(?:(?:图像|图片|画面|屏幕|照片|影像|图)(?:上|中|里|内)?|(?:片子|胸片|片)(?:上|中|里)|片子的|胸片的)(?:的)?(?:靠)?"
    r"([左右])(?:手)?(?:边|侧|面|方|半边|半部)")


def image_side(text: str) -> str | None:
    """The side of the image the question names ("left" | "right", the viewer's), None when it names none."""
    for pattern in (_EN_IMAGE_SIDE, _ZH_IMAGE_SIDE):
        m = pattern.search(text)
        if m is not None:
            side = next(g for g in m.groups() if g)
            return {"左": "left", "右": "right"}.get(side, side)
    return None


# --- a size the reader states ----------------------------------------------------------------------

_VALUE = re.compile(r"(\d+(?:\.\d+)?)\s*(mm|cm|millimet\w*|centimet\w*|毫米|厘米|公分)(?![a-z])")
# said by a radiologist (or the report a radiologist wrote)
_BY_RADIOLOGIST = re.compile(
    r"(?<![a-z])(?:radiologists?|the\s+report|report\s+(?:says|said)|(?:the|my)\s+doctor|doctor\s+(?:said|says|measured)"
    r"|they\s+(?:said|measured))(?![a-z])|放射科|影像科|报告|医生|大夫")
# the reader's own reading or doubt
_BY_READER = re.compile(
    r"(?<![a-z])(?:i\s+(?:think|thought|reckon|believe|guess|measured|measure|get|got|make\s+it|see|saw)|i'd\s+say"
    r"|i\s+would\s+say|my\s+(?:measurement|reading|ruler)|to\s+me|looks?\s+(?:like|bigger|smaller|larger|about|more)"
    r"|seems?|more\s+like|closer\s+to|are\s+you\s+sure|really|actually|measured\s+it|measures?\s+it)(?![a-z])"
    r"|我觉得|我看|我量|我测|我估计|我认为|我感觉|感觉|看着|看起来|看上去|明明|真的吗|确定吗|不对吧|不止")
# what is measured is a distance, not the finding's size ("I think it's 15 mm from the pleura")
_A_DISTANCE = re.compile(r"(?<![a-z])(?:from|away|apart|to\s+the)(?![a-z])|距|离|相距|距离")


def stated_size(text: str) -> tuple[float, str] | None:
    """A size the reader states of the finding as their own reading or a radiologist's ("really? it looks bigger to me,
    like 15 mm" → (15.0, "reader"); "the radiologist measured it at 2 cm" → (20.0, "radiologist"); "我觉得有15毫米"),
    in mm; None where a value is asked about or checked ("is it 15 mm?", "is it bigger than 1 cm?") or is a distance."""
    m = _VALUE.search(text)
    if m is None or _A_DISTANCE.search(text):
        return None
    value = in_mm(float(m.group(1)), m.group(2))
    if value <= 0:
        return None
    if _BY_RADIOLOGIST.search(text):
        return value, "radiologist"
    if _BY_READER.search(text):
        return value, "reader"
    return None


# --- a correction ----------------------------------------------------------------------------------

# "no, I meant the left one", "sorry, the other one", "actually, A1", "not that one, the strand", "不是,我说的是左边那个",
# "我指的是A1", "搞错了,是右边那个"
_CORRECTION = re.compile(
    r"^\s*(?:no|nope|nah|sorry|oops|wait|actually|oh\s+sorry|no\s+sorry)\s*[,.!;:]+"
    r"|^\s*(?:no|sorry)\s+(?=i\s+mean)"
    r"|(?<![a-z])i\s+(?:meant|mean|was\s+(?:asking|talking)\s+about|asked\s+about|am\s+(?:asking|talking)\s+about)(?![a-z])"
    r"|(?<![a-z])i'm\s+(?:asking|talking)\s+about(?![a-z])|(?<![a-z])not\s+(?:that|this)\s+one,?(?![a-z])"
    r"|(?<![a-z])wrong\s+one,?(?![a-z])"
    r"|^\s*(?:不是|不对|错了|搞错了|说错了|弄错了|抱歉|对不起|不好意思)(?:的|啦|了)?\s*[,，。.!！、]"
    r"|我(?:说的是|指的是|问的是|想问的是|要问的是|是说|是指)|(?<!是)不是这个|(?<!是)不是那个")


def correction(text: str) -> tuple[tuple[int, int], ...]:
    """The spans of the words that correct which finding was meant ("no," "I meant", "不是," "我说的是"); none when the
    question corrects nothing."""
    return tuple(m.span() for m in _CORRECTION.finditer(text))


# --- a rank by height ------------------------------------------------------------------------------

# "the one above it", "below this", "A1上面那个", "它下方的": beside a finding, not ranked among all
_EN_BESIDE = re.compile(r"(?<![a-z])(?:above|below|under|beneath|over)\s+(?:it|this|that|a\d+|f\d+|the\s+\w+)(?![a-z])"
                        r"|(?<![a-z])(?:the\s+)?one\s+(?:above|below|higher\s+up|further\s+down)(?![a-z])")
_ZH_BESIDE = re.compile(r"(?:它|这个|这处|那个的|这个的|该|[a-z]\d+)(?:的)?(?:正)?[上下](?:面|方|边)")
# "the upper one", "lower lesion", "higher one", "上面那个", "最下面的"
_EN_RANKED = re.compile(r"(?<![a-z])(?:upper|lower|higher|highest|lowest|uppermost|lowermost|top|bottom)(?:most)?\s+"
                        r"(?:one|lesion|opacity|finding|shadow|nodule|spot|strand|mass)s?(?![a-z])")
_ZH_RANKED = re.compile(r"[上下](?:面|方|边)")
# "which is lower?", "which one lies higher?", "哪个位置更低", "哪个在上面": the findings' heights compared
_HEIGHT_COMPARED = re.compile(
    r"(?<![a-z])which(?:\s+(?:one|lesion|finding|nodule|opacity))?\s+(?:is|lies|sits|appears|one\s+is)\s+(?:the\s+)?"
    r"(lower|higher|upper|further\s+down|further\s+up)(?:\s+(?:one|down|up))?(?:\s+on\s+the\s+(?:film|image))?\s*[?.!]*\s*$"
    r"|哪个(?:病灶|结节|影)?(?:的)?位置(?:更|比较|较)?(?:靠)?([高低上下])|哪个(?:病灶|结节)?(?:在|更靠|靠)([上下])(?:面|方|边)")


def ranked_by_height(text: str, relative: str | None) -> bool:
    """Whether "above" / "below" ranks the findings by height ("the upper one", "下面那个": the highest or lowest of
    them) rather than points beside a finding ("the one above it", "它下面那个")."""
    if relative not in ("above", "below"):
        return False
    if _EN_BESIDE.search(text) or _ZH_BESIDE.search(text):
        return False
    return bool(_EN_RANKED.search(text) or _ZH_RANKED.search(text))


def height_compared(text: str) -> str | None:
    """"which is lower?" / "哪个位置更高": the direction asked ("above" | "below"), None when heights are not asked."""
    m = _HEIGHT_COMPARED.search(text)
    if m is None:
        return None
    word = next(g for g in m.groups() if g)
    return "above" if word in ("higher", "upper", "further up", "高", "上") else "below"


# --- Chinese "X的" pointers --------------------------------------------------------------------------

# "那个钙化的呢", "钙化的那个", "有钙化的", "毛刺的呢", "分叶的那个", "磨玻璃的呢", "实性的那个", and "有空洞的呢" / "带空洞的呢"
# / "那个有空洞的呢" (the one that has a cavity: the screening for cavities again before): the descriptor's word with 的,
# opening the question or after a pointer, and nothing asked after it; or before "那个"; never "是钙化的吗" / "它是钙化的"
# / "毛刺那个是不是纯实性的" (asked or said of it), nor "有空洞吗" / "有没有空洞" (whether there is one)
_ZH_OF = (r"(?:^\s*(?:那|那么|还有)?(?:有|带)?|(?<![是为像否没])(?:那个|这个|那处|这处)(?:有|带)?)(?:{words})(?:状|样|性|型)?的"
          r"(?=\s*(?:呢|吧)?\s*[?？。!！]*\s*$)"
          r"|(?<![是为像否没])(?:有|带)?(?:{words})(?:状|样|性|型)?的(?=\s*(?:那个|那处|那一个|那颗|那条))")
_ZH_POINTER_WORDS: dict[str, str] = {
    "calcified": "钙化",
    "cavitary": "空洞",
    "spiculated": "毛刺|带刺|有刺",
    "smooth": "边缘光滑|光滑",
    "ground_glass": "磨玻璃|毛玻璃",
    "lobulated": "分叶",
    "solid": "实性|实质性",
}
# "the one with a cavity" / "the lesion that has calcification": a finding named by what it holds (never "is there a
# nodule with a cavity?", which asks whether there is one)
_EN_HOLDS = (r"(?<![a-z])(?:the|that|this)\s+(?:one|lesion|nodule|opacity|finding|mass|spot|shadow)\s+"
             r"(?:with|that\s+(?:has|shows|contains)|which\s+(?:has|shows|contains)|having|containing|showing)\s+"
             r"(?:an?\s+|the\s+|some\s+)?(?:{words})(?![a-z])")
# "the lobulated one", "the solid nodule": the English pointers of the two descriptors the vocabulary's cues lack; and
# "the one with a cavity" / "the one with calcification" (``_EN_HOLDS``)
_EN_POINTERS: dict[str, str] = {
    "lobulated": r"(?<![a-z])(?:lobulated|lobular)\s+(?:one|lesion|nodule|opacity|finding|mass|spot|shadow)(?![a-z])",
    "solid": r"(?<![a-z])(?:the|that|this)\s+solid\s+(?:one|lesion|nodule|opacity|finding|mass|spot)(?![a-z])"
             r"|(?<![a-z])solid\s+one(?![a-z])",
    "cavitary": _EN_HOLDS.format(words=r"cavit(?:y|ies|ation)"),
    "calcified": _EN_HOLDS.format(words=r"calcifications?|calcium"),
}


# "有空洞的呢" / "带钙化的" / "the one with a cavity?": a finding named by what it holds, nothing asked of it (its "有" asks
# no presence: ``held_named``)
_HELD = re.compile(r"^\s*(?:那|那么|还有)?(?:那个|这个)?(?:有|带)(?:空洞|钙化)(?:灶)?的(?=\s*(?:那个|那处)?\s*(?:呢|吧)?\s*[?？。!！]*\s*$)"
                   "|" + _EN_HOLDS.format(words=r"cavit(?:y|ies|ation)|calcifications?|calcium"))


def held_named(text: str) -> bool:
    """Whether the question names a finding by what it holds ("有空洞的呢", "the one with calcification?"), so that its
    "有" / "with" asks nothing of the film (it had been "有空洞吗", the film screened for cavities again)."""
    return bool(_HELD.search(text))


def descriptor_pointers() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(descriptor, pattern) pairs added to the vocabulary's ``descriptor_pointers`` cue."""
    zh = tuple((d, re.compile(_ZH_OF.format(words=w))) for d, w in _ZH_POINTER_WORDS.items())
    en = tuple((d, re.compile(p)) for d, p in _EN_POINTERS.items())
    return zh + en
