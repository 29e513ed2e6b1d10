"""The findings layer: AnatomyMaps + PixelSpacing → ImageFacts (``analyse``)."""

from orchestrator.findings.analyse import analyse, heatmap_png, lesion_heatmap
from orchestrator.findings.spacing import estimate_spacing

__all__ = ["analyse", "estimate_spacing", "heatmap_png", "lesion_heatmap"]
