"""The findings layer: AnatomyMaps + PixelSpacing → ImageFacts (``analyse``)."""

from orchestrator.findings.analyse import analyse
from orchestrator.findings.spacing import estimate_spacing

__all__ = ["analyse", "estimate_spacing"]
