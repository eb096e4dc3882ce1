"""The renderer: the body is drawn where its joints project, K scales with the image, a crop
is the same picture as the box's region of the full frame, and the body shows which way it faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.data.boxes import boxes_from_keypoints
from epoch_kedro.data.synthetic.render import (
    RendererConfig,
    _front_cues,
    render_batch,
    render_crops,
    render_dataset,
    scale_intrinsics,
    select_frames,
)
from epoch_kedro.datasets import NpyDataset
from epoch_kedro.geometry import project, rot_x, rot_z, world_to_camera
from epoch_kedro.skeleton import JOINT_INDEX, rest_pose

CLEAN = RendererConfig(size=96, noise_std=0.0, blur=False)


def _render(data, rows, config=CLEAN, pose=None):
    K = scale_intrinsics(data["K"][rows], data["image_size"][rows], config.size)
    pose = data["pose3d_world"][rows] if pose is None else pose
    images = render_batch(
        pose, K, data["R"][rows], data["t"][rows], data["subject"][rows], rows, config
    )
    return images, K


def _behind_the_camera(data, rows=None):
    """World poses of ``rows`` moved 50 m behind their camera: renders show background only."""
    rows = np.arange(len(data["kp2d"])) if rows is None else rows
    behind = data["pose3d_world"][rows].copy()
    centre = -np.einsum("nji,nj->ni", data["R"][rows], data["t"][rows])
    axis = data["R"][rows][:, 2]  # optical axis in world coordinates
    behind += (centre - 50.0 * axis)[:, None] - behind[:, :1]
    return behind


def test_projected_joints_fall_on_drawn_body_pixels(synthetic_small):
    rows = np.arange(0, len(synthetic_small["kp2d"]), 7)[:40]
    images, K = _render(synthetic_small, rows)
    # The same scene with the person moved far behind the camera: background only.
    background, _ = _render(synthetic_small, rows, pose=_behind_the_camera(synthetic_small, rows))
    body = np.any(images != background, axis=-1)
    X = world_to_camera(
        synthetic_small["pose3d_world"][rows].astype(np.float64),
        synthetic_small["R"][rows],
        synthetic_small["t"][rows],
    )
    u = np.round(project(X, K)).astype(int)
    inside = np.all((u >= 0) & (u < CLEAN.size), axis=-1)
    n, j = np.nonzero(inside)
    hits = body[n, u[n, j, 1], u[n, j, 0]]
    assert inside.sum() > 300
    assert hits.mean() > 0.97
    assert 0.005 < body.mean() < 0.5  # a person, not an empty or a flooded frame


def test_scaled_intrinsics_match_resizing_the_full_frame(synthetic_small):
    rows = np.arange(10)
    K = scale_intrinsics(synthetic_small["K"][rows], synthetic_small["image_size"][rows], 128)
    X = world_to_camera(
        synthetic_small["pose3d_world"][rows].astype(np.float64),
        synthetic_small["R"][rows],
        synthetic_small["t"][rows],
    )
    s = 128 / synthetic_small["image_size"][rows][:, None, :]
    np.testing.assert_allclose(
        project(X, K), (synthetic_small["kp2d"][rows] + 0.5) * s - 0.5, atol=1e-3
    )


ROWS = np.array([0, 50, 100, 200, 333, 500])


def _frame_regions(data, size: int, n: int):
    """For each of ``ROWS``: the top-left pixel of an ``n``-pixel square of a ``size``-pixel full
    render around the person, and the full-frame box covering exactly that square."""
    scale = size / data["image_size"][ROWS].astype(np.float64)
    kp = (data["kp2d"][ROWS] + 0.5) * scale[:, None] - 0.5  # in the resized frame's pixels
    corner = np.clip(np.round((kp.min(1) + kp.max(1)) / 2 - n / 2).astype(int), 0, size - n)
    # Resized pixels [a, a + n) span the frame's [a / s - 0.5, (a + n) / s - 0.5].
    centre = (corner + n / 2) / scale - 0.5
    return corner, np.column_stack([centre, n / scale[:, 0]])


@pytest.mark.parametrize("size, n", [(90, 40), (256, 64)])
def test_a_crop_is_the_same_picture_as_the_region_of_the_full_frame(synthetic_small, size, n):
    full, _ = render_dataset(
        synthetic_small, ROWS, RendererConfig(size=size, noise_std=0, blur=False)
    )
    corner, boxes = _frame_regions(synthetic_small, size, n)
    config = RendererConfig(size=n, noise_std=0.0, blur=False)
    crops = render_crops(synthetic_small, ROWS, boxes, config).astype(float)
    regions = np.stack([full[i, y : y + n, x : x + n] for i, (x, y) in enumerate(corner)]).astype(
        float
    )
    background = render_crops(
        {**synthetic_small, "pose3d_world": _behind_the_camera(synthetic_small)},
        ROWS,
        boxes,
        config,
    )
    body = np.any(crops != background, axis=-1)
    assert body.mean() > 0.1  # the boxes hold the person
    # The body is drawn with the same rays: identical pixels.
    assert np.abs(crops - regions).max(-1)[body].mean() < 0.5
    # Frames of 96 px and more draw the (smooth) background at half resolution, crops of
    # 64 px at full resolution: small differences there, none below 96 px.
    error = np.abs(crops - regions).mean()
    assert error < (0.5 if size < 96 else 12.0), error
    # A region one 2 px step off does not match the body.
    shifted = np.stack(
        [full[i, y : y + n, x + 2 : x + 2 + n] for i, (x, y) in enumerate(corner)]
    ).astype(float)
    assert np.abs(crops - shifted).max(-1)[body].mean() > 10


def test_a_label_box_crop_has_the_person_in_its_centre(synthetic_small):
    rows = np.arange(0, len(synthetic_small["kp2d"]), 9)
    boxes = boxes_from_keypoints(synthetic_small["kp2d"][rows], synthetic_small["visible"][rows])
    config = RendererConfig(size=48, noise_std=0.0, blur=False)
    crops = render_crops(synthetic_small, rows, boxes, config)
    assert crops.shape == (len(rows), 48, 48, 3) and crops.dtype == np.uint8
    moved = {**synthetic_small, "pose3d_world": _behind_the_camera(synthetic_small)}
    body = np.any(crops != render_crops(moved, rows, boxes, config), axis=-1)
    ys, xs = np.indices((48, 48))
    for mask in body:
        x0, x1, y0, y1 = xs[mask].min(), xs[mask].max(), ys[mask].min(), ys[mask].max()
        # The drawn body's extent is centred (within 2 px of 48) ...
        assert abs((x0 + x1) / 2 - 23.5) <= 2 and abs((y0 + y1) / 2 - 23.5) <= 2
        # ... and fills about 1 / margin of the box, plus the limbs' thickness.
        assert 0.65 <= max(x1 - x0 + 1, y1 - y0 + 1) / 48 <= 0.98
        assert mask[20:28, 20:28].mean() > 0.15  # body around the centre (less when sprawled)
    # Jitter-free crops are deterministic, whatever the batch.
    again = render_crops(synthetic_small, rows[3:5], boxes[3:5], config)
    np.testing.assert_array_equal(again, crops[3:5])


def _posed(azimuth: float, lean_deg: float) -> tuple[torch.Tensor, np.ndarray]:
    """The rest pose turned about the vertical and leaning forward, 1 m above the floor;
    and its true forward direction in the world."""
    R = rot_z(azimuth) @ rot_x(np.deg2rad(-lean_deg))  # lean: forward tilts down
    pose = rest_pose() @ R.T + np.array([2.0, -1.0, 1.0])
    return torch.as_tensor(pose[None], dtype=torch.float32), R @ np.array([0.0, 1.0, 0.0])


@pytest.mark.parametrize("azimuth", [0.0, 1.0, 2.5, -2.0])
@pytest.mark.parametrize("lean_deg", [0.0, 20.0])
def test_hair_is_behind_the_head_and_toes_in_front_of_the_feet(azimuth, lean_deg):
    pose, forward = _posed(azimuth, lean_deg)
    hair, ltoe, rtoe = _front_cues(pose)[0].numpy()
    joints = pose[0].numpy()
    to_hair = hair - joints[JOINT_INDEX["Head"]]
    assert to_hair @ forward < -0.04  # 4.5 cm behind the head's centre
    np.testing.assert_allclose(np.linalg.norm(to_hair), 0.045, atol=1e-5)
    flat = forward * [1, 1, 0] / np.linalg.norm(forward[:2])
    for toe, foot in ((ltoe, "LFoot"), (rtoe, "RFoot")):
        to_toe = toe - joints[JOINT_INDEX[foot]]
        # Along the floor, in front of the ankle, a little lower: whatever the lean.
        np.testing.assert_allclose(to_toe[:2], 0.14 * flat[:2], atol=1e-5)
        assert to_toe[2] == pytest.approx(-0.03, abs=1e-5)


def test_front_cues_of_synthetic_people_face_where_their_nose_points(synthetic_small):
    """Upright motions: the hair sits opposite the nose (the H36M "Neck" joint) from the head."""
    upright = np.isin(synthetic_small["action"], ["walking", "waving", "turning"])
    poses = synthetic_small["pose3d_world"][upright].astype(np.float64)
    cues = _front_cues(torch.as_tensor(poses, dtype=torch.float32)).numpy()
    head, nose = poses[:, JOINT_INDEX["Head"]], poses[:, JOINT_INDEX["Neck"]]
    facing = (nose - head) * [1, 1, 0]
    assert np.all(np.einsum("ni,ni->n", cues[:, 0] - head, facing) < 0)
    for k, foot in ((1, "LFoot"), (2, "RFoot")):
        to_toe = cues[:, k] - poses[:, JOINT_INDEX[foot]]
        assert np.all(np.einsum("ni,ni->n", to_toe, facing) > 0)


def test_images_do_not_depend_on_batching(synthetic_small):
    rows = np.arange(12)
    whole = render_dataset(
        synthetic_small, rows, RendererConfig(size=32, noise_std=0.0, batch_size=12)
    )[0]
    pieces = render_dataset(
        synthetic_small, rows, RendererConfig(size=32, noise_std=0.0, batch_size=5)
    )[0]
    np.testing.assert_array_equal(whole, pieces)
    assert whole.dtype == np.uint8 and whole.shape == (12, 32, 32, 3)


def test_frame_selection(synthetic_small):
    rows = select_frames(synthetic_small, 4)
    assert np.all(synthetic_small["frame"][rows] % 4 == 0)
    assert len(rows) == np.sum(synthetic_small["frame"] % 4 == 0)
    with pytest.raises(ValueError, match="frame_stride must be >= 1"):
        select_frames(synthetic_small, 0)


def test_npy_dataset_memory_maps(tmp_path):
    array = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    ds = NpyDataset(filepath=str(tmp_path / "images.npy"))
    ds.save(array)
    loaded = ds.load()
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, array)
    assert not loaded.flags.writeable
