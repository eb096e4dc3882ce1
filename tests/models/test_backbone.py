"""Integral keypoints over a small feature pyramid, and the heatmap regulariser."""

from __future__ import annotations

import pytest
import torch

from epoch_kedro.models.backbone import Backbone, IntegralKeypoints, heatmap_nll

WIDTHS = (8, 16, 32)


def gaussian_maps(kp: torch.Tensor, size: int, cells: int, sigma: float = 1.0) -> torch.Tensor:
    """Normalised Gaussians ``(B, J, cells, cells)`` at pixels ``kp (B, J, 2)`` of a ``size`` image,
    written independently of the code under test (cell centres at (i + 0.5) * stride - 0.5)."""
    stride = size / cells
    centres = (torch.arange(cells, dtype=torch.float64) + 0.5) * stride - 0.5
    dx = (centres - kp[..., :1].double()) / stride
    dy = (centres - kp[..., 1:].double()) / stride
    maps = torch.exp(-0.5 * (dy[..., :, None] ** 2 + dx[..., None, :] ** 2) / sigma**2)
    return (maps / maps.sum((-1, -2), keepdim=True)).float()


def test_keypoints_read_the_finest_pyramid_level_and_are_distributions():
    torch.manual_seed(0)
    backbone, head = Backbone(WIDTHS), IntegralKeypoints(WIDTHS, 17, width=16)
    images = torch.rand(2, 3, 32, 32)
    kp, prob = head(backbone(images), 32)
    assert kp.shape == (2, 17, 2) and prob.shape == (2, 17, 8, 8)  # stride 4
    torch.testing.assert_close(prob.sum((-1, -2)), torch.ones(2, 17))
    assert torch.all(prob >= 0)
    assert torch.all((kp > -0.5) & (kp < 31.5))
    # The coarsest stage reaches the heatmaps (top-down path), not only the stride-4 one.
    kp.sum().backward()
    assert head.lateral[-1].weight.grad.abs().sum() > 0
    assert backbone.stages[-1][0].body[0].weight.grad.abs().sum() > 0


def test_fine_keypoints_read_out_at_the_stem_resolution_with_the_coarse_context():
    torch.manual_seed(0)
    backbone, head = Backbone(WIDTHS), IntegralKeypoints(WIDTHS, 17, width=16, fine=True)
    kp, prob = head(backbone(torch.rand(2, 3, 32, 32)), 32)
    assert prob.shape == (2, 17, 16, 16)  # stride 2
    torch.testing.assert_close(prob.sum((-1, -2)), torch.ones(2, 17))
    centres = (torch.arange(16.0) + 0.5) * 2 - 0.5
    torch.testing.assert_close(kp[..., 0], (prob.sum(-2) * centres).sum(-1))
    kp.sum().backward()
    for layer in (head.fine, head.heatmap[2], head.lateral[-1], backbone.stem[0]):
        assert layer.weight.grad.abs().sum() > 0


def test_soft_argmax_is_the_mean_of_the_heatmap():
    torch.manual_seed(0)
    head = IntegralKeypoints(WIDTHS, 2, width=16)
    features = Backbone(WIDTHS)(torch.rand(1, 3, 32, 32))
    kp, prob = head(features, 32)
    centres = (torch.arange(8.0) + 0.5) * 4 - 0.5
    expected_x = (prob.sum(-2) * centres).sum(-1)
    expected_y = (prob.sum(-1) * centres).sum(-1)
    torch.testing.assert_close(kp, torch.stack([expected_x, expected_y], -1))


def test_heatmap_nll_is_smallest_at_the_target_gaussian():
    kp = torch.tensor([[[10.3, 20.7], [3.0, 28.0]]])
    visible = torch.ones(1, 2, dtype=torch.bool)
    target = gaussian_maps(kp, 32, 8)
    best = heatmap_nll(target, kp, visible, 32)
    # Cross-entropy against the map itself is its entropy: every other map scores higher.
    entropy = -(target * target.clamp_min(1e-12).log()).sum((-1, -2)).mean()
    torch.testing.assert_close(best, entropy, atol=1e-4, rtol=0)
    shifted = gaussian_maps(kp + torch.tensor([4.0, 0.0]), 32, 8)
    far = gaussian_maps(kp + torch.tensor([8.0, -8.0]), 32, 8)
    wide = gaussian_maps(kp, 32, 8, sigma=2.0)
    uniform = torch.full_like(target, 1 / 64)
    losses = [heatmap_nll(m, kp, visible, 32) for m in (shifted, far, wide, uniform)]
    assert all(loss > best + 0.05 for loss in losses), (best, losses)
    assert losses[1] > losses[0]  # farther off, worse


def test_heatmap_nll_ignores_invisible_joints():
    kp = torch.tensor([[[10.0, 12.0], [20.0, 5.0]]])
    good = gaussian_maps(kp, 32, 8)
    bad = good.clone()
    bad[0, 1] = gaussian_maps(kp[:, 1:] + torch.tensor([12.0, 12.0]), 32, 8)[0, 0]
    both = torch.ones(1, 2, dtype=torch.bool)
    first = torch.tensor([[True, False]])
    assert heatmap_nll(bad, kp, both, 32) > heatmap_nll(good, kp, both, 32) + 1
    torch.testing.assert_close(heatmap_nll(bad, kp, first, 32), heatmap_nll(good, kp, first, 32))
    torch.testing.assert_close(
        heatmap_nll(bad, kp, first, 32), heatmap_nll(good[:, :1], kp[:, :1], first[:, :1], 32)
    )
    none = torch.zeros(1, 2, dtype=torch.bool)
    assert heatmap_nll(bad, kp, none, 32).item() == 0.0


@pytest.mark.parametrize("size, cells", [(32, 8), (64, 16)])
def test_heatmap_nll_labels_are_in_image_pixels(size, cells):
    """The same label in a larger image lands in the same relative cell."""
    kp = torch.tensor([[[0.3 * size, 0.6 * size]]])
    target = gaussian_maps(kp, size, cells)
    visible = torch.ones(1, 1, dtype=torch.bool)
    best = heatmap_nll(target, kp, visible, size)
    off = heatmap_nll(target, kp + size / cells, visible, size)  # one cell off
    assert off > best + 0.5
