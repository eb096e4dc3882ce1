"""The renderer: the body is drawn where its joints project, K scales with the image."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.synthetic.render import (
    RenderConfig,
    render_batch,
    render_dataset,
    scale_intrinsics,
    select_frames,
)
from epoch_kedro.datasets import NpyDataset
from epoch_kedro.geometry import project, world_to_camera

CLEAN = RenderConfig(size=96, noise_std=0.0, blur=False)


def _render(data, rows, config=CLEAN, pose=None):
    K = scale_intrinsics(data["K"][rows], data["image_size"][rows], config.size)
    pose = data["pose3d_world"][rows] if pose is None else pose
    images = render_batch(
        pose, K, data["R"][rows], data["t"][rows], data["subject"][rows], rows, config
    )
    return images, K


def test_projected_joints_fall_on_drawn_body_pixels(synthetic_small):
    rows = np.arange(0, len(synthetic_small["kp2d"]), 7)[:40]
    images, K = _render(synthetic_small, rows)
    # The same scene with the person moved far behind the camera: background only.
    behind = synthetic_small["pose3d_world"][rows].copy()
    centre = -np.einsum("nji,nj->ni", synthetic_small["R"][rows], synthetic_small["t"][rows])
    axis = synthetic_small["R"][rows][:, 2]  # optical axis in world coordinates
    behind += (centre - 50.0 * axis)[:, None] - behind[:, :1]
    background, _ = _render(synthetic_small, rows, pose=behind)
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


def test_images_do_not_depend_on_batching(synthetic_small):
    rows = np.arange(12)
    whole = render_dataset(
        synthetic_small, rows, RenderConfig(size=32, noise_std=0.0, batch_size=12)
    )[0]
    pieces = render_dataset(
        synthetic_small, rows, RenderConfig(size=32, noise_std=0.0, batch_size=5)
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
