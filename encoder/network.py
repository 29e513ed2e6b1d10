"""The anatomy encoder network: one 512x512 film in, anatomy / lesion / hilum maps out.

Sized for CPU serving (batch-1 under 150 ms on one core with ONNX Runtime). Where the FLOPs go:

- **Stride-4 stem.** Two stride-2 steps (a full 3x3 conv, then a depthwise-separable one) bring
  512x512 to 128x128 before any wide layer runs; the 256x256 stem features are kept only as a
  thin (16-channel) skip for the lesion head.
- **Depthwise-separable blocks** everywhere past the stem: a 3x3 depthwise conv plus a 1x1
  pointwise conv costs ~1/8 of a full 3x3 conv at these widths.
- **Output resolution per head.** Anatomy (17 classes, smooth regions) and the hilum heatmaps
  come out at 1/4 resolution (128x128); only the lesion head, which needs contours, goes back
  up to 1/2 resolution (256x256) and it does so with 16 channels.
- A global-context branch (mean pool at 1/32) lets lobe/side decisions see the whole film.

**Anatomy-aware lesion head.** The lesion branch is gated by the anatomy logits:
``gate = sigmoid(conv1x1(anatomy_logits))`` multiplies the decoder features channel by channel
before the lesion head. What it buys: the lesion head knows, per pixel, whether it is inside a
lung field, on a rib or clavicle crossing, behind the heart or below the diaphragm — so bright
non-lesion structures outside the lungs (bone crossings, heart border, mediastinum) are
suppressed without the head having to re-learn anatomy from pixels, and lesion probability is
conditioned on where it sits. The effect is measured by ``hilum evaluate --gate-off`` (the same
weights with the gate forced open), numbers in ``encoder/weights/TRAINING.md``.

The tensor contract (input and output names, sizes, strides, class and side order) is
serving's, in ``orchestrator/contracts/encoder.py``; this network honours it.

Outputs (logits, float32):
    ``anatomy``  (N, C, 128, 128)  multi-label anatomy, channels in ANATOMY_CLASSES order
    ``lesion``   (N, 1, 256, 256)  lesion mask logits
    ``hilum``    (N, 2, 128, 128)  hilum keypoint heatmap logits (right, left): a spatial
                                   softmax over each channel gives the point distribution
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from orchestrator.contracts.encoder import ANATOMY_CLASSES, HILUM_SIDES, INPUT_SIZE


@dataclass(frozen=True)
class NetworkConfig:
    num_classes: int = len(ANATOMY_CLASSES)
    stem: int = 16  # 1/2 resolution
    widths: tuple[int, int, int, int] = (32, 64, 128, 192)  # 1/4, 1/8, 1/16, 1/32
    blocks: tuple[int, int, int, int] = (1, 2, 3, 2)
    decoder: int = 64
    lesion: int = 16  # lesion-head channels (1/4 and 1/2 resolution)
    lesion_fine_blocks: int = 1  # separable blocks at 1/2 resolution: more see thin, faint lines

    @classmethod
    def from_dict(cls, stored: dict[str, object]) -> NetworkConfig:
        """Parse back ``dataclasses.asdict(config)`` as a checkpoint stores it (lists -> tuples);
        keys a newer network added take their defaults, so older checkpoints still load."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})


class ConvBNAct(nn.Sequential):
    def __init__(
        self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1,
        act: bool = True,
    ) -> None:
        pad = dilation * (k - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class SeparableBlock(nn.Module):
    """3x3 depthwise + 1x1 pointwise, residual when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = ConvBNAct(cin, cin, 3, stride, groups=cin, dilation=dilation)
        self.pw = ConvBNAct(cin, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return F.relu(y + x if self.residual else y)


def _stage(cin: int, cout: int, blocks: int, dilate_last: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [SeparableBlock(cin, cout, stride=2)]
    for i in range(1, blocks):
        dilation = 2 if dilate_last and i == blocks - 1 else 1
        layers.append(SeparableBlock(cout, cout, dilation=dilation))
    return nn.Sequential(*layers)


def _up(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)


class AnatomyEncoderNet(nn.Module):
    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        cfg = config or NetworkConfig()
        self.config = cfg
        w1, w2, w3, w4 = cfg.widths
        b1, b2, b3, b4 = cfg.blocks
        d = cfg.decoder
        self.stem1 = ConvBNAct(1, cfg.stem, 3, stride=2)  # 256
        self.stem2 = SeparableBlock(cfg.stem, w1, stride=2)  # 128
        self.stage1 = nn.Sequential(*[SeparableBlock(w1, w1) for _ in range(b1)])  # 128
        self.stage2 = _stage(w1, w2, b2)  # 64
        self.stage3 = _stage(w2, w3, b3)  # 32
        self.stage4 = _stage(w3, w4, b4, dilate_last=True)  # 16
        self.context = nn.Conv2d(w4, w4, 1)
        self.lat4 = ConvBNAct(w4, d, 1)
        self.lat3 = ConvBNAct(w3, d, 1)
        self.lat2 = ConvBNAct(w2, d, 1)
        self.lat1 = ConvBNAct(w1, d, 1)
        self.smooth3 = SeparableBlock(d, d)
        self.smooth2 = SeparableBlock(d, d)
        self.smooth1 = SeparableBlock(d, d)
        self.anatomy_head = nn.Conv2d(d, cfg.num_classes, 1)
        self.hilum_head = nn.Sequential(SeparableBlock(d, d), nn.Conv2d(d, len(HILUM_SIDES), 1))
        # anatomy-aware lesion head: channel gates computed from the anatomy logits
        self.lesion_gate = nn.Conv2d(cfg.num_classes, d, 1)
        nn.init.zeros_(self.lesion_gate.weight)
        nn.init.constant_(self.lesion_gate.bias, 2.0)  # starts open (sigmoid(2) = 0.88)
        self.lesion_mid = SeparableBlock(d + cfg.num_classes, cfg.lesion)
        self.lesion_skip = ConvBNAct(cfg.stem, cfg.lesion, 1)
        self.lesion_fine = SeparableBlock(cfg.lesion, cfg.lesion)
        # further 1/2-resolution blocks; empty (no parameters) at the default, so older checkpoints load
        self.lesion_refine = nn.Sequential(*[SeparableBlock(cfg.lesion, cfg.lesion) for _ in range(cfg.lesion_fine_blocks - 1)])
        self.lesion_head = nn.Conv2d(cfg.lesion, 1, 1)
        nn.init.constant_(self.lesion_head.bias, -4.0)  # lesions are rare: start near p = 0.02
        self.gate_enabled = True

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s1 = self.stem1(image)
        f1 = self.stage1(self.stem2(s1))
        f2 = self.stage2(f1)
        f3 = self.stage3(f2)
        f4 = self.stage4(f3)
        f4 = f4 + self.context(f4.mean(dim=(2, 3), keepdim=True))
        p4 = self.lat4(f4)
        p3 = self.smooth3(self.lat3(f3) + _up(p4))
        p2 = self.smooth2(self.lat2(f2) + _up(p3))
        p1 = self.smooth1(self.lat1(f1) + _up(p2))  # 128x128
        anatomy = self.anatomy_head(p1)
        hilum = self.hilum_head(p1)
        gated = p1 * torch.sigmoid(self.lesion_gate(anatomy)) if self.gate_enabled else p1
        lesion = self.lesion_mid(torch.cat([gated, anatomy], dim=1))
        lesion = self.lesion_refine(self.lesion_fine(_up(lesion) + self.lesion_skip(s1)))  # 256x256
        return anatomy, self.lesion_head(lesion), hilum


# the lesion branch: everything after the shared trunk that only the lesion output depends on
LESION_BRANCH: tuple[str, ...] = ("lesion_gate", "lesion_mid", "lesion_skip", "lesion_fine", "lesion_refine", "lesion_head")
TRAINABLE_PARTS: dict[str, tuple[str, ...]] = {"lesion": LESION_BRANCH}


def frozen_modules(model: nn.Module, part: str | None) -> list[nn.Module]:
    """The top-level modules a ``--train-only part`` run keeps as they are (none for None): their
    parameters take no gradient and their batch-norm statistics stay put (``train.py`` holds them in
    eval mode), so the maps they make (anatomy, hila) are the init weights' own, bit for bit."""
    if part is None:
        return []
    keep = TRAINABLE_PARTS[part]
    return [m for name, m in model.named_children() if name not in keep]


class MeanOfNets(nn.Module):
    """Several trained encoders read as one network: each output is the mean of the members' logits (for the lesion
    and anatomy maps, the geometric mean of their odds; for a hilum heatmap, the product of the members' point
    distributions). The same tensor contract, so serving, Triton and the fitted limits and tables see one set of
    weights. Members disagree most on the lesions each alone reports, so the mean keeps what they agree on
    (``encoder/weights/TRAINING.md``, "An ensemble second reader")."""

    def __init__(self, members: list[AnatomyEncoderNet]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = nn.ModuleList(members)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        outs = [m(image) for m in self.members]
        anatomy, lesion, hilum = (torch.stack([o[k] for o in outs]).mean(dim=0) for k in range(3))
        return anatomy, lesion, hilum


def build_network(config: NetworkConfig | None = None) -> AnatomyEncoderNet:
    return AnatomyEncoderNet(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, size: int = INPUT_SIZE) -> dict[str, float]:
    """Multiply-accumulates of conv layers (plus the elementwise rest ignored), batch 1.

    FLOPs = 2 x MACs. Counted with forward hooks on every Conv2d, so it is the real graph.
    """
    macs: list[float] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(module, nn.Conv2d)
        kh, kw = module.kernel_size
        per_out = (module.in_channels // module.groups) * kh * kw
        macs.append(float(output.numel() * per_out))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    model.train(was_training)
    for h in handles:
        h.remove()
    total = sum(macs)
    return {"macs": total, "flops": 2.0 * total, "conv_layers": float(len(macs))}
