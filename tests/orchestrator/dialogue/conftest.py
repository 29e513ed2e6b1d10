"""Hand-built ImageFacts like the SCENARIO case: F1 12 mm lobulated + spiculated nodule in the outer
band of the right middle zone (RML), F2 25 x 18 mm strand at the left lower lobe base."""

from __future__ import annotations

import math

import pytest

from orchestrator.facts import (
    AnatomyFacts,
    AnatomyRegion,
    CostophrenicAngle,
    Density,
    FilmCheck,
    Finding,
    HilumRelation,
    ImageFacts,
    Notch,
    PixelSpacing,
    Spicule,
)

MM_PER_PX = 0.7


def _circle(cx: float, cy: float, r: float, n: int = 24) -> tuple[tuple[float, float], ...]:
    return tuple((cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n)) for k in range(n))


def scenario_facts(source: str = "dicom", with_f2: bool = True) -> ImageFacts:
    sp = PixelSpacing(MM_PER_PX, MM_PER_PX, source)  # type: ignore[arg-type]
    hilum_r, hilum_l = (205.0, 230.0), (305.0, 232.0)
    c1 = (140.0, 260.0)
    d1 = math.hypot(c1[0] - hilum_r[0], c1[1] - hilum_r[1]) * MM_PER_PX
    r1 = 6.0 / MM_PER_PX
    f1 = Finding(
        id="F1", kind="nodule", shape="round", center_px=c1, bbox_px=(c1[0] - r1, c1[1] - r1, c1[0] + r1, c1[1] + r1),
        polygon_px=_circle(*c1, r1), area_mm2=113.1, diameter_mm=12.0, longest_mm=13.1, shortest_mm=11.2,
        orientation_deg=20.0, side="right", lobe="RML", zone="middle", band="outer", margin="spiculated",
        notches=(Notch(10, 1.2, (134.0, 253.0)), Notch(3, 1.0, (148.5, 260.0))),
        spicules=(Spicule(1, 3.1, (143.0, 252.0), (146.0, 247.0)), Spicule(5, 4.8, (145.0, 267.0), (149.0, 273.0)),
                  Spicule(8, 3.6, (133.0, 264.0), (128.0, 267.0))),
        density=Density(homogeneous=True, contrast=0.2, calcified=False, cavity=False, bubble_lucency=False,
                        air_bronchogram="uncertain"),
        pleural_contact=False, distance_to_pleura_mm=14.0, distance_to_diaphragm_mm=60.0,
        hilum=HilumRelation("right", hilum_r, d1, d1 - 10.0, (148.0, 256.0), (196.0, 234.0), "no", "no"),
        confidence=0.9,
    )
    c2 = (330.0, 380.0)
    f2 = Finding(
        id="F2", kind="strand", shape="strand-like", center_px=c2, bbox_px=(312.0, 367.0, 348.0, 393.0),
        polygon_px=((312.0, 380.0), (330.0, 367.0), (348.0, 380.0), (330.0, 393.0)), area_mm2=350.0,
        diameter_mm=21.1, longest_mm=25.0, shortest_mm=18.0, orientation_deg=-30.0, side="left", lobe="LLL",
        zone="lower", band="middle", margin="smooth", notches=(), spicules=(),
        density=Density(True, 0.1, False, False, False, "no"), pleural_contact=False, distance_to_pleura_mm=20.0,
        distance_to_diaphragm_mm=8.0,
        hilum=HilumRelation("left", hilum_l, 110.0, 95.0, (330.0, 367.0), (305.0, 240.0), "no", "uncertain"),
        confidence=0.7,
    )
    anatomy = AnatomyFacts(
        regions=(AnatomyRegion("hilum_right", hilum_r, (190.0, 210.0, 220.0, 250.0)),
                 AnatomyRegion("hilum_left", hilum_l, (290.0, 212.0, 320.0, 252.0)),
                 AnatomyRegion("heart", (260.0, 330.0), (200.0, 270.0, 340.0, 400.0)),
                 AnatomyRegion("retrocardiac", (265.0, 350.0), (215.0, 300.0, 315.0, 400.0))),
        hilum_px={"right": hilum_r, "left": hilum_l},
        costophrenic=(CostophrenicAngle("right", (80.0, 420.0), 35.0, "sharp"),
                      CostophrenicAngle("left", (430.0, 425.0), 38.0, "sharp")),
        cardiothoracic_ratio=0.46, heart_width_mm=140.0, thorax_width_mm=300.0,
        diaphragm_dome_px={"right": (150.0, 400.0), "left": (360.0, 410.0)},
        apex_px={"right": (150.0, 90.0), "left": (360.0, 92.0)},
    )
    # as the film gate names the view: a DICOM upload of the phantom says PA; an image file says nothing ("frontal")
    check = FilmCheck(view="PA" if source == "dicom" else "frontal")
    return ImageFacts(image_size=(512, 512), spacing=sp, anatomy=anatomy, findings=(f1, f2) if with_f2 else (f1,),
                      checked=("consolidation", "cavity", "calcification", "effusion", "heart"), film_check=check)


@pytest.fixture()
def facts() -> ImageFacts:
    return scenario_facts()


@pytest.fixture()
def make_facts():  # noqa: ANN201 - returns the builder
    return scenario_facts


class NoEncoderDouble:
    """Stands in for the encoder where sessions start from hand-built facts: it must never be called."""

    name = "double"

    def encode(self, image: object) -> object:
        raise AssertionError("these sessions never encode")


@pytest.fixture()
def ask():  # noqa: ANN201 - returns the asker
    """``ask(question, lang="en", facts=None)``: one turn on a new session over ``facts`` (default the SCENARIO's)."""
    from orchestrator.dialogue.engine import DialogueEngine
    from orchestrator.settings import Settings

    engine = DialogueEngine(NoEncoderDouble(), Settings())  # type: ignore[arg-type]

    def run(question: str, lang: str = "en", facts: ImageFacts | None = None) -> object:
        return engine.ask(engine.start_session(facts or scenario_facts(), lang=lang).session_id, question)

    return run
