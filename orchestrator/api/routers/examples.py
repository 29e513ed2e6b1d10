"""``/v1/examples``: phantom example films for the web page."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orchestrator.api.dependencies import Examples
from orchestrator.api.protocol import ERROR_RESPONSES, Example

router = APIRouter(prefix="/v1/examples", tags=["examples"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[Example])
def list_examples(library: Examples) -> list[Example]:
    return [Example(seed=c.seed, title=c.title, image_url=f"/v1/examples/{c.seed}.png") for c in library.list()]


@router.get("/{seed}.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def example_png(seed: int, library: Examples) -> Response:
    return Response(library.png(seed), media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})
