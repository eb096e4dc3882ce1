"""A compact ResNet-style CNN (torchvision is not available beside the CPU torch wheel)."""

from __future__ import annotations

import itertools

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a (projected when needed) identity skip."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class Backbone(nn.Module):
    """Stem + stages that halve the resolution: ``(B, 3, S, S) -> (B, C, S/2^k, S/2^k)``.

    Two coordinate channels join the image so that the network knows *where* in the full frame
    things are: under perspective, position in the image changes how a body projects.
    """

    def __init__(
        self, widths: tuple[int, ...] = (32, 64, 128, 256), blocks: int = 1, stem_stride: int = 2
    ) -> None:
        super().__init__()
        if stem_stride not in (2, 4):
            raise ValueError(f"stem_stride must be 2 or 4, got {stem_stride}")
        # Stride 4 (a ResNet-style max-pool after the first convolution) lets a larger image in
        # at the cost of the smaller one: only the stem's convolution sees the extra pixels.
        pool = [nn.MaxPool2d(3, 2, 1)] if stem_stride == 4 else []
        self.stem = nn.Sequential(
            nn.Conv2d(5, widths[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            *pool,
        )
        stages = []
        for c_in, c_out in itertools.pairwise(widths):
            layers = [BasicBlock(c_in, c_out, 2)] + [
                BasicBlock(c_out, c_out) for _ in range(blocks - 1)
            ]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.out_channels = widths[-1]
        self.downsample = stem_stride * 2 ** (len(widths) - 1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after the stem and after each stage, finest first."""
        b, _, h, w = images.shape
        ys = torch.linspace(-1, 1, h, device=images.device, dtype=images.dtype)
        xs = torch.linspace(-1, 1, w, device=images.device, dtype=images.dtype)
        coords = torch.stack(torch.meshgrid(ys, xs, indexing="ij")).expand(b, 2, h, w)
        features = [self.stem(torch.cat([images, coords], 1))]
        for stage in self.stages:
            features.append(stage(features[-1]))
        return features
