"""The session's overlay as a Grayscale Softcopy Presentation State on the source image (highdicom).

Why a presentation state (and the segmentation only as an option): every PACS viewer shows a GSPS
over the film it references — outlines, points, lines and their labels — while a SEG shows only
masks, in fewer viewers, and cannot carry a distance with its label. Layers:

- ``FINDINGS``: each finding's outline (closed polyline) and a label "A1 nodule 10.6 mm";
- ``ANATOMY``: the anatomy points the dialogue used (hila …) with their anchor ids;
- ``MEASUREMENTS``: each distance the dialogue measured, as a line with its length ("73.8 mm",
  "≈" in front when the pixel spacing was estimated);
- ``OBJECTS``: each region set aside from the findings as an object over the chest (an electrode, a line, a
  generator's can: ``orchestrator/findings/external_objects.py``), its box and "set aside, not a finding", as the
  page draws it and the answer says why;
- ``NOTE``: one line in the top-left corner saying these are device observations, not a diagnosis.

Coordinates are PIXEL units of the source image (``source.py`` maps the working frame onto it).
"""

from __future__ import annotations

from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from orchestrator.dicom_out.content import SessionContent
from orchestrator.dicom_out.source import MANUFACTURER, MODEL, SOFTWARE_VERSION, SourceImage, derived_uid
from orchestrator.dicom_out.sr import finish, named_kind

PR_SERIES_NUMBER = 902
NOTE = {"zh": "Hilum 影像征象标注,不构成诊断", "en": "Hilum image observations, not a diagnosis"}
KINDS_EN = {"calcified_nodule": "calcified nodule"}
SET_ASIDE = {"zh": "未计为病灶", "en": "set aside, not a finding"}


def _closed(arr: np.ndarray) -> np.ndarray:
    return arr if np.array_equal(arr[0], arr[-1]) else np.vstack([arr, arr[:1]])


def _label_at(source: SourceImage, point: Any) -> tuple[float, float]:
    x, y = source.to_original(point)
    return min(x, source.cols - 1.0), min(y, source.rows - 1.0)


def _finding_layer(content: SessionContent, source: SourceImage, approx: str
                   ) -> tuple[list[hd.pr.GraphicObject], list[hd.pr.TextObject]]:
    graphics, texts = [], []
    for f in content.report.get("findings", ()) if content.localisable else ():
        anchor = content.anchor(str(f.get("anchor_id", ""))) or {}
        points = anchor.get("polygon_px") or []
        if len(points) >= 3:
            graphics.append(hd.pr.GraphicObject(graphic_type="POLYLINE", graphic_data=_closed(source.to_original_array(points)),
                                                units="PIXEL", tracking_id=str(f.get("anchor_id")),
                                                tracking_uid=derived_uid(content.session_id, "pr-outline", str(f.get("id")))))
        named = named_kind(f)  # as the answers name it
        kind = KINDS_EN.get(named, named)
        size = f" {approx}{float(f['diameter_mm']):.1f} mm" if f.get("diameter_mm") is not None else ""
        texts.append(hd.pr.TextObject(f"{f.get('anchor_id', '')} {kind}{size}".strip(), units="PIXEL",
                                      anchor_point=_label_at(source, f.get("center_px") or points[0]),
                                      anchor_point_visible=True))
    return graphics, texts


def _anatomy_layer(content: SessionContent, source: SourceImage
                   ) -> tuple[list[hd.pr.GraphicObject], list[hd.pr.TextObject]]:
    graphics, texts = [], []
    used = {m.get(k) for m in content.report.get("measurements", ()) for k in ("from", "to")}
    for a in content.report.get("anchors", ()) if content.localisable else ():
        if a.get("kind") not in ("anatomy", "point") or not a.get("center_px"):
            continue
        if a.get("id") not in used and not str(a.get("name", "")).startswith("hilum"):
            continue
        at = np.array([source.to_original(a["center_px"])], dtype=np.float32)
        graphics.append(hd.pr.GraphicObject(graphic_type="POINT", graphic_data=at, units="PIXEL"))
        texts.append(hd.pr.TextObject(str(a.get("id")), units="PIXEL", anchor_point=_label_at(source, a["center_px"]),
                                      anchor_point_visible=True))
    return graphics, texts


def _measurement_layer(content: SessionContent, source: SourceImage, approx: str
                       ) -> tuple[list[hd.pr.GraphicObject], list[hd.pr.TextObject]]:
    graphics, texts = [], []
    for m in content.report.get("measurements", ()) if content.localisable else ():
        if m.get("mm") is None or not (m.get("from_px") and m.get("to_px")):
            continue
        line = source.to_original_array([m["from_px"], m["to_px"]])
        graphics.append(hd.pr.GraphicObject(graphic_type="POLYLINE", graphic_data=line, units="PIXEL"))
        mid = ((m["from_px"][0] + m["to_px"][0]) / 2.0, (m["from_px"][1] + m["to_px"][1]) / 2.0)
        texts.append(hd.pr.TextObject(f"{approx}{float(m['mm']):.1f} mm", units="PIXEL",
                                      anchor_point=_label_at(source, mid), anchor_point_visible=False))
    return graphics, texts


def _object_layer(content: SessionContent, source: SourceImage
                  ) -> tuple[list[hd.pr.GraphicObject], list[hd.pr.TextObject]]:
    graphics, texts = [], []
    for o in content.report.get("objects_set_aside", ()) if content.localisable else ():
        x0, y0, x1, y1 = (float(v) for v in o["bbox_px"])
        box = _closed(source.to_original_array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]))
        box = np.clip(box, 0.0, [source.cols - 1.0, source.rows - 1.0]).astype(np.float32)
        graphics.append(hd.pr.GraphicObject(graphic_type="POLYLINE", graphic_data=box, units="PIXEL"))
        texts.append(hd.pr.TextObject(SET_ASIDE.get(content.lang, SET_ASIDE["en"]), units="PIXEL",
                                      anchor_point=_label_at(source, (x0, y0)), anchor_point_visible=True))
    return graphics, texts


def build_pr(content: SessionContent, source: SourceImage) -> Dataset:
    """The GSPS; highdicom checks each graphic and text object as it is built."""
    approx = "≈" if content.spacing_source != "dicom" else ""
    image = source.reference_dataset()
    layers = [hd.pr.GraphicLayer("FINDINGS", 1, "finding outlines and labels"),
              hd.pr.GraphicLayer("ANATOMY", 2, "anatomy points used by the dialogue"),
              hd.pr.GraphicLayer("MEASUREMENTS", 3, "measured distances"),
              hd.pr.GraphicLayer("OBJECTS", 4, "objects set aside from the findings"),
              hd.pr.GraphicLayer("NOTE", 5, "what these annotations are")]
    parts = [_finding_layer(content, source, approx), _anatomy_layer(content, source),
             _measurement_layer(content, source, approx), _object_layer(content, source)]
    note = hd.pr.TextObject(NOTE.get(content.lang, NOTE["en"]), units="DISPLAY", bounding_box=(0.01, 0.01, 0.6, 0.05))
    annotations = [hd.pr.GraphicAnnotation([image], layer, graphic_objects=g or None, text_objects=t or None)
                   for layer, (g, t) in zip(layers, parts, strict=False) if g or t]
    annotations.append(hd.pr.GraphicAnnotation([image], layers[-1], text_objects=[note]))
    n = max(1, content.turn_count)
    pr = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[image], series_instance_uid=derived_uid(content.session_id, "pr-series"),
        series_number=PR_SERIES_NUMBER, sop_instance_uid=derived_uid(content.session_id, "pr", str(n)),
        instance_number=n, manufacturer=MANUFACTURER, manufacturer_model_name=MODEL,
        software_versions=SOFTWARE_VERSION, device_serial_number="0", content_label="HILUM_OVERLAY",
        content_description="Hilum overlay: findings, anatomy, distances, objects set aside",
        graphic_layers=layers,
        graphic_annotations=annotations,
    )
    finish(pr, "Hilum overlay (device observations, not a diagnosis)", content.created_at)
    del pr.CodingSchemeIdentificationSequence  # the presentation state uses no coded concept of its own
    pr.BodyPartExamined = "CHEST"  # General Series: a chest film is of no one side (no Laterality)
    return pr
