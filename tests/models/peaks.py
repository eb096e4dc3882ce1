"""A stand-in heatmap head for tests: logits peaked at chosen cells, whatever the image."""

from __future__ import annotations

import torch


class Peak(torch.nn.Module):
    """Replaces ``IntegralKeypoints.heatmap``: every joint's logits peak at ``cells`` (row, col).

    Several cells share the mass equally, so their soft-argmax is the mean of their centres.
    """

    def __init__(self, cells: list[tuple[int, int]]) -> None:
        super().__init__()
        self.cells = cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((x.shape[0], 17, *x.shape[-2:]), -50.0)
        for row, col in self.cells:
            logits[:, :, row, col] = 50.0
        return logits
