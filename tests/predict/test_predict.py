"""`epoch-kedro predict` on keypoint files of every supported layout, and on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from epoch_kedro.api import lift, load_liftnet
from epoch_kedro.evaluation.metrics import pose_metrics
from epoch_kedro.geometry import project_distorted
from epoch_kedro.keypoints import LAYOUTS
from epoch_kedro.predict import (
    PredictError,
    ReadOptions,
    camera_from_options,
    input_files,
    main,
    predict,
    read_poses,
)
from epoch_kedro.skeleton import JOINT_INDEX
from epoch_kedro.training.adapt import AdaptConfig
from tests.test_keypoints import _EARS, _FACE, _in_layout, _seen_from_behind, _views

SIZE = (1000, 1000)


def _write(layout: str, kp17: np.ndarray, folder, rng) -> list[str]:
    """Files of ``layout`` holding ``kp17`` as a detector of that layout would report it."""
    kp = _in_layout(kp17, layout, rng)
    xyc = np.concatenate([kp, np.full((*kp.shape[:2], 1), 0.9)], -1)
    folder.mkdir()
    if layout in ("coco17", "halpe26", "coco_wholebody"):  # COCO-style results (also AlphaPose)
        dets = [{"image_id": i, "keypoints": p.reshape(-1).tolist(), "score": 0.9}
                for i, p in enumerate(xyc)]  # fmt: skip
        dets.append({"image_id": 0, "keypoints": (xyc[0] * 0.5).reshape(-1).tolist(), "score": 0.1})
        (folder / "results.json").write_text(json.dumps(dets))
    elif layout.startswith("openpose"):
        for i, p in enumerate(xyc):
            person = {"pose_keypoints_2d": p.reshape(-1).tolist()}
            name = f"clip_{i:012d}_keypoints.json"
            (folder / name).write_text(json.dumps({"version": 1.3, "people": [person]}))
    elif layout == "mediapipe":
        frames = [[{"x": x / SIZE[0], "y": y / SIZE[1], "visibility": 0.9} for x, y in p]
                  for p in kp]  # fmt: skip
        (folder / "landmarks.json").write_text(json.dumps(frames))
    else:
        np.savez(folder / "poses.npz", keypoints=kp)
    return [str(folder)]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_predict_lifts_every_layout_like_lift_on_the_original_2d(
    layout, scene, model_path, tmp_path
):
    X, kp17, K = scene
    inputs = _write(layout, kp17, tmp_path / "in", np.random.default_rng(0))
    camera_file = tmp_path / "camera.json"
    camera_file.write_text(json.dumps({"K": K.tolist(), "image_size": list(SIZE)}))
    camera = camera_from_options(str(camera_file))
    summary = predict(inputs, tmp_path / "out", camera=camera, image_size=SIZE, liftnet=model_path)
    assert summary["lifted"] == len(X) and not summary["skipped"]
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["units"] == "m" and document["layout"] == layout
    assert document["camera"]["origin"].startswith("camera file")
    pred = np.array([p["pose3d"] for p in document["predictions"]])
    reference = lift(load_liftnet(model_path), kp17, K)
    ours, theirs = pose_metrics(pred, X)["pa_mpjpe"], pose_metrics(reference, X)["pa_mpjpe"]
    assert abs(ours - theirs) < 10.0, (ours, theirs)
    arrays = np.load(tmp_path / "out/predictions.npz")
    np.testing.assert_allclose(arrays["pose3d"], pred, atol=1e-5)
    # The Python caller gets the poses themselves too (api.predict is this function).
    np.testing.assert_allclose(summary["poses"]["pose3d"], arrays["pose3d"], atol=1e-5)
    assert summary["poses"]["lifted"].all() and len(summary["poses"]["source"]) == len(X)
    rows = (tmp_path / "out/predictions.csv").read_text().splitlines()
    assert len(rows) == len(X) + 1 and rows[0].startswith("source,frame,person,skipped,Hip_x")


def test_lens_distortion_in_the_camera_file_is_undone(scene, model_path, tmp_path):
    X, kp17, K = scene
    dist = np.array([-0.2, 0.05, 0.001, -0.001, 0.0])
    distorted = project_distorted(X, K, dist)
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in/poses.npz", keypoints=distorted)
    camera_file = tmp_path / "camera.yaml"
    camera_file.write_text(f"K: {K.tolist()}\ndist: {dist.tolist()}\n")
    camera = camera_from_options(str(camera_file))
    predict([str(tmp_path / "in")], tmp_path / "out", camera=camera, liftnet=model_path)
    arrays = np.load(tmp_path / "out/predictions.npz")
    np.testing.assert_allclose(arrays["keypoints2d"], kp17, atol=0.05)


def test_unusable_frames_are_reported_and_skipped(scene, model_path, tmp_path):
    _, kp17, _ = scene
    kp = kp17.copy()
    kp[2, JOINT_INDEX["Hip"]] = np.nan  # no pelvis: nothing places the person
    kp[3, JOINT_INDEX["LWrist"]] = np.nan  # one joint missing: lifted with it masked
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in/poses.npz", keypoints=kp)
    summary = predict([str(tmp_path / "in")], tmp_path / "out", image_size=SIZE,
                      liftnet=model_path)  # fmt: skip
    assert summary["camera"] == "default 60 deg field"
    assert summary["lifted"] == len(kp) - 1
    assert summary["skipped"][0][1] == 2 and "needs the pelvis" in summary["skipped"][0][2]
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["predictions"][2]["pose3d"] is None
    arrays = np.load(tmp_path / "out/predictions.npz")
    assert np.isfinite(arrays["pose3d"][3]).all()  # all 17 joints, the wrist included
    assert np.isnan(arrays["keypoints2d"][3, JOINT_INDEX["LWrist"]]).all()  # marks it missing


def test_a_liftnet_without_the_mask_skips_partial_poses_and_lifts_the_rest(scene, tmp_path):
    import torch

    from epoch_kedro.models.artifacts import to_artifact
    from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
    from epoch_kedro.utils.checkpoint import save_checkpoint

    torch.manual_seed(0)
    old = LiftNet(LiftNetConfig(width=32, blocks=1, presence_mask=False), np.full(16, 0.25))
    artifact = to_artifact(old, "liftnet")
    del artifact["config"]["presence_mask"]  # as written before the mask existed
    save_checkpoint(artifact, tmp_path / "old.pt")
    _, kp17, _ = scene
    kp = kp17.copy()
    kp[1, JOINT_INDEX["Head"]] = np.nan
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in/poses.npz", keypoints=kp)
    summary = predict([str(tmp_path / "in")], tmp_path / "out", image_size=SIZE,
                      liftnet=tmp_path / "old.pt")  # fmt: skip
    assert summary["lifted"] == len(kp) - 1
    assert summary["skipped"][0][1] == 1
    assert "trained without the presence mask" in summary["skipped"][0][2]
    assert summary["skipped"][0][2].endswith(": Head")


def test_bad_options_are_named(tmp_path):
    with pytest.raises(PredictError, match=r"--focal -5.0: expected a positive focal length"):
        camera_from_options(focal=-5.0, image_size=SIZE)
    with pytest.raises(PredictError, match=r"--fov 200.0: expected a horizontal field of view"):
        camera_from_options(fov=200.0)
    transposed = [[1000, 0, 0], [0, 1000, 0], [500, 500, 1]]
    (tmp_path / "cam.json").write_text(json.dumps({"K": transposed}))
    with pytest.raises(PredictError, match=r"cam.json: K must be .* \(is it transposed\?\)"):
        camera_from_options(str(tmp_path / "cam.json"))
    with pytest.raises(PredictError, match=r"empty: no keypoint files .* or images"):
        (tmp_path / "empty").mkdir()
        predict([str(tmp_path / "empty")], tmp_path / "out", image_size=SIZE)


def test_the_command_exits_2_with_one_line_and_0_on_success(scene, model_path, tmp_path):
    _, kp17, _ = scene
    missing = main([str(tmp_path / "nothing.json"), "--out", str(tmp_path / "o")])
    assert missing == 2
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in/poses.npz", keypoints=kp17)
    command = [sys.executable, "-m", "epoch_kedro", "predict", str(tmp_path / "in"), "--out",
               str(tmp_path / "out"), "--fov", "50", "--image-size", "1000", "1000",
               "--liftnet", str(model_path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"lifted {len(kp17)} poses" in result.stdout and "--fov 50 deg" in result.stdout
    bad = subprocess.run([*command[:4], str(tmp_path / "nope"), "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"epoch-kedro predict: {tmp_path / 'nope'}: no such file, folder or matching glob"
    ]


def test_layout_names_match_the_documented_keypoint_counts():
    assert {k: len(v) for k, v in LAYOUTS.items()} == {
        "coco17": 17, "openpose25": 25, "openpose25b": 25, "openpose18": 18, "halpe26": 26,
        "coco_wholebody": 133, "mediapipe": 33, "h36m": 17,
    }  # fmt: skip


def test_mediapipe_csv_is_scaled_by_the_image_size(scene, model_path, tmp_path):
    _, kp17, _ = scene
    kp = _in_layout(kp17, "mediapipe", np.random.default_rng(0))
    header = [f"{j}_{a}" for j in LAYOUTS["mediapipe"] for a in ("x", "y", "visibility")]
    rows = [",".join(header)]
    for pose in kp:
        rows.append(",".join(f"{x / SIZE[0]:.6f},{y / SIZE[1]:.6f},0.9" for x, y in pose))
    (tmp_path / "landmarks.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(PredictError, match=r"landmarks.csv: MediaPipe landmarks are normalised"):
        predict([str(tmp_path / "landmarks.csv")], tmp_path / "out", liftnet=model_path)
    predict([str(tmp_path / "landmarks.csv")], tmp_path / "out", image_size=SIZE,
            liftnet=model_path)  # fmt: skip
    arrays = np.load(tmp_path / "out/predictions.npz")
    shared = [JOINT_INDEX[j] for j in ("LShoulder", "RKnee", "LWrist")]
    np.testing.assert_allclose(arrays["keypoints2d"][:, shared], kp17[:, shared], atol=1e-2)


def test_all_people_keeps_every_detection(scene, model_path, tmp_path):
    _, kp17, _ = scene
    coco = _in_layout(kp17, "coco17", np.random.default_rng(0))
    xyc = np.concatenate([coco, np.full((*coco.shape[:2], 1), 0.9)], -1)
    dets = [{"image_id": 7, "keypoints": p.reshape(-1).tolist(), "score": s}
            for p, s in zip(xyc[:3], (0.5, 0.9, 0.7), strict=True)]  # fmt: skip
    (tmp_path / "r.json").write_text(json.dumps(dets))
    one = predict([str(tmp_path / "r.json")], tmp_path / "a", image_size=SIZE, liftnet=model_path)
    every = predict([str(tmp_path / "r.json")], tmp_path / "b", image_size=SIZE,
                    liftnet=model_path, all_people=True)  # fmt: skip
    assert one["lifted"] == 1 and every["lifted"] == 3
    first = np.load(tmp_path / "a/predictions.npz")["keypoints2d"][0]
    np.testing.assert_allclose(first[JOINT_INDEX["LWrist"]], kp17[1, JOINT_INDEX["LWrist"]])
    people = json.loads((tmp_path / "b/predictions.json").read_text())["predictions"]
    assert [(p["frame"], p["person"]) for p in people] == [(7, 0), (7, 1), (7, 2)]


def test_nothing_liftable_is_an_error_not_an_empty_result(scene, model_path, tmp_path):
    _, kp17, _ = scene
    np.savez(tmp_path / "nan.npz", keypoints=np.full_like(kp17, np.nan))
    code = main([str(tmp_path / "nan.npz"), "--out", str(tmp_path / "out"), "--image-size",
                 "1000", "1000", "--liftnet", str(model_path)])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()


def test_plot_of_a_keypoint_sequence(scene, model_path, tmp_path):
    _, kp17, _ = scene
    np.savez(tmp_path / "walk.npz", keypoints=kp17[:3])
    predict([str(tmp_path / "walk.npz")], tmp_path / "out", image_size=SIZE, liftnet=model_path,
            plot=True)  # fmt: skip
    names = sorted(p.name for p in (tmp_path / "out/plots").iterdir())
    assert names == ["walk.gif", "walk_0.png", "walk_1.png", "walk_2.png"]
    # Large enough to judge, left and right limbs in their own colours (tab:blue, tab:red).
    from PIL import Image

    picture = np.asarray(Image.open(tmp_path / "out/plots/walk_0.png").convert("RGB"))
    assert picture.shape[1] >= 1200
    for rgb in ((31, 119, 180), (214, 39, 40)):
        assert (np.abs(picture.astype(int) - rgb).sum(-1) < 30).sum() > 200, rgb


@pytest.mark.parametrize("layout", ["openpose25", "openpose25b", "openpose18"])
def test_layout_openpose_means_either_openpose_layout(layout, scene, model_path, tmp_path):
    _, kp17, _ = scene
    inputs = _write(layout, kp17, tmp_path / "in", np.random.default_rng(0))
    summary = predict(inputs, tmp_path / "out", layout="openpose", image_size=SIZE,
                      liftnet=model_path)  # fmt: skip
    assert summary["lifted"] == len(kp17)
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["layout"] == layout


def _read(folder, layout: str = "auto"):
    return read_poses(input_files([str(folder)])[0], ReadOptions(layout=layout))


@pytest.mark.parametrize("layout", ["openpose25", "openpose25b"])
def test_25_keypoints_are_read_in_the_order_their_positions_show_and_it_is_said(
    layout, scene, tmp_path, caplog
):
    _, kp17, _ = scene
    _write(layout, kp17, tmp_path / "in", np.random.default_rng(0))
    with caplog.at_level("INFO", logger="epoch_kedro.predict.readers"):
        poses = _read(tmp_path / "in")
    assert poses.layout == layout
    assert f"keypoints read as {layout} (its bones are " in poses.layout_note
    assert f"and {len(kp17) - 1} more files: keypoints read as {layout}" in caplog.text
    assert _read(tmp_path / "in", layout).layout == layout  # asked for and confirmed


def test_body25b_files_asked_to_be_read_as_body25_are_refused_in_one_line(scene, tmp_path):
    _, kp17, _ = scene
    _write("openpose25b", kp17, tmp_path / "in", np.random.default_rng(0))
    with pytest.raises(PredictError) as refused:
        _read(tmp_path / "in", "openpose25")
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "in"))
    assert "--layout openpose25, but the keypoints are openpose25b" in message
    assert message.endswith("give --layout openpose25b")


def test_25_keypoints_whose_positions_cannot_tell_the_order_are_refused_in_one_line(
    model_path, tmp_path, capsys
):
    (tmp_path / "in").mkdir()
    for i in range(3):  # every keypoint at one point: no bone has a length
        person = {"pose_keypoints_2d": [250.0, 250.0, 0.9] * 25}
        (tmp_path / f"in/c_{i:012d}_keypoints.json").write_text(json.dumps({"people": [person]}))
    code = main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--image-size", "1000",
                 "1000", "--liftnet", str(model_path)])  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and not (tmp_path / "out").exists()
    assert "c_000000000000_keypoints.json and 2 more files: 25 keypoints per pose" in lines[0]
    assert lines[0].endswith("give --layout openpose25 or --layout openpose25b")
    # Asked for by name, the same keypoints are read as asked: nothing contradicts it.
    assert _read(tmp_path / "in", "openpose25b").layout == "openpose25b"


def test_a_person_seen_from_behind_is_lifted_not_refused(synthetic_small, model_path, tmp_path):
    # COCO detections of a back view: nose and eyes unsure, ears and shoulders sure.
    views = _views(synthetic_small)
    for name, unsure in (("back", _FACE), ("faceless", (*_FACE, *_EARS))):
        kp = _seen_from_behind(views, "coco17", unsure)[0][:12]
        dets = [{"image_id": i, "keypoints": p.reshape(-1).tolist(), "score": 0.9}
                for i, p in enumerate(kp)]  # fmt: skip
        (tmp_path / f"{name}.json").write_text(json.dumps(dets))
    summary = predict([str(tmp_path / "back.json")], tmp_path / "out", image_size=SIZE,
                      liftnet=model_path)  # fmt: skip
    assert summary["lifted"] == 12 and not summary["skipped"]
    pose3d = np.load(tmp_path / "out/predictions.npz")["pose3d"]
    assert pose3d.shape == (12, 17, 3) and np.isfinite(pose3d).all()
    # Without the ears too, nothing places Neck and Head: they are lifted as missing joints.
    summary = predict([str(tmp_path / "faceless.json")], tmp_path / "out2", image_size=SIZE,
                      liftnet=model_path)  # fmt: skip
    assert summary["lifted"] == 12 and not summary["skipped"]
    arrays = np.load(tmp_path / "out2/predictions.npz")
    assert np.isfinite(arrays["pose3d"]).all()
    face = [JOINT_INDEX["Neck"], JOINT_INDEX["Head"]]
    assert np.isnan(arrays["keypoints2d"][:, face]).all()
    assert not arrays["present"][:, face].any() and arrays["present"].sum() == 12 * 15
    # JSON has no NaN: a missing joint's 2D is null, and "present" says which were seen.
    text = (tmp_path / "out2/predictions.json").read_text()
    assert "NaN" not in text
    record = json.loads(text)["predictions"][0]
    assert record["keypoints2d"][face[0]] is None and record["present"][face[0]] is False


@pytest.mark.parametrize("all_people", [False, True])
def test_an_openpose_person_with_no_keypoints_is_no_detection(scene, tmp_path, all_people):
    """OpenPose can write a person whose keypoint list is empty; it is skipped, not read as a
    layout of 0 keypoints that stops the whole call."""
    _, kp17, _ = scene
    _write("openpose25b", kp17, tmp_path / "in", np.random.default_rng(0))
    first = sorted((tmp_path / "in").iterdir())[0]
    frame = json.loads(first.read_text())
    frame["people"].insert(0, {"pose_keypoints_2d": []})
    first.write_text(json.dumps(frame))
    poses = read_poses(input_files([str(tmp_path / "in")])[0],
                       ReadOptions(all_people=all_people))  # fmt: skip
    assert poses.layout == "openpose25b" and len(poses.keypoints) == len(kp17)


def test_adapt_learns_from_the_call_writes_the_model_and_refuses_too_few_poses(
    synthetic_small, tiny_adaptable_liftnet_path, tmp_path
):
    rows = slice(0, 60)
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in/poses.npz", keypoints=synthetic_small["kp2d"][rows])
    args = [str(tmp_path / "in"), "--fov", "60", "--image-size", "1000", "1000",
            "--liftnet", str(tiny_adaptable_liftnet_path)]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "o"), "--adapt", "--adapt-steps", "3"]) == 0
    adapted = load_liftnet(tmp_path / "o/liftnet_adapted.pt", "cpu")
    assert adapted.adapted["poses"] == 60 and adapted.adapted["steps"] == 3
    assert adapted.adapted["inputs"] == [str(tmp_path / "in/poses.npz")]
    assert adapted.adapted["liftnet"] == str(tiny_adaptable_liftnet_path)
    lifted = json.loads((tmp_path / "o/predictions.json").read_text())
    # The poses written are the adapted model's: lifting again with it gives them back.
    assert main([*args[:-1], str(tmp_path / "o/liftnet_adapted.pt"), "--out",
                 str(tmp_path / "again")]) == 0  # fmt: skip
    again = json.loads((tmp_path / "again/predictions.json").read_text())
    first, second = lifted["predictions"][0]["pose3d"], again["predictions"][0]["pose3d"]
    assert np.allclose(first, second, atol=1e-5)
    assert lifted["adaptation"]["model"] == "liftnet_adapted.pt" and "adaptation" not in again
    np.savez(tmp_path / "in/poses.npz", keypoints=synthetic_small["kp2d"][:20])
    with pytest.raises(PredictError, match="--adapt needs at least 50 poses to lift, got 20"):
        _predict_adapting(tmp_path / "in", tmp_path / "few", tiny_adaptable_liftnet_path)
    assert not (tmp_path / "few").exists()
    assert main([*args, "--out", str(tmp_path / "x"), "--adapt-steps", "3"]) == 2


def test_adapt_with_a_liftnet_trained_before_adaptation_says_to_retrain(
    synthetic_small, model_path, tmp_path
):
    (tmp_path / "in").mkdir()
    np.savez(tmp_path / "in/poses.npz", keypoints=synthetic_small["kp2d"][:60])
    with pytest.raises(PredictError, match=r"carries no adaptation data.*make run"):
        _predict_adapting(tmp_path / "in", tmp_path / "o", model_path)


def _predict_adapting(folder, out, liftnet):
    """``predict`` with the default adaptation, a 60-degree lens on 1000 px frames."""
    camera = camera_from_options(None, None, 60, (1000, 1000))
    return predict([str(folder)], out, camera=camera, liftnet=liftnet, adapt=AdaptConfig())


def test_a_camera_whose_principal_point_or_image_size_cannot_be_is_refused(tmp_path):
    """A principal point at or below zero, or outside the image, and a non-positive image size
    gave silently wrong poses (753 mm with --image-size -2000 -2000)."""
    with pytest.raises(PredictError, match=r"--image-size -2000 -2000: expected a width"):
        camera_from_options(None, 1000.0, None, (-2000, -2000))
    with pytest.raises(PredictError, match=r"--image-size 0 0"):
        camera_from_options(None, None, 60.0, (0, 0))
    K = [[1000, 0, 1500], [0, 1000, 500], [0, 0, 1]]
    (tmp_path / "cam.json").write_text(json.dumps({"K": K, "image_size": [1000, 1000]}))
    with pytest.raises(
        PredictError, match=r"principal point \(1500, 500\) px is outside the 1000x"
    ):
        camera_from_options(str(tmp_path / "cam.json"))
    K[0][2] = -10
    (tmp_path / "cam.json").write_text(json.dumps({"K": K}))
    with pytest.raises(PredictError, match=r"principal point \(-10, 500\) px is not inside"):
        camera_from_options(str(tmp_path / "cam.json"))


def test_the_default_models_are_found_from_any_folder_or_both_places_named(
    scene, model_path, tmp_path, monkeypatch
):
    """Run outside the project, predict used to say `make run` though the models existed."""
    import shutil

    from epoch_kedro.predict import core

    project = tmp_path / "project"
    (project / "data/06_models").mkdir(parents=True)
    monkeypatch.setattr(core, "PROJECT_ROOT", project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    np.savez(elsewhere / "poses.npz", keypoints=scene[1])
    camera = camera_from_options(None, None, 60, SIZE)
    with pytest.raises(PredictError) as err:
        predict(["poses.npz"], "out", camera=camera)
    assert f"no trained LiftNet at data/06_models/liftnet.pt (below {elsewhere})" in str(err.value)
    assert str(project / "data/06_models/liftnet.pt") in str(err.value)
    shutil.copy(model_path, project / "data/06_models/liftnet.pt")
    assert predict(["poses.npz"], "out", camera=camera)["lifted"] == len(scene[1])


def test_quiet_by_default_and_verbose_with_v(scene, model_path, tmp_path, caplog):
    import logging

    _, kp17, _ = scene
    np.savez(tmp_path / "poses.npz", keypoints=kp17[:2])
    args = [str(tmp_path / "poses.npz"), "--image-size", "1000", "1000", "--liftnet",
            str(model_path)]  # fmt: skip
    root = logging.getLogger()
    level = root.level
    try:
        assert main([*args, "--out", str(tmp_path / "quiet")]) == 0
        assert not [r for r in caplog.records if r.message.startswith("Lifting with")]
        assert main([*args, "--out", str(tmp_path / "loud"), "-v"]) == 0
        assert [r for r in caplog.records if r.message == f"Lifting with {model_path}"]
    finally:
        root.setLevel(level)
