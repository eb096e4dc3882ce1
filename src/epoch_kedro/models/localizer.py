"""The localiser: a small full-frame network whose 2D pose gives the person's box.

It reads the whole frame at low resolution (the person may be 10-25 px tall there), which is
enough to place a box: RegNet then reads the person at full detail in that box's crop. Its only
label is the 2D keypoints, like RegNet's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from epoch_kedro.models.backbone import Backbone, IntegralKeypoints
from epoch_kedro.skeleton import NUM_JOINTS


@dataclass(frozen=True)
class LocalizerConfig:
    """Architecture of the localiser."""

    image_size: int = 64  # full frames resized to image_size x image_size (render.size)
    widths: tuple[int, ...] = (16, 32, 64, 128)
    blocks: int = 1

    def to_dict(self) -> dict:
        """Plain dict (checkpoint-safe)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class Localizer(nn.Module):
    """Full frame ``(B, 3, S, S)`` in [0, 1] -> 2D keypoints ``(B, 17, 2)`` in its pixels,
    and the heatmaps ``(B, 17, h, w)`` they come from."""

    def __init__(self, config: LocalizerConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(tuple(config.widths), config.blocks)
        self.keypoints = IntegralKeypoints(tuple(config.widths), NUM_JOINTS, 32)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)
        return self.keypoints(features, images.shape[-1])
