"""Builds ``signs.json`` from the PadChest label table (in the torchxrayvision wheel) and the
hand-curated Fleischner nodule terms.

    python -m orchestrator.ontology.build            # rewrites orchestrator/ontology/signs.json

Sources:
- PadChest (Bustos et al. 2020): the ``Labels`` / ``labelCUIS`` and ``Localizations`` /
  ``LocalizationsCUIS`` columns of ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz``.
  Each label's UMLS code is the CUI it co-occurs with most specifically (rows with one label
  and one CUI first, then the highest P(cui | label) · P(label | cui)). The file is read from
  the installed wheel (``importlib.metadata``), never imported, never copied here.
- ``curation/padchest_curation.json``: zh name, category, specificity, evidencing fact and
  (for the frequent ones) clinical meaning of each PadChest label; ``curation/padchest_locations.json``
  the zh names of the locations.
- ``curation/fleischner_terms.json``: nodule terms of the Fleischner glossary; a term whose id
  equals a PadChest label's id is merged into it (the PadChest UMLS code is kept).
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import importlib.metadata
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CURATION = HERE / "curation"
PADCHEST_FILE = "torchxrayvision/data/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"
NOT_SIGNS = frozenset({"", "normal", "exclude", "unchanged", "suboptimal study"})
SCHEMA = "hilum-signs/1"


def padchest_path() -> Path:
    dist = importlib.metadata.distribution("torchxrayvision")
    return Path(str(dist.locate_file(PADCHEST_FILE)))


def _as_list(cell: str) -> list[str]:
    cell = (cell or "").strip()
    if not cell or cell in ("nan", "None"):
        return []
    if cell.startswith("[") and "'" in cell and "," not in cell:  # numpy-style "['C1' 'C2']"
        return re.findall(r"'([^']*)'", cell)
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return re.findall(r"'([^']*)'", cell)
    return [str(v).strip() for v in value] if isinstance(value, list | tuple) else []


def read_rows(path: Path) -> Iterator[tuple[list[str], list[str], list[str], list[str]]]:
    """(labels, label CUIs, localizations, localization CUIs) per report."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            labels = [x.strip() for x in _as_list(row.get("Labels", ""))]
            cuis = [x.strip() for x in _as_list(row.get("labelCUIS", ""))]
            locs = [x.strip() for x in _as_list(row.get("Localizations", ""))]
            loc_cuis = [x.strip() for x in _as_list(row.get("LocalizationsCUIS", ""))]
            yield labels, cuis, locs, loc_cuis


def assign_codes(pairs: Iterable[tuple[list[str], list[str]]]) -> tuple[Counter[str], dict[str, str]]:
    """Label counts and label → CUI (by single-label rows, then by association)."""
    counts: Counter[str] = Counter()
    single: dict[str, Counter[str]] = defaultdict(Counter)
    joint: dict[str, Counter[str]] = defaultdict(Counter)
    cui_counts: Counter[str] = Counter()
    for labels, cuis in pairs:
        uniq = sorted(set(labels))
        counts.update(uniq)
        ucuis = sorted(set(c for c in cuis if re.fullmatch(r"C\d{7}", c)))
        cui_counts.update(ucuis)
        if len(uniq) == 1 and len(ucuis) == 1:
            single[uniq[0]][ucuis[0]] += 1
        for lab in uniq:
            joint[lab].update(ucuis)
    codes: dict[str, str] = {}
    for lab in counts:
        if single[lab]:
            codes[lab] = min(single[lab].items(), key=lambda kv: (-kv[1], kv[0]))[0]
            continue
        best = max(
            sorted(joint[lab].items()),
            key=lambda kv: (kv[1] / counts[lab]) * (kv[1] / cui_counts[kv[0]]),
            default=None,
        )
        if best and best[1] / counts[lab] >= 0.5:
            codes[lab] = best[0]
    return counts, codes


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _padchest_sign(label: str, count: int, code: str | None, cur: dict[str, Any], locs: list[str]) -> dict[str, Any]:
    category = cur["category"]
    meaning_en = cur.get("meaning_en") or f"{label.capitalize()}: a {category.replace('_', ' ')} finding named in radiology reports (PadChest)."
    meaning_zh = cur.get("meaning_zh") or f"{cur['zh']}:放射学报告中使用的{CATEGORY_ZH.get(category, '影像')}征象(PadChest)。"
    return {
        "id": cur.get("id") or slug(label),
        "en": label,
        "zh": cur["zh"],
        "synonyms": cur.get("synonyms", []),
        "category": category,
        "evidence": cur.get("evidence"),
        "locations": locs,
        "meaning_en": meaning_en,
        "meaning_zh": meaning_zh,
        "specificity": cur.get("specificity", DEFAULT_SPECIFICITY.get(category, 0.4)),
        "umls": code,
        "source": "padchest",
        "padchest_reports": count,
    }


CATEGORY_ZH = {
    "nodule_mass": "结节/肿块",
    "lung_parenchyma": "肺实质",
    "interstitial": "肺间质",
    "airway": "气道",
    "pleura": "胸膜",
    "mediastinum_hilum": "纵隔/肺门",
    "cardiovascular": "心血管",
    "bone": "骨骼",
    "soft_tissue": "软组织",
    "device": "器械/置入物",
    "postsurgical": "术后",
    "diaphragm_abdomen": "膈肌/腹部",
    "general": "综合",
}
DEFAULT_SPECIFICITY = {"device": 0.9, "postsurgical": 0.8, "bone": 0.6, "general": 0.2}


def typical_locations(rows: Iterable[tuple[list[str], list[str]]], top: int = 3) -> dict[str, list[str]]:
    """Each label's most frequent PadChest localizations (from sentence-level pairs)."""
    co: dict[str, Counter[str]] = defaultdict(Counter)
    for labels, locs in rows:
        for lab in set(labels):
            co[lab].update(set(locs))
    return {
        lab: [loc.removeprefix("loc ") for loc, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
        for lab, c in co.items()
    }


def build(padchest: Path, curation_dir: Path = CURATION) -> dict[str, Any]:
    pad_cur = json.loads((curation_dir / "padchest_curation.json").read_text(encoding="utf-8"))["labels"]
    loc_cur = json.loads((curation_dir / "padchest_locations.json").read_text(encoding="utf-8"))["locations"]
    fleischner = json.loads((curation_dir / "fleischner_terms.json").read_text(encoding="utf-8"))["terms"]
    label_pairs: list[tuple[list[str], list[str]]] = []
    loc_pairs: list[tuple[list[str], list[str]]] = []
    label_loc: list[tuple[list[str], list[str]]] = []
    for labels, cuis, locs, loc_cuis in read_rows(padchest):
        label_pairs.append((labels, cuis))
        loc_pairs.append((locs, loc_cuis))
        label_loc.append((labels, locs))
    counts, codes = assign_codes(label_pairs)
    loc_counts, loc_codes = assign_codes(loc_pairs)
    where = typical_locations(label_loc)
    signs: dict[str, dict[str, Any]] = {}
    for label in sorted(counts):
        if label in NOT_SIGNS:
            continue
        if label not in pad_cur:
            raise SystemExit(f"PadChest label without curation: {label!r}")
        sign = _padchest_sign(label, counts[label], codes.get(label), pad_cur[label], where.get(label, []))
        signs[sign["id"]] = sign
    for term in fleischner:
        merged = {**signs.get(term["id"], {}), **{k: v for k, v in term.items() if v is not None or k == "evidence"}}
        merged.setdefault("category", "nodule_mass")
        merged.setdefault("locations", [])
        merged.setdefault("umls", None)
        merged["source"] = "padchest+fleischner" if term["id"] in signs else "fleischner"
        if term["id"] in signs:
            merged["synonyms"] = sorted(set(signs[term["id"]].get("synonyms", [])) | set(term.get("synonyms", [])))
        signs[term["id"]] = merged
    locations = [
        {"id": slug(loc.removeprefix("loc ")), "en": loc.removeprefix("loc "), "zh": loc_cur.get(loc, ""),
         "umls": loc_codes.get(loc), "padchest_reports": loc_counts[loc]}
        for loc in sorted(loc_counts)
        if loc
    ]
    return {
        "schema": SCHEMA,
        "sources": {
            "padchest": "PadChest labels (Bustos et al., Med Image Anal 2020), table shipped in the torchxrayvision wheel",
            "fleischner": "Fleischner Society glossary of terms for thoracic imaging (Hansell et al., Radiology 2008), nodule terms, curated",
        },
        "signs": sorted(signs.values(), key=lambda s: s["id"]),
        "locations": locations,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "signs.json")
    ap.add_argument("--padchest", type=Path, default=None)
    args = ap.parse_args(argv)
    doc = build(args.padchest or padchest_path())
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(doc['signs'])} signs, {len(doc['locations'])} locations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
