"""The film gate: is this upload a frontal chest radiograph shown upright, and can its anatomy be read?

Two steps, both before anything is said about the film:

1. ``check_film(film, lang)`` (before the encoder): what the file says
   (``orchestrator.film_gate.metadata``) and what the pixels say (``orchestrator.film_gate.image``).
   Colour pictures, images with no chest layout, negatives, partial views, films turned by 90° or
   180°, lateral views and other modalities are refused with ``NotAChestFilmError`` (HTTP 422,
   kind ``not_a_chest_film``, a message in the user's language). A film that looks mirrored is
   accepted with ``orientation = "flipped_lr"``: sides are then withheld, never guessed.
2. ``orchestrator.findings.plausibility.plausibility(geometry)`` (after the encoder, in
   ``orchestrator.findings.analyse``): do the encoder's maps form a plausible chest? When they do
   not, ``anatomy_plausible`` is false and nothing that rests on the maps is stated.

The thresholds below were set on phantom films and generated non-chest images
(``loadtests/score_film_gate.py`` prints the measurements they rest on); the real films in the
project's development set were used only to check them, never to fit them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orchestrator.contracts.preprocess import Resampling
from orchestrator.errors import NotAChestFilmError
from orchestrator.facts import FilmCheck
from orchestrator.film_gate.image import ImageEvidence, image_evidence
from orchestrator.film_gate.metadata import read_tags

COLOUR_MAX = 0.05  # mean chroma above which an image is a colour picture, not a radiograph
CHEST_MIN = 0.45  # template correlation a chest film reaches in its best rotation (real films: 0.59+)
SYMMETRY_MIN = 0.5  # left-right mirror correlation of a whole thorax (phantom 0.64+, real 0.85+)
AXIS_RANGE = (0.4, 0.6)  # where the thorax's symmetry axis lies across the film
NEGATIVE_MIN = 0.55  # template correlation of the inverted film that names a negative (gradients, pages: < 0.52)
NEGATIVE_MARGIN = 0.1  # ... and by this much better than the film as shown
HEART_SIDE_MIN = 0.2  # |heart asymmetry| below this: the pixels cannot tell a mirrored film
# (phantom films: |1.06|-|1.69| upright and mirrored; real children's films: 0.36-1.04)

# reason codes of a refusal, with the message in each language (no input value is ever echoed)
REFUSALS: dict[str, tuple[str, str]] = {
    "colour": ("这是一张彩色图片,不是胸部X线片。", "This is a colour picture, not a chest radiograph."),
    "not_chest": ("这张图像看起来不是正位胸部X线片(未见胸廓的典型结构)。",
                  "This image does not look like a frontal chest radiograph (no chest layout found)."),
    "inverted": ("这张片子看起来是负片(肺野呈白色)。请检查 MONOCHROME1/2 设置后重新上传。",
                 "This film looks inverted (the lungs are bright). Check its MONOCHROME1/2 setting and upload it again."),
    "partial_view": ("这张图像只显示了胸部的一部分,需要完整的正位胸片。",
                     "This image shows only part of a chest; a whole frontal chest film is needed."),
    # a lateral film's pixels can read as a frontal film turned (loadtests/film_corpus.py, "lateral"): the two
    # refusals the pixels name by a turn say which films are read
    "rotated_90": ("这张胸片被旋转了90度,请转正后重新上传(本系统只读正位胸片)。",
                   "This chest film is turned by 90 degrees; please upload it upright (Hilum reads frontal chest films "
                   "only)."),
    "rotated_180": ("这张胸片上下颠倒(旋转了180度),请转正后重新上传(本系统只读正位胸片)。",
                    "This chest film is upside down (turned by 180 degrees); please upload it upright (Hilum reads "
                    "frontal chest films only)."),
    "upside_down": ("DICOM 方位标记显示这张胸片上下翻转,请转正后重新上传。",
                    "The DICOM orientation says this film is flipped top to bottom; please upload it upright."),
    "modality": ("DICOM 文件头显示这不是X线摄影(CR/DX)图像。",
                 "The DICOM header says this is not a projection radiograph (CR/DX)."),
    "body_part": ("DICOM 文件头显示检查部位不是胸部。", "The DICOM header says the body part examined is not the chest."),
    "lateral_view": ("DICOM 文件头显示这是侧位或斜位片;目前只能解读正位(PA/AP)胸片。",
                     "The DICOM header says this is a lateral or oblique view; only frontal (PA/AP) films can be read."),
}

# warning codes a FilmCheck may carry, with what each means (the composer words them)
WARNINGS: dict[str, tuple[str, str]] = {
    "flipped_lr": ("这张片子看起来左右镜像(心影位于图像左侧),因此不判断左右侧。",
                   "This film looks mirrored left to right (the heart shadow is on the image's left), so no side is stated."),
    "sides_unconfirmed": ("无法从图像确认左右方向(心影位置不明确),因此不判断左右侧。",
                          "The film's left-right orientation could not be confirmed from the image, so no side is stated."),
    "orientation_conflict": ("DICOM 方位标记与图像所见不一致,因此不判断左右侧。",
                             "The DICOM orientation and the image disagree, so no side is stated."),
    "secondary_capture": ("这是二次采集的图像(非原始X线数据)。", "This is a secondary capture, not original radiograph data."),
    "first_frame_only": ("这个DICOM对象含多帧图像,只读取了第一帧。", "This DICOM object holds several frames; only the first was read."),
    "second_reader": ("这张片子与主模型训练所用的片子差异较大,改由第二读片模型(以更多样的模拟片训练)读取:它可能遗漏病灶,"
                      "也可能报告并不存在的病灶,所以每一处所见都只说“可能”;每一处所见以及它给出的心胸比和肋膈角"
                      "都需放射科医师核对。",
                      "This film differs from the films Hilum's main weights were trained on, so it was read by the "
                      "second reader (weights trained on more varied simulated films): it may miss a lesion and may "
                      "report one that is not there, so every finding is given as possible; each finding, and the "
                      "cardiothoracic ratio and costophrenic angles it gives, need a radiologist's check."),
    "anatomy_not_established": ("无法在这张片子上可靠地确定解剖结构(它与模型训练所用的片子差异较大)。",
                                "The anatomy could not be established reliably on this film (it differs from the films the model was trained on)."),
    "lungs_implausible": ("肺野的形状或位置不合理。", "The lung fields found are implausible in shape or position."),
    "lungs_on_blank": ("找到的肺野大部分落在图像的空白(未曝光)区域。",
                       "The lung fields found lie mostly on blank (unexposed) parts of the image."),
    "lung_at_film_edge": ("有肺野的外侧缘位于已曝光片子的边缘:其外侧的肺、该侧肋膈角及胸廓的全宽可能不在片内;片外部分本系统不作判断,"
                          "也不给出心胸比。",
                          "A lung field's outer border lies at the edge of the exposed film: lung beyond it, that "
                          "side's costophrenic angle and the chest's full width may not be on the film; nothing is "
                          "said of what is off it, and no cardiothoracic ratio is given."),
    "hilum_implausible": ("肺门位置不合理(不在肺野内侧)。", "The hila found do not lie in the medial part of the lungs."),
    "hila_unplaced": ("找到的两侧肺门高度相差超出任何胸片的范围,无法判断哪一侧有误,因此本片不给出肺门位置,也不测量与肺门的距离。",
                      "The two hila found lie further apart in height than a chest's do, and which one is wrong cannot "
                      "be told, so no hilum is placed on this film and no distance to a hilum is measured."),
    "hila_read_alone": ("第二读片模型在与训练片差异较大的片子上所定的肺门位置经核查有误(在所查的每张真实胸片上,右肺门都被定在右膈顶上方的心缘旁),"
                        "因此本片不给出肺门位置,也不测量与肺门的距离。",
                        "The second reader's hilum points were found misplaced on films unlike its training films (on "
                        "every real film checked it put the right hilum just above the right dome, at the heart's "
                        "border), so no hilum is placed on this film and no distance to a hilum is measured."),
    "dome_unplaced": ("第二读片模型找到的膈顶有一侧位于肺野之内而非肺野底部,该侧膈顶不予给出。",
                      "A dome of the diaphragm the second reader found lies inside its lung field rather than at the "
                      "field's floor, so that dome is not given."),
    "ctr_implausible": ("测得的心胸比超出生理范围,不予报告。",
                        "The cardiothoracic ratio measured is outside the physiological range and is not reported."),
}


def message(code: str, lang: str) -> str:
    zh, en = REFUSALS.get(code) or WARNINGS.get(code) or REFUSALS["not_chest"]
    return zh if lang == "zh" else en


def refuse(code: str, lang: str) -> NotAChestFilmError:
    return NotAChestFilmError(message(code, lang), code)


def judge_pixels(ev: ImageEvidence, colourfulness: float) -> tuple[str | None, str]:
    """(refusal code or None, orientation) from the image evidence alone."""
    if colourfulness > COLOUR_MAX:
        return "colour", "upright"
    best = max(ev.upright, ev.rotated)
    if ev.negative >= NEGATIVE_MIN and ev.negative - best >= NEGATIVE_MARGIN:
        return "inverted", "upright"
    if best < CHEST_MIN:
        return "not_chest", "upright"
    if ev.symmetry < SYMMETRY_MIN or not AXIS_RANGE[0] <= ev.axis <= AXIS_RANGE[1]:
        return "partial_view", "upright"
    if ev.rotation != "upright":
        return ev.rotation, ev.rotation
    if ev.heart_asymmetry <= -HEART_SIDE_MIN:
        return None, "flipped_lr"
    return None, "upright"


def check_film(image: np.ndarray, resampling: Resampling | None, info: dict[str, Any], lang: str = "en") -> FilmCheck:
    """Refuse (``NotAChestFilmError``) or accept with what was established. ``info`` is
    ``DecodedFilm.info``; ``image``/``resampling`` the working film and how it was made."""
    tags = read_tags(info)
    if tags.refuse:
        raise refuse(tags.refuse, lang)
    ev = image_evidence(image, resampling)
    code, orientation = judge_pixels(ev, float(info.get("colourfulness") or 0.0))
    if code is not None:
        raise refuse(code, lang)
    warnings = list(tags.warnings)
    if tags.orientation in ("rotated_90", "rotated_180"):
        raise refuse(tags.orientation, lang)
    if tags.orientation == "flipped_lr" or orientation == "flipped_lr":
        orientation = "flipped_lr"
        warnings.append("flipped_lr")
        if tags.orientation == "upright":
            warnings.append("orientation_conflict")
    elif abs(ev.heart_asymmetry) < HEART_SIDE_MIN and tags.orientation != "upright":
        warnings.append("sides_unconfirmed")
    view = tags.view or "frontal"
    return FilmCheck(is_chest=True, view=view, orientation=orientation, warnings=tuple(warnings),  # type: ignore[arg-type]
                     age_group=tags.age_group)  # type: ignore[arg-type]
