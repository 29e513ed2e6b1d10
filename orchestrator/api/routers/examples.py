"""``/v1/examples``: the committed example films (DICOM with true pixel spacing) for the web page."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orchestrator.api.dependencies import Examples
from orchestrator.api.protocol import ERROR_RESPONSES, Example

router = APIRouter(prefix="/v1/examples", tags=["examples"], responses=ERROR_RESPONSES)
CACHE = {"Cache-Control": "public, max-age=86400"}


class ExampleFilm(Example):
    """``image_url``: the film as PNG (a thumbnail); ``dicom_url``: the DICOM to upload, whose
    spacing is the film's true one; ``scenario``: the docs/SCENARIO.md case."""

    dicom_url: str
    scenario: bool = False
    pixel_spacing_mm: list[float] | None = None


@router.get("", response_model=list[ExampleFilm])
def list_examples(library: Examples) -> list[ExampleFilm]:
    return [
        ExampleFilm(seed=c.seed, title=c.title, image_url=f"/v1/examples/{c.seed}.png",
                    dicom_url=f"/v1/examples/{c.seed}.dcm", scenario=c.scenario,
                    pixel_spacing_mm=list(c.pixel_spacing_mm) if c.pixel_spacing_mm else None)
        for c in library.list()
    ]


@router.get("/{seed}.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def example_png(seed: int, library: Examples) -> Response:
    return Response(library.png(seed), media_type="image/png", headers=CACHE)


@router.get("/{seed}.dcm", response_class=Response, responses={200: {"content": {"application/dicom": {}}}})
def example_dicom(seed: int, library: Examples) -> Response:
    return Response(library.dicom(seed), media_type="application/dicom",
                    headers={**CACHE, "Content-Disposition": f'attachment; filename="phantom-{seed}.dcm"'})
