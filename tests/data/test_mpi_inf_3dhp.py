"""MPI-INF-3DHP test-set loader: v7.3 .mat files (both axis orders), round trip, bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from epoch_kedro.data import mpi_inf_3dhp
from epoch_kedro.data.formats import DatasetFormatError
from epoch_kedro.data.mpi_inf_3dhp import annot_path, load_mpi_inf_3dhp, read_images
from epoch_kedro.data.normalize import to_model_input
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.geometry import backproject

from .real_fixtures import camera_poses, mat_arrays, write_3dhp, write_mat

N = 24  # frames per fixture sequence; every 4th is invalid


def load_error(root, sequences: list[str]) -> str:
    """The message of the DatasetFormatError that loading ``sequences`` under ``root`` raises."""
    with pytest.raises(DatasetFormatError) as info:
        load_mpi_inf_3dhp(root, sequences)
    return str(info.value)


@pytest.fixture(scope="module", params=[False, True], ids=["row-major", "transposed"])
def root(request, synthetic_small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("3dhp")
    return write_3dhp(out, synthetic_small, ("TS1", "TS5"), N, transposed=request.param)


def test_loads_valid_frames_in_our_joint_order(root, synthetic_small) -> None:
    data = load_mpi_inf_3dhp(root, ["TS1", "TS5"])
    validate_dataset(data, "mpi_inf_3dhp")
    valid = np.flatnonzero(np.arange(N) % 4 != 3)
    assert len(data["kp2d"]) == 2 * len(valid)
    np.testing.assert_array_equal(data["frame"][: len(valid)], valid)
    truth = camera_poses(synthetic_small, N)[valid]
    split = to_model_input(data)
    # Joint order mapped back to ours: the camera-frame 3D is the pose we wrote.
    np.testing.assert_allclose(split["pose3d_cam"][: len(valid)], truth, atol=1e-4)
    # Metrics use univ_annot3 (here: 1.05 x about the root).
    univ = split["pose3d_metric_cam"][: len(valid)]
    np.testing.assert_allclose(univ - univ[:, :1], 1.05 * (truth - truth[:, :1]), atol=1e-4)
    assert data["action"][0] == "Standing/Walking" and data["action"][2] == "Sitting"
    assert not split["gravity"].any()  # extrinsics unknown: gravity fed as unknown
    np.testing.assert_array_equal(data["image_size"][0], [2048, 2048])
    np.testing.assert_array_equal(data["image_size"][-1], [1920, 1080])


def test_round_trip_with_distortion_within_1mm(root, synthetic_small) -> None:
    split = to_model_input(load_mpi_inf_3dhp(root, ["TS5"]))  # TS5: a distorted lens
    assert (split["dist"] != 0).any(axis=1).all()
    truth = camera_poses(synthetic_small, N)[np.arange(N) % 4 != 3]
    recovered = backproject(split["kp2d"], split["K"], truth[..., 2])
    assert (np.linalg.norm(recovered - truth, axis=-1) * 1000).max() < 1.0
    raw = backproject(split["kp2d_observed"], split["K"], truth[..., 2])
    assert (np.linalg.norm(raw - truth, axis=-1) * 1000).max() > 10.0


def test_frame_stride_over_valid_frames(root) -> None:
    data = load_mpi_inf_3dhp(root, ["TS1"], frame_stride={"TS1": 3})
    np.testing.assert_array_equal(data["frame"], np.flatnonzero(np.arange(N) % 4 != 3)[::3])


def test_images_are_read_and_resized(root, tmp_path) -> None:
    data = load_mpi_inf_3dhp(root, ["TS1"])
    assert not mpi_inf_3dhp.has_images(root, data)
    pictures = tmp_path / "TS1" / "imageSequence"
    pictures.mkdir(parents=True)
    for frame in data["frame"][:2]:
        pixels = np.zeros((2048, 2048, 3), np.uint8)
        pixels[:, 1024:] = 255  # right half white
        Image.fromarray(pixels).save(pictures / f"img_{frame + 1:06d}.jpg")
    assert mpi_inf_3dhp.has_images(tmp_path, data)
    images, K = read_images(tmp_path, data, np.arange(2), 32)
    assert images.shape == (2, 32, 32, 3)
    assert images[:, :, :12].max() < 40 and images[:, :, 20:].min() > 215
    np.testing.assert_allclose(K[0, 0, 0], 1500.172 * 32 / 2048, rtol=1e-6)
    with pytest.raises(DatasetFormatError, match=r"img_000003\.jpg: image of valid frame 2"):
        read_images(tmp_path, data, np.arange(3), 32)


def test_crops_are_cut_at_full_frame_boxes(root, tmp_path) -> None:
    data = load_mpi_inf_3dhp(root, ["TS1"])
    pictures = tmp_path / "TS1" / "imageSequence"
    pictures.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for frame in data["frame"][:2]:
        pixels = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(pictures / f"img_{frame + 1:06d}.jpg", quality=95)
    with Image.open(pictures / f"img_{data['frame'][0] + 1:06d}.jpg") as image:
        decoded = np.asarray(image.convert("RGB")).astype(float)
    # Pixel centres sit at integer coordinates: a box of side 32 centred at (99.5, 79.5) spans
    # [83.5, 115.5] x [63.5, 95.5], exactly frame pixels 84..115 x 64..95.
    boxes = np.array([[99.5, 79.5, 32.0]] * 2)
    crops = mpi_inf_3dhp.read_crops(tmp_path, data, np.array([0, 1]), boxes, 32)
    assert crops.shape == (2, 32, 32, 3) and crops.dtype == np.uint8
    np.testing.assert_allclose(crops[0], decoded[64:96, 84:116], atol=1)
    assert np.abs(crops[1] - decoded[64:96, 84:116]).mean() > 20  # another frame's picture

    def quads(region):  # the mean of each 2 x 2 block
        return (region[::2, ::2] + region[1::2, ::2] + region[::2, 1::2] + region[1::2, 1::2]) / 4

    # Half a pixel further, each crop pixel sits between four frame pixels.
    moved = mpi_inf_3dhp.read_crops(tmp_path, data, np.array([0]), np.array([[100, 80, 32]]), 32)
    shifted = (
        decoded[64:96, 84:116]
        + decoded[65:97, 84:116]
        + decoded[64:96, 85:117]
        + decoded[65:97, 85:117]
    ) / 4
    np.testing.assert_allclose(moved[0], shifted, atol=1.5)
    # Twice the side at the same size: the region resized with an antialiasing filter, so the
    # white-noise frame comes out smoother than any 2 x 2 sampling of it would.
    half = mpi_inf_3dhp.read_crops(tmp_path, data, np.array([0]), np.array([[99.5, 79.5, 64]]), 32)
    region = Image.fromarray(decoded[48:112, 68:132].astype(np.uint8))
    np.testing.assert_allclose(half[0], np.asarray(region.resize((32, 32), Image.BILINEAR)), atol=1)
    assert half[0].std() < 0.8 * quads(decoded[48:112, 68:132]).std()
    # What lies outside the frame is black: the right half of a box on the right edge.
    edge = mpi_inf_3dhp.read_crops(tmp_path, data, np.array([0]), np.array([[239.5, 100, 32]]), 32)
    assert edge[0, :, 17:].max() == 0 and edge[0, :, :15].mean() > 60
    with pytest.raises(DatasetFormatError, match=r"img_000003\.jpg: image of valid frame 2"):
        mpi_inf_3dhp.read_crops(tmp_path, data, np.arange(3), np.array([[100, 80, 32]] * 3), 32)


# ---- malformed files: each error names the file, the key and the expected shape -----------


def fixture_arrays(synthetic_small) -> dict[str, np.ndarray]:
    poses = camera_poses(synthetic_small, 8)
    return mat_arrays(poses, "TS1", np.ones(8), np.ones(8))


def test_missing_key(synthetic_small, tmp_path) -> None:
    arrays = fixture_arrays(synthetic_small)
    del arrays["univ_annot3"]
    path = write_mat(annot_path(tmp_path, "TS1"), arrays)
    msg = load_error(tmp_path, ["TS1"])
    assert str(path) in msg and "missing key 'univ_annot3'" in msg


def test_missing_sequence(synthetic_small, tmp_path) -> None:
    write_mat(annot_path(tmp_path, "TS1"), fixture_arrays(synthetic_small))
    msg = load_error(tmp_path, ["TS1", "TS2"])
    assert str(annot_path(tmp_path, "TS2")) in msg and "not found" in msg and "annot2" in msg


def test_wrong_joint_count(synthetic_small, tmp_path) -> None:
    arrays = fixture_arrays(synthetic_small)
    arrays["annot3"] = arrays["annot3"][:, :, :14]  # the 14-joint subset some exports keep
    path = write_mat(annot_path(tmp_path, "TS1"), arrays)
    msg = load_error(tmp_path, ["TS1"])
    assert str(path) in msg and "key 'annot3'" in msg
    assert "shape (N, 1, 17, 3) or the axis-reversed (3, 17, 1, N) with N = 8" in msg
    assert "got shape (8, 1, 14, 3)" in msg


def test_wrong_axis_order(synthetic_small, tmp_path) -> None:
    arrays = fixture_arrays(synthetic_small)
    arrays["annot2"] = arrays["annot2"].transpose(0, 2, 1, 3)  # (N, 17, 1, 2): neither layout
    path = write_mat(annot_path(tmp_path, "TS1"), arrays)
    msg = load_error(tmp_path, ["TS1"])
    assert str(path) in msg and "key 'annot2'" in msg
    assert "(N, 1, 17, 2) or the axis-reversed (2, 17, 1, N)" in msg
    assert "got shape (8, 17, 1, 2)" in msg


def test_frame_count_mismatch(synthetic_small, tmp_path) -> None:
    arrays = fixture_arrays(synthetic_small)
    arrays["activity_annotation"] = arrays["activity_annotation"][:5]
    write_mat(annot_path(tmp_path, "TS1"), arrays)
    with pytest.raises(
        DatasetFormatError, match=r"'activity_annotation'.*N = 8.*got shape \(5, 1\)"
    ):
        load_mpi_inf_3dhp(tmp_path, ["TS1"])


def test_truncated_file(synthetic_small, tmp_path) -> None:
    path = write_mat(annot_path(tmp_path, "TS1"), fixture_arrays(synthetic_small))
    os.truncate(path, path.stat().st_size // 2)
    msg = load_error(tmp_path, ["TS1"])
    assert str(path) in msg and "truncated" in msg and "valid_frame (N, 1)" in msg


def test_unknown_activity_label(synthetic_small, tmp_path) -> None:
    arrays = fixture_arrays(synthetic_small)
    arrays["activity_annotation"][3] = 9
    write_mat(annot_path(tmp_path, "TS1"), arrays)
    with pytest.raises(DatasetFormatError, match=r"'activity_annotation'.*got 9 at valid frame 3"):
        load_mpi_inf_3dhp(tmp_path, ["TS1"])
