"""The REST shell (FastAPI) over the dialogue engine: ``create_app(settings, engine)``."""

from orchestrator.api.app import create_app

__all__ = ["create_app"]
