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


class IntegralKeypoints(nn.Module):
    """2D keypoints by integral regression (soft-argmax) over heatmaps at 1/4 resolution.

    A small feature pyramid brings the coarse stages' context down to the stride-4 features
    (top-down, with lateral 1x1 projections): telling a left wrist from a right one needs the
    whole body, placing it needs fine detail. The expected position under each joint's
    softmax is differentiable and sub-pixel.
    """

    def __init__(
        self, widths: tuple[int, ...], joints: int, width: int = 64, fine: bool = False
    ) -> None:
        super().__init__()
        # Features after the stem and each stage; the heatmaps live on the second (stride 4
        # with the default stem), and every coarser level feeds it.
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False) for c in widths[1:])
        self.heatmap = nn.Sequential(
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, joints, 1),
        )
        # ``fine``: the maps are read out at the stem's resolution (twice as many cells per
        # side). A soft-argmax over coarse cells stays near half a cell off; only the 1x1
        # layers run at the fine level, so it costs little.
        self.fine = nn.Conv2d(widths[0], width, 1, bias=False) if fine else None

    def forward(self, features: list[torch.Tensor], size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints ``(B, J, 2)`` in the pixels of the ``size``-pixel input image, and the
        heatmaps ``(B, J, h, w)`` (a distribution over cells per joint) they come from."""
        levels = features[1:]
        top = self.lateral[-1](levels[-1])
        for lateral, feature in zip(self.lateral[-2::-1], levels[-2::-1], strict=True):
            top = lateral(feature) + nn.functional.interpolate(
                top, size=feature.shape[-2:], mode="nearest"
            )
        if self.fine is None:
            logits = self.heatmap(top).float()
        else:
            hidden = nn.functional.interpolate(
                self.heatmap[:-1](top), size=features[0].shape[-2:], mode="bilinear"
            )
            hidden = nn.functional.relu(hidden + self.fine(features[0]))
            logits = self.heatmap[-1](hidden).float()
        b, j, h, w = logits.shape
        prob = logits.flatten(2).softmax(-1).view(b, j, h, w)
        stride = size / w
        xs = (torch.arange(w, device=prob.device, dtype=prob.dtype) + 0.5) * stride - 0.5
        ys = (torch.arange(h, device=prob.device, dtype=prob.dtype) + 0.5) * stride - 0.5
        kp = torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], -1)
        return kp, prob


def heatmap_nll(
    prob: torch.Tensor, kp2d: torch.Tensor, visible: torch.Tensor, size: int, sigma: float = 1.0
) -> torch.Tensor:
    """Cross-entropy of heatmaps ``(B, J, h, w)`` against Gaussians at labels ``(B, J, 2)``.

    The labels are in the pixels of the ``size``-pixel image; ``sigma`` is in heatmap cells.
    Soft-argmax alone learns slowly (the mean of a spread-out map can sit on the target);
    pulling each map towards a peak at the label is the DSNT regulariser (Nibali et al.
    2018) and is computed from the 2D labels only.
    """
    h, w = prob.shape[-2:]
    cells = (kp2d + 0.5) * (w / size) - 0.5
    xs = torch.arange(w, device=prob.device, dtype=prob.dtype)
    ys = torch.arange(h, device=prob.device, dtype=prob.dtype)
    gx = torch.exp(-0.5 * ((xs - cells[..., :1]) / sigma) ** 2)  # (B, J, w)
    gy = torch.exp(-0.5 * ((ys - cells[..., 1:]) / sigma) ** 2)  # (B, J, h)
    target = gy[..., :, None] * gx[..., None, :]
    target = target / target.sum((-1, -2), keepdim=True).clamp_min(1e-12)
    nll = -(target * prob.clamp_min(1e-12).log()).sum((-1, -2))
    vis = visible.to(nll.dtype)
    return (nll * vis).sum() / vis.sum().clamp_min(1.0)
