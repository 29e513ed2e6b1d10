"""The lesion reader network: one 256² crop at 0.25 mm (+ the candidate's disc) -> a description.

Sized for a CPU: a five-stage strided CNN (8-16-32-64-96 channels, 128² down to 8²), a light
top-down decoder for the mask (64², upsampled to the contract's 128²), and small linear heads on
pooled features. About 0.15 GFLOP per crop and ~0.4 M parameters. Inputs and output names come from the serving contract,
``orchestrator/contracts/lesion_reader.py``; this module only adds the layers.

What each head buys (measured by ``hilum evaluate-reader``; README beside the weights):
- ``mask`` (fine lesion mask at 0.5 mm): the contour drawn on the film, and a size read where the
  encoder's ½-resolution map blurs the edge; also a dense training signal that teaches the trunk
  where the lesion's edge is, which the margin heads need.
- ``margin`` (smooth / lobulated / spiculated): the answer to "is the margin regular?" and the
  lung-cancer checklist's margin item, with a probability the dialogue can hedge on.
- ``notch_clock`` (12 hours): where the lobulation notches are ("notches at 10 and 3 o'clock").
- ``spicule_clock`` (12 hours) + ``spicule_length_mm``: where the spicules are and how long they
  reach ("5 spicules, 3-5 mm"); ``spicule_count``: the count itself, trained directly (a sum of
  hour probabilities is biased when two spicules are close).
- ``calcification`` / ``cavity``: the benign / cavitation signs the checklists ask for, read from
  the pixels at full resolution instead of the 512² contrast.
- ``diameter_mm``: the size, regressed in log space (the mask's area is the fallback).

Clock hours are in the crop's frame: 12 up (cranial), 3 the image's right.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from orchestrator.contracts.lesion_reader import (
    CHANNELS,
    CLOCK_HOURS,
    CROP_SIZE,
    INPUT_NAME,
    MARGINS,
    OUTPUT_NAMES,
)

CLOCK = len(CLOCK_HOURS)


@dataclass(frozen=True)
class ReaderConfig:
    widths: tuple[int, ...] = (8, 16, 32, 64, 96)
    decoder: int = 16
    hidden: int = 96
    # the margin logits are divided by this (fitted on validation seeds by ``hilum calibrate-reader``:
    # encoder/lesion_reader/calibrate.py), so every serving path answers calibrated probabilities
    margin_temperature: float = 1.0
    # the mask channel is blurred by this (pixels of 0.25 mm; 0: as given) and scaled to a peak of 1
    # before the trunk sees it. Run 3 needed it (its masks were outlines: the truth degraded in
    # training, the lesion map in serving); since the channel is a disc of the candidate's size
    # (contracts.lesion_reader.candidate_disc) it carries no outline and stays 0
    mask_blur_px: float = 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReaderConfig:
        return cls(widths=tuple(d.get("widths", cls.widths)), decoder=int(d.get("decoder", cls.decoder)),
                   hidden=int(d.get("hidden", cls.hidden)),
                   margin_temperature=float(d.get("margin_temperature", cls.margin_temperature)),
                   mask_blur_px=float(d.get("mask_blur_px", cls.mask_blur_px)))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "widths": list(self.widths)}


def gaussian_kernel(sigma: float, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """A normalised 1-D Gaussian of radius ``int(3 * sigma)`` (at least 1), for separable blurs."""
    r = max(1, int(3 * sigma))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=dtype, device=device) ** 2) / (2 * sigma * sigma))
    return k / k.sum()


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class LesionReaderNet(nn.Module):
    """``forward(crops [N, 2, 256, 256])`` -> the contract's outputs, in ``OUTPUT_NAMES`` order."""

    def __init__(self, config: ReaderConfig | None = None) -> None:
        super().__init__()
        self.config = config or ReaderConfig()
        w, d, h = self.config.widths, self.config.decoder, self.config.hidden
        self.stem = _conv(CHANNELS, w[0], 2)  # 128²
        self.stages = nn.ModuleList(
            nn.Sequential(_conv(w[i], w[i + 1], 2), _conv(w[i + 1], w[i + 1])) for i in range(len(w) - 1)
        )  # 64², 32², 16², 8²
        # decoder: 16² -> 32² -> 64², lateral 1x1 from the trunk; the mask logits are drawn at 64²
        # and upsampled to the contract's 128² (0.5 mm): CPU time goes to the trunk, not to 128² convs
        self.lateral = nn.ModuleList(nn.Conv2d(w[i], d, 1) for i in range(1, 4))  # 64², 32², 16²
        self.smooth = nn.ModuleList(_conv(d, d) for _ in range(2))
        self.mask_out = nn.Sequential(_conv(d, d), nn.Conv2d(d, 1, 1))
        # heads on the 8² map: a spatial summary (clock hours need where, not only what) + GAP
        self.reduce = nn.Sequential(nn.Conv2d(w[-1], 32, 1), nn.ReLU(inplace=True))
        side = CROP_SIZE // 2 ** len(w)
        self.fc = nn.Sequential(nn.Linear(32 * side * side + w[-1], h), nn.ReLU(inplace=True), nn.Dropout(0.1))
        self.margin = nn.Linear(h, len(MARGINS))
        self.notch = nn.Linear(h, CLOCK)
        self.spicule_clock = nn.Linear(h, CLOCK)
        self.spicule_length = nn.Linear(h, CLOCK)
        self.spicule_count = nn.Linear(h, 1)
        self.flags = nn.Linear(h, 2)  # calcification, cavity
        self.log_diameter = nn.Linear(h, 1)
        with torch.no_grad():
            self.log_diameter.bias.fill_(2.7)  # ~15 mm

    def _blurred_mask(self, crops: torch.Tensor) -> torch.Tensor:
        """Channel 1 blurred by ``config.mask_blur_px`` (separable Gaussian) and scaled to a peak of 1."""
        sigma = self.config.mask_blur_px
        if sigma <= 0:
            return crops
        k = gaussian_kernel(sigma, dtype=crops.dtype, device=crops.device)
        r = (len(k) - 1) // 2
        m = F.conv2d(crops[:, 1:2], k.view(1, 1, 1, -1), padding=(0, r))
        m = F.conv2d(m, k.view(1, 1, -1, 1), padding=(r, 0))
        m = m / (torch.amax(m, dim=(2, 3), keepdim=True) + 1e-3)
        return torch.cat([crops[:, 0:1], m], dim=1)

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = []
        x = self.stem(self._blurred_mask(crops))
        feats.append(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        y = self.lateral[2](feats[3])
        for i, lvl in enumerate((2, 1)):
            y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False) + self.lateral[lvl - 1](feats[lvl])
            y = self.smooth[i](y)
        mask = F.interpolate(self.mask_out(y), scale_factor=2.0, mode="bilinear", align_corners=False)
        top = feats[-1]
        z = torch.cat([torch.flatten(self.reduce(top), 1), top.mean(dim=(2, 3))], dim=1)
        z = self.fc(z)
        flags = self.flags(z)
        return (
            mask,
            self.margin(z) / self.config.margin_temperature,
            self.notch(z),
            self.spicule_clock(z),
            F.softplus(self.spicule_length(z)),
            F.softplus(self.spicule_count(z)),
            flags[:, 0:1],
            flags[:, 1:2],
            torch.exp(self.log_diameter(z).clamp(-2.0, 5.0)),
        )

    def named_outputs(self, crops: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(OUTPUT_NAMES, self.forward(crops), strict=True))


def load_reader(path: Any) -> LesionReaderNet:
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = LesionReaderNet(ReaderConfig.from_dict(blob["config"]))
    model.load_state_dict(blob["model"])
    return model.eval()


def save_reader(model: LesionReaderNet, path: Any, meta: dict[str, Any] | None = None) -> None:
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": model.config.as_dict(), "meta": meta or {}}, path)


__all__ = ["INPUT_NAME", "LesionReaderNet", "ReaderConfig", "gaussian_kernel", "load_reader", "save_reader"]
