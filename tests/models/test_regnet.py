"""RegNet: shapes, the full-frame projection it trains through, its box and its start."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from epoch_kedro.geometry import project, uncrop_pixels
from epoch_kedro.models.regnet import RegNet, RegNetConfig, box_features, log_focal_ratio
from epoch_kedro.skeleton import JOINT_INDEX, bone_lengths, rest_pose
from tests.models.peaks import Peak

CONFIG = RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=32, context_widths=())
#: Person boxes (cx, cy, side) in full-frame pixels and the frames' (W, H): a wide frame, boxes
#: off its centre, of different sizes.
BOXES = torch.tensor([[400.0, 300.0, 64.0], [900.0, 520.0, 300.0], [120.0, 80.0, 48.0]])
FRAMES = torch.tensor([[1000.0, 600.0], [1000.0, 600.0], [640.0, 480.0]])


def make_model(seed: int = 0, bone_mean=None) -> RegNet:
    torch.manual_seed(seed)
    bones = np.full(16, 0.25) if bone_mean is None else bone_mean
    return RegNet(CONFIG, bones).eval()


def run(model: RegNet, n: int = 3, size: int = 32):
    torch.manual_seed(1)
    return model(torch.rand(n, 3, size, size), BOXES[:n], FRAMES[:n])


def test_outputs_are_consistent_with_the_pinhole_projection_in_the_full_frame():
    model = make_model()
    out = run(model)
    assert out.pose_body.shape == (3, 17, 3) and out.kp2d.shape == (3, 17, 2)
    assert out.kp2d_heat.shape == (3, 17, 2) and out.K.shape == (3, 3, 3)
    torch.testing.assert_close(out.kp2d, project(out.pose_cam, out.K), atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(torch.linalg.det(out.R), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(bone_lengths(out.pose_body).sum(-1), torch.full((3,), 4.0))
    torch.testing.assert_close(out.pose_body[:, 0], torch.zeros(3, 3))
    # K belongs to the full frame: focal relative to its width, principal point near its centre.
    width = FRAMES[:, 0]
    assert torch.all((out.K[:, :2, 2] - FRAMES / 2).abs() <= 0.05 * width[:, None] + 1e-4)
    torch.testing.assert_close(out.K[:, 0, 0], out.K[:, 1, 1])
    torch.testing.assert_close(out.K[:, 2], torch.tensor([[0.0, 0.0, 1.0]] * 3))
    torch.testing.assert_close(
        log_focal_ratio(out.K, width), torch.log(out.K[:, 0, 0] / width), atol=1e-6, rtol=0
    )


def test_starts_upright_and_facing_the_camera():
    out = run(make_model(), n=2)
    # Body up (z) maps to image up (-y), body forward (y) towards the camera (-z).
    torch.testing.assert_close(
        out.R[:, :, 2], torch.tensor([[0.0, -1.0, 0.0]] * 2), atol=0.02, rtol=0
    )
    torch.testing.assert_close(
        out.R[:, :, 1], torch.tensor([[0.0, 0.0, -1.0]] * 2), atol=0.02, rtol=0
    )
    torch.testing.assert_close(out.gravity, torch.tensor([[0.0, 1.0, 0.0]] * 2), atol=0.02, rtol=0)
    focal = out.K[:, 0, 0] / FRAMES[:2, 0]
    torch.testing.assert_close(focal, torch.full((2,), CONFIG.focal_prior), rtol=0.02, atol=0)
    torch.testing.assert_close(out.K[:, :2, 2], FRAMES[:2] / 2, rtol=0, atol=0.01 * 1000)


def test_root_starts_inside_its_box_at_the_box_depth():
    out = run(make_model())
    f = out.K[:, 0, 0]
    side = BOXES[:, 2]
    # A person who fills a box of side b starts about box_depth * f / b metres away ...
    torch.testing.assert_close(out.t[:, 2], CONFIG.box_depth * f / side, rtol=0.03, atol=0)
    # ... and the root projects inside the box (near its centre at the start).
    root_px = project(out.t[:, None], out.K)[:, 0]
    assert torch.all((root_px - BOXES[:, :2]).abs() < 0.5 * side[:, None])
    assert torch.all((root_px - BOXES[:, :2]).abs() < 0.1 * side[:, None])


def test_the_projected_body_starts_at_the_box_scale():
    """With real bone lengths, the start pose fills about 1 / margin of its box."""
    bones = bone_lengths(rest_pose())
    out = run(make_model(bone_mean=bones))
    extent = (out.kp2d.amax(1) - out.kp2d.amin(1)).amax(-1)
    ratio = extent / BOXES[:, 2]
    assert torch.all((ratio > 0.55) & (ratio < 0.9)), ratio
    # The same body in a box twice the size projects twice as large (it is nearer).
    torch.manual_seed(1)
    images = torch.rand(1, 3, 32, 32)
    model = make_model(bone_mean=bones)
    with torch.no_grad():
        small = model(images, torch.tensor([[500.0, 300.0, 100.0]]), FRAMES[:1]).kp2d[0]
        large = model(images, torch.tensor([[500.0, 300.0, 200.0]]), FRAMES[:1]).kp2d[0]
    height = [float(k[:, 1].max() - k[:, 1].min()) for k in (small, large)]
    assert height[1] / height[0] == pytest.approx(2.0, rel=0.05)


def test_starts_in_the_rest_pose_whatever_the_seed():
    """A seed-drawn start pose decided whether RegNet's 3D converged (seed 0) or collapsed."""
    poses = [run(make_model(seed), n=2).pose_body for seed in (0, 1)]
    rest = torch.as_tensor(rest_pose(), dtype=torch.float32)
    rest = rest * 4.0 / bone_lengths(rest).sum()  # normalised like the model's output
    for pose in poses:
        torch.testing.assert_close(pose, rest.expand(2, -1, -1), atol=0.02, rtol=0)
    assert pose[0, JOINT_INDEX["Head"], 2] > 0 > pose[0, JOINT_INDEX["RFoot"], 2]  # upright


def test_gradients_flow_from_the_2d_outputs_to_the_image_features():
    model = make_model().train()
    out = run(model)
    out.kp2d.sum().backward()
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0
    assert model.head.weight.grad.abs().sum() > 0
    model.zero_grad()
    out = run(model)
    out.kp2d_heat.sum().backward()
    assert model.keypoints.lateral[0].weight.grad.abs().sum() > 0
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0


def test_integral_regression_maps_a_peaked_heatmap_back_to_its_box():
    model = make_model()
    model.keypoints.heatmap = Peak([(2, 5)])  # row 2, column 5 of the 8 x 8 grid
    out = run(model)
    # 32 px crop, 8 x 8 heatmap: cell centres at (i + 0.5) * 4 - 0.5 crop pixels.
    crop_px = torch.tensor([21.5, 9.5]).expand(3, 17, 2)
    torch.testing.assert_close(out.kp2d_heat, uncrop_pixels(crop_px, BOXES, 32))
    # By hand for the first box (400, 300, 64): 2 frame pixels per crop pixel.
    torch.testing.assert_close(out.kp2d_heat[0, 0], torch.tensor([412.0, 288.0]))
    assert out.heatmap.shape == (3, 17, 8, 8)
    torch.testing.assert_close(out.heatmap.sum((-1, -2)), torch.ones(3, 17))
    assert out.heatmap[0, 0, 2, 5] > 0.99


def test_box_features_mirror_with_the_frame():
    features = box_features(BOXES, FRAMES)
    mirrored = BOXES.clone()
    mirrored[:, 0] = FRAMES[:, 0] - 1 - BOXES[:, 0]
    flipped = box_features(mirrored, FRAMES)
    torch.testing.assert_close(flipped[:, 0], -features[:, 0])
    torch.testing.assert_close(flipped[:, 1:], features[:, 1:])
    # A box at the frame's centre reads (0, 0); its side is relative to the frame width.
    centre = torch.tensor([[499.5, 299.5, 250.0]])
    torch.testing.assert_close(
        box_features(centre, FRAMES[:1]), torch.tensor([[0.0, 0.0, 0.25]]), atol=1e-6, rtol=0
    )
    assert torch.all(features[:, :2].abs() <= 1)


def test_the_box_reaches_the_network():
    """The same crop at another place of the frame gives another 3D / camera estimate."""
    model = make_model()
    torch.nn.init.normal_(model.head.weight, std=0.05)
    images = torch.rand(1, 3, 32, 32).expand(2, -1, -1, -1)
    boxes = torch.tensor([[200.0, 300.0, 100.0], [800.0, 300.0, 100.0]])
    out = model(images, boxes, FRAMES[:2])
    assert not torch.allclose(out.R[0], out.R[1], atol=1e-4)


def test_a_pooled_stem_takes_twice_the_image_at_the_same_feature_sizes():
    torch.manual_seed(0)
    pooled = RegNet(replace(CONFIG, image_size=64, stem_stride=4), np.full(16, 0.25)).eval()
    plain = make_model()
    assert pooled.backbone.downsample == 2 * plain.backbone.downsample
    big, small = pooled.backbone(torch.rand(2, 3, 64, 64)), plain.backbone(torch.rand(2, 3, 32, 32))
    assert [f.shape for f in big] == [f.shape for f in small]
    out = run(pooled, n=2, size=64)
    torch.testing.assert_close(out.kp2d, project(out.pose_cam, out.K), atol=1e-3, rtol=1e-4)
    assert out.kp2d_heat.shape == (2, 17, 2)
    # The heatmaps sit on an 8 x 8 grid of a 64 px crop: 8 crop pixels per cell.
    pooled.keypoints.heatmap = Peak([(2, 5)])
    out = run(pooled, n=1, size=64)
    expected = uncrop_pixels(torch.tensor([[[43.5, 19.5]]]), BOXES[:1], 64)
    torch.testing.assert_close(out.kp2d_heat[:, :1], expected)


def test_rejects_an_unsupported_stem_stride():
    with pytest.raises(ValueError, match="stem_stride must be 2 or 4, got 3"):
        RegNet(replace(CONFIG, stem_stride=3), np.full(16, 0.25))


def context_model(seed: int = 0) -> RegNet:
    torch.manual_seed(seed)
    config = replace(CONFIG, context_widths=(8, 16), context_size=16)
    return RegNet(config, np.full(16, 0.25)).eval()


def test_a_context_regnet_reads_the_full_frame_and_asks_for_it():
    model = context_model()
    crops, boxes, size = torch.rand(2, 3, 32, 32), torch.tensor([[500.0, 400, 300]] * 2), None
    size = torch.tensor([[1000.0, 800]] * 2)
    with pytest.raises(ValueError, match="pass frames"):
        model(crops, boxes, size)
    with torch.no_grad():  # a head that reads its inputs: only then can the frame matter
        torch.nn.init.normal_(model.head.weight, std=0.05)
    frames = torch.rand(2, 3, 16, 16)
    first, second = model(crops, boxes, size, frames), model(crops, boxes, size, 1 - frames)
    assert not torch.allclose(first.K, second.K)  # the camera depends on the frame
    torch.testing.assert_close(first.kp2d_heat, second.kp2d_heat)  # the sharp 2D on the crop
