"""The coded concepts Hilum's DICOM objects use, in one place.

Standard codes are taken from pydicom's copy of the DICOM content mapping resource (PS3.16:
SNOMED CT ``SCT``, ``DCM``, ``UCUM``, RadLex) wherever a concept exists there; the sign ontology's
UMLS CUIs (``orchestrator/ontology/signs.json``, from PadChest) next; and the ontology's own ids
under the private scheme ``99HILUM`` otherwise (declared in each object's Coding Scheme
Identification Sequence). Nothing here names a disease: finding types are radiographic
descriptors (nodule, mass, opacity, band), never a diagnosis.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from orchestrator.ontology.loader import Ontology

PRIVATE_SCHEME = "99HILUM"
PRIVATE_SCHEME_NAME = "Hilum sign ontology (orchestrator/ontology/signs.json)"


def coded(code: object) -> CodedConcept:
    """A pydicom ``Code`` as a highdicom ``CodedConcept``."""
    return CodedConcept(code.value, code.scheme_designator, code.meaning)  # type: ignore[attr-defined]


def private(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value[:16], PRIVATE_SCHEME, meaning[:64])


# --- the report, the procedure, units -------------------------------------------------------
PROCEDURE_CHEST_XRAY = CodedConcept("399208008", "SCT", "Plain chest X-ray")
MM = CodedConcept("mm", "UCUM", "millimeter")
MM2 = CodedConcept("mm2", "UCUM", "square millimeter")
UNITY = CodedConcept("1", "UCUM", "no units")

# --- finding types (radiographic descriptors) -------------------------------------------------
NODULE = coded(codes.cid6104.Nodule)  # SCT 27925004
FINDING_TYPES: dict[str, CodedConcept] = {
    "nodule": NODULE,
    "calcified_nodule": NODULE,  # + the calcification evaluation
    "mass": coded(codes.cid6104.Mass),  # SCT 4147007
    "effusion": coded(codes.SCT.PleuralEffusion),  # SCT 60046008
    "strand": coded(codes.cid6103.ParenchymalBand),  # DCM 112112
    "consolidation": CodedConcept("C0521530", "UMLS", "Lung consolidation"),
    "cavity": CodedConcept("C0578537", "UMLS", "Cavitation"),
}
OPACITY = coded(codes.cid6104.Opacity)  # DCM 112001: any other kind


def finding_type(kind: str) -> CodedConcept:
    return FINDING_TYPES.get(kind, OPACITY)


# --- sites ----------------------------------------------------------------------------------
LOBES: dict[str, CodedConcept] = {
    "RUL": CodedConcept("45653009", "SCT", "Upper lobe of right lung"),
    "RML": CodedConcept("72481006", "SCT", "Middle lobe of right lung"),
    "RLL": CodedConcept("50837003", "SCT", "Lower lobe of right lung"),
    "LUL": CodedConcept("44714003", "SCT", "Upper lobe of left lung"),
    "LLL": CodedConcept("41224006", "SCT", "Lower lobe of left lung"),
}
LUNG = coded(codes.SCT.Lung)  # SCT 39607008
PLEURAL_CAVITY = CodedConcept("90290004", "SCT", "Pleural cavity")  # an effusion's site: outside the lung
HILUM_OF_LUNG = coded(codes.cid6111.HilumOfLung)  # SCT 46750007
LATERALITY: dict[str, CodedConcept] = {"right": coded(codes.cid244.Right), "left": coded(codes.cid244.Left)}

# --- measurements ---------------------------------------------------------------------------
DIAMETER = coded(codes.cid7470.Diameter)  # SCT 81827009 (equivalent-circle diameter)
LONG_AXIS = coded(codes.cid7470.LongAxis)
SHORT_AXIS = coded(codes.cid7470.ShortAxis)
AREA = coded(codes.cid7469.Area)
DISTANCE = coded(codes.cid7470.Distance)  # DCM 121206
PROBABILITY = coded(codes.DCM.Probability)  # DCM 122157
MEASUREMENT_METHOD_NAME = coded(codes.SCT.MeasurementMethod)
SPACING_METHODS: dict[str, CodedConcept] = {
    "dicom": private("spacing-dicom", "Pixel spacing from the DICOM header"),
    "estimated": private("spacing-estim", "Pixel spacing estimated from anatomy, not from DICOM"),
}
GAP = private("gap-to-hilum", "Gap from lesion edge to hilar structure")

# --- qualitative evaluations ------------------------------------------------------------------
DEVICE = coded(codes.DCM.Device)  # the observer type: a device, never a person
CERTAINTY = coded(codes.DCM.CertaintyOfFinding)  # DCM 111012
HIGH, MEDIUM, LOW = coded(codes.DCM.High), coded(codes.DCM.Medium), coded(codes.DCM.Low)
MARGIN = coded(codes.DCM.Margins)  # DCM 111037
MARGINS: dict[str, CodedConcept] = {
    "smooth": coded(codes.SCT.Smooth),
    "lobulated": coded(codes.DCM.Lobulated),
    "spiculated": coded(codes.DCM.Spiculated),
}
SHAPE = CodedConcept("300842002", "SCT", "Shape")
SHAPES: dict[str, CodedConcept] = {
    "round": coded(codes.cid6119.RoundShape),
    "oval": CodedConcept("84360004", "SCT", "Ovoid shape"),
    "strand-like": CodedConcept("112150", "DCM", "Linear"),
    "patchy": coded(codes.SCT.Irregular),
}
CALCIFICATION = coded(codes.DCM.CalcificationDescriptor)
CALCIFIED, NON_CALCIFIED = CodedConcept("237897009", "SCT", "Calcified"), coded(codes.SCT.NonCalcified)
HOMOGENEITY = private("homogeneity", "Internal density homogeneity")
HOMOGENEOUS, HETEROGENEOUS = coded(codes.DCM.Homogeneous), coded(codes.RADLEX.Heterogeneous)
CAVITATION = FINDING_TYPES["cavity"]
AIR_BRONCHOGRAM = coded(codes.cid6102.AirBronchogram)  # DCM 112071
PRESENT, ABSENT = coded(codes.SCT.Present), coded(codes.SCT.Absent)
INDETERMINATE = coded(codes.SCT.Indeterminate)
# image level: whether the device detected a lesion candidate (absent; indeterminate when the film
# cannot be read reliably). Private: "Finding" (DCM 121071) is TID 1501's finding type.
DETECTION = private("device-detect", "Lesion candidate detected by the device")
STATUS: dict[str, CodedConcept] = {"yes": PRESENT, "no": ABSENT, "uncertain": INDETERMINATE}

# --- against an earlier film of the same chest (``report["comparison"]``) ------------------------------
# per finding: a qualitative difference from CID 6134 (Chest Qualitative Temporal Difference Type; "New finding" from
# CID 6002, the same concept for a lesion the earlier film did not show) and the difference in size from CID 6133
# (Chest Quantitative Temporal Difference Type); the film: whether a comparison was made and the interval in days
QUALITATIVE_DIFFERENCE = coded(codes.DCM.QualitativeDifference)  # DCM 111049
# ("new" is not coded: the answers say a finding was not found on the earlier film, where a smaller or fainter one may
# have been missed, which is no "New finding")
CHANGES: dict[str, CodedConcept] = {
    "larger": coded(codes.SCT.IncreaseInSize),  # SCT 15454001
    "smaller": coded(codes.SCT.DecreaseInSize),  # SCT 19776001
    "no_measurable_change": coded(codes.SCT.NoSignificantChangesInTheFinding),  # SCT 129723006
}
SIZE_DIFFERENCE = coded(codes.SCT.FindingOfDifferenceInSize)  # SCT 442714003
# no standard concept names a volume doubling time; private, as the gap to the hilum is, with the range the answer
# gives (either diameter 10% off)
DOUBLING_TIME = private("doubling-time", "Volume doubling time (sphere, steady growth)")
DOUBLING_TIME_FASTEST = private("doubling-fast", "Volume doubling time, either diameter 10% off: fastest")
DOUBLING_TIME_SLOWEST = private("doubling-slow", "Volume doubling time, either diameter 10% off: slowest")
COMPARISON_NOTE = private("comparison-note", "What the comparison with the prior film rests on")
COMPARED_WITH_PRIOR = coded(codes.DCM.ComparisonWithPriorStudyDone)  # DCM 122140
YES, NO = coded(codes.SCT.Yes), coded(codes.SCT.No)
INTERVAL = coded(codes.SCT.Interval)  # SCT 385673002
DAY = CodedConcept("d", "UCUM", "day")

# the language of the text items (the answers): RFC 5646, as CID 5000 uses
LANGUAGES: dict[str, CodedConcept] = {"en": CodedConcept("en-US", "RFC5646", "English (United States)"),
                                      "zh": CodedConcept("zh-CN", "RFC5646", "Chinese (China)")}

# --- text items -------------------------------------------------------------------------------
QUALITATIVE_EVALUATIONS = CodedConcept("C0034375", "UMLS", "Qualitative Evaluations")
QUESTION = private("question", "Question asked of the device")
ANSWER = private("answer", "Device answer")
DISCLAIMER = private("disclaimer", "Disclaimer")
SPACING_NOTE = private("spacing-note", "Pixel spacing source")
SOURCE_NOTE = private("source-note", "Source image note")
SESSION = private("hilum-session", "Hilum session to continue the dialogue")


def certainty(p: float) -> CodedConcept:
    """The engine's calibrated probability, binned: high (>= 0.8), medium (>= 0.5), low."""
    return HIGH if p >= 0.8 else MEDIUM if p >= 0.5 else LOW


def item_concept(checklist_name: str, sign_id: str, ontology: Ontology) -> CodedConcept:
    """A checklist item: the sign's concept where the item is the sign itself; the item's own (private, its English
    label) where it is broader ("lobulated or spiculated margin" is no "spiculation": coded as that sign, a lobulated
    margin with no spicule would read as spiculated)."""
    checklist = ontology.checklist(checklist_name)
    item = next((i for i in checklist.items if i.sign == sign_id), None) if checklist is not None else None
    sign = ontology.sign(sign_id)
    if item is not None and sign is not None and item.label_en.strip().lower() != sign.en.strip().lower():
        return private(f"item-{sign_id}", item.label_en)
    return sign_concept(sign_id, ontology)


def sign_concept(sign_id: str, ontology: Ontology) -> CodedConcept:
    """A checklist sign: its UMLS CUI when the ontology has one, else the ontology id (99HILUM)."""
    sign = ontology.sign(sign_id)
    meaning = sign.en if sign is not None else sign_id.replace("_", " ")
    if sign is not None and sign.umls:
        return CodedConcept(sign.umls, "UMLS", meaning[:64])
    return private(sign_id, meaning)
