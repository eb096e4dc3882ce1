"""The localiser: a low-resolution full frame -> 2D keypoints in its pixels, and heatmaps."""

from __future__ import annotations

import torch

from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from tests.models.peaks import Peak

CONFIG = LocalizerConfig(image_size=32, widths=(8, 16, 32))


def make_localizer(seed: int = 0) -> Localizer:
    torch.manual_seed(seed)
    return Localizer(CONFIG).eval()


def test_outputs_keypoints_in_the_frame_and_distributions():
    kp, heatmap = make_localizer()(torch.rand(3, 3, 32, 32))
    assert kp.shape == (3, 17, 2) and heatmap.shape == (3, 17, 8, 8)
    torch.testing.assert_close(heatmap.sum((-1, -2)), torch.ones(3, 17))
    assert torch.all((kp > -0.5) & (kp < 31.5))


def test_a_peaked_heatmap_gives_its_cell_centre_in_frame_pixels():
    model = make_localizer()
    model.keypoints.heatmap = Peak([(6, 1)])
    kp, _ = model(torch.rand(2, 3, 32, 32))
    # 8 x 8 grid on a 32 px frame: cell (row 6, column 1) is centred at (5.5, 25.5).
    torch.testing.assert_close(kp, torch.tensor([5.5, 25.5]).expand(2, 17, 2))


def test_larger_frames_give_larger_heatmaps():
    model = Localizer(LocalizerConfig(image_size=64, widths=(8, 16, 32))).eval()
    kp, heatmap = model(torch.rand(1, 3, 64, 64))
    assert heatmap.shape == (1, 17, 16, 16)
    assert torch.all((kp > -0.5) & (kp < 63.5))
    assert LocalizerConfig().to_dict()["widths"] == [16, 32, 64, 128]
