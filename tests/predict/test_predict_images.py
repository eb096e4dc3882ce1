"""`epoch-kedro predict` on image files: crops cut like the renderer draws them, cameras, errors,
pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from epoch_kedro.data.boxes import boxes_from_keypoints
from epoch_kedro.data.image_files import cut_crop
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops, render_dataset
from epoch_kedro.errors import EpochError
from epoch_kedro.geometry import resize_intrinsics
from epoch_kedro.predict import PredictError, camera_from_options, main, predict


@pytest.fixture
def models(tiny_liftnet_path, tiny_image_models):
    regnet, localizer = tiny_image_models
    return {"liftnet": tiny_liftnet_path, "regnet": regnet, "localizer": localizer}


def _images(folder, sizes, rng) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (w, h) in enumerate(sizes):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        path = folder / f"frame_{i:04d}.{'png' if i % 2 == 0 else 'jpg'}"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def test_a_cut_crop_is_the_crop_the_renderer_draws(synthetic_small):
    """RegNet trains on crops rendered with the crop's exact K; predict cuts them from the
    full-resolution image. Both must show the same picture at the same place. The renderer
    samples one point per pixel, the cut is antialiased: compare with a crop rendered at 4x
    and box-filtered."""
    data = {k: v.copy() for k, v in synthetic_small.items()}
    rows = np.arange(0, 40, 10)
    full = 400
    scale = full / data["image_size"][rows].astype(np.float64)
    data["K"][rows] = resize_intrinsics(data["K"][rows], scale)
    data["image_size"][rows] = full
    boxes = boxes_from_keypoints((data["kp2d"][rows] + 0.5) * scale[:, None] - 0.5)

    def config(size):
        return RendererConfig(size=size, noise_std=0.0, blur=False, seed=3)

    frames, _ = render_dataset(data, rows, config(full))
    fine = render_crops(data, rows, boxes, config(256))
    drawn = np.stack([np.asarray(Image.fromarray(x).resize((64, 64), Image.BOX)) for x in fine])

    def gap(dx):  # mean grey-level difference with the box moved by dx crop pixels
        moved = boxes + np.column_stack([dx * boxes[:, 2] / 64, 0 * boxes[:, :2]])
        cut = [cut_crop(Image.fromarray(f), b, 64) for f, b in zip(frames, moved, strict=True)]
        return np.abs(np.stack(cut).astype(float) - drawn).mean(axis=(1, 2, 3))

    assert gap(0).max() < 4.0, gap(0)  # measured 1.8 to 3.3
    assert (gap(-1) > 1.5 * gap(0)).all() and (gap(1) > 1.5 * gap(0)).all()


def test_predict_reads_images_of_any_size(models, tmp_path):
    rng = np.random.default_rng(0)
    _images(tmp_path / "clip", [(320, 240), (320, 240), (200, 300)], rng)
    summary = predict([str(tmp_path / "clip")], tmp_path / "out", **models)
    assert summary["lifted"] == 3 and summary["camera"] == "RegNet's estimate per image"
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["layout"] == "images" and document["camera"]["K"] is None
    record = document["predictions"][2]
    assert record["frame"] == 2 and np.array(record["K"]).shape == (3, 3)
    arrays = np.load(tmp_path / "out/predictions.npz")
    np.testing.assert_array_equal(arrays["image_size"], [[320, 240], [320, 240], [200, 300]])
    assert arrays["pose3d"].shape == (3, 17, 3) and arrays["confidence"].shape == (3, 17)
    assert ((arrays["confidence"] > 0) & (arrays["confidence"] <= 1)).all()


def test_a_camera_for_images_replaces_regnets_and_must_fit_their_size(models, tmp_path):
    rng = np.random.default_rng(1)
    _images(tmp_path / "clip", [(320, 240)] * 2, rng)
    summary = predict([str(tmp_path / "clip")], tmp_path / "out", camera=camera_from_options(
        fov=90.0), same_camera=True, **models)  # fmt: skip
    K = np.load(tmp_path / "out/predictions.npz")["K"]
    np.testing.assert_allclose(K[:, 0, 0], 160.0)  # 90 deg over 320 px
    np.testing.assert_allclose(K[:, :2, 2], [[160, 120]] * 2)
    assert summary["camera"] == "--fov 90 deg"
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps({"K": [[300, 0, 320], [0, 300, 240], [0, 0, 1]],
                                  "image_size": [640, 480]}))  # fmt: skip
    with pytest.raises(PredictError, match=r"calibrated for 640x480 images, input 0 is 320x240"):
        predict([str(tmp_path / "clip")], tmp_path / "out2",
                camera=camera_from_options(str(camera)), **models)  # fmt: skip
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


def test_same_camera_pools_regnets_estimates_per_folder(models, tmp_path):
    rng = np.random.default_rng(2)
    _images(tmp_path / "a", [(320, 240)] * 3, rng)
    _images(tmp_path / "b", [(320, 240)] * 2, rng)
    predict([str(tmp_path / "a"), str(tmp_path / "b")], tmp_path / "out", same_camera=True,
            **models)  # fmt: skip
    K = np.load(tmp_path / "out/predictions.npz")["K"]
    assert np.ptp(K[:3, 0, 0]) == 0 and np.ptp(K[3:, 0, 0]) == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / "in").mkdir() or (p / "in/x.png").write_bytes(b"junk"),
         r"x.png: not a readable PNG/JPEG image"),
        (lambda p: (p / "in").mkdir(), r"in: no keypoint files .* or images"),
        (lambda p: _images(p / "in", [(64, 64)], np.random.default_rng(0))
         and (p / "in/poses.npz").write_bytes(b""),
         r"poses.npz: images and keypoint files cannot be mixed"),
    ],
)  # fmt: skip
def test_bad_images_give_one_line_and_write_nothing(make, message, models, tmp_path):
    make(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out/keep.txt").write_text("earlier results")
    with pytest.raises(EpochError, match=message):
        predict([str(tmp_path / "in")], tmp_path / "out", **models)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt"]


def test_missing_models_are_named_with_how_to_get_them(models, tmp_path):
    _images(tmp_path / "in", [(64, 64)], np.random.default_rng(0))
    with pytest.raises(PredictError, match=r"nope.pt: no trained RegNet there; `make run`"):
        predict([str(tmp_path / "in")], tmp_path / "out", liftnet=models["liftnet"],
                regnet=tmp_path / "nope.pt", localizer=models["localizer"])  # fmt: skip


def test_plot_draws_each_pose_and_a_gif_per_sequence(models, tmp_path):
    _images(tmp_path / "clip", [(160, 120)] * 3, np.random.default_rng(3))
    code = main([str(tmp_path / "clip"), "--out", str(tmp_path / "out"), "--plot",
                 "--liftnet", str(models["liftnet"]), "--regnet", str(models["regnet"]),
                 "--localizer", str(models["localizer"])])  # fmt: skip
    assert code == 0
    plots = sorted(p.name for p in (tmp_path / "out/plots").iterdir())
    assert plots == ["clip.gif", "frame_0000.png", "frame_0001.png", "frame_0002.png"]
    with Image.open(tmp_path / "out/plots/clip.gif") as gif:
        assert gif.n_frames == 3
