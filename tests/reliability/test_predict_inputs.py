"""``epoch-kedro predict`` on bad inputs, options, model files and output folders: exit 2, one
line (docs/RELIABILITY.md, exit 2 rows), nothing written; and the wrong results that used to
pass silently, now right."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from epoch_kedro.keypoints import LAYOUTS
from epoch_kedro.predict import camera_from_options, main, predict
from epoch_kedro.skeleton import JOINT_INDEX
from epoch_kedro.utils.checkpoint import CHECKSUM_KEY, save_checkpoint
from tests.predict.test_predict import SIZE, _write
from tests.reliability.cases import case

FOV = ["--fov", "60", "--image-size", "1000", "1000"]


class Exploit:
    """A pickle that runs a shell command when loaded (it must never be)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """``folder`` as a small tmpfs (``options``: e.g. ``size=64k,ro``); skips the test where
    this process cannot mount one (not root, or a container that forbids it)."""
    folder.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                           capture_output=True, check=False)  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def _npz(tmp: Path, kp17: np.ndarray) -> Path:
    (tmp / "in").mkdir(exist_ok=True)
    np.savez(tmp / "in/poses.npz", keypoints=kp17)
    return tmp / "in"


def _file(tmp: Path, name: str, content: bytes | str) -> Path:
    (tmp / "in").mkdir(exist_ok=True)
    path = tmp / "in" / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _camera(tmp: Path, cx: float, image_size: list | None) -> list[str]:
    doc = {"K": [[1000, 0, cx], [0, 1000, 500], [0, 0, 1]]}
    if image_size:
        doc["image_size"] = image_size
    (tmp / "cam.json").write_text(json.dumps(doc))
    return ["--camera", str(tmp / "cam.json")]


def _model_file(tmp: Path, source: Path, damage: str) -> Path:
    """A copy of the LiftNet artifact at ``source``, damaged as ``damage`` says."""
    artifact = torch.load(source, weights_only=True)
    artifact.pop(CHECKSUM_KEY)
    bad = tmp / "liftnet.pt"
    if damage == "bad-config":
        artifact["config"] = {**artifact["config"], "bogus": 1}
    elif damage == "missing-key":
        artifact["state_dict"] = dict(list(artifact["state_dict"].items())[1:])
    elif damage == "wrong-shape":
        name = next(k for k in artifact["state_dict"] if k.endswith(".weight"))
        weight = artifact["state_dict"][name]
        artifact["state_dict"] = {**artifact["state_dict"], name: weight[..., :1].clone()}
    save_checkpoint(artifact, bad)
    if damage == "flipped-byte":
        data = bytearray(bad.read_bytes())
        data[len(data) // 2] ^= 1
        bad.write_bytes(bytes(data))
    elif damage == "no-checksum":
        torch.save(artifact, bad)
    return bad


def _bomb(path: Path, side: int = 14000) -> Path:
    """A PNG whose header claims ``side`` x ``side`` px: Pillow's bomb check reads the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))  # fmt: skip
    return path


def _crafted_npz(tmp: Path) -> Path:
    (tmp / "in").mkdir()
    evil = np.empty((), dtype=object)
    evil[()] = Exploit(tmp / "pwned")
    np.savez(tmp / "in/poses.npz", keypoints=evil)
    return tmp / "in"


def _crafted_checkpoint(tmp: Path) -> Path:
    torch.save({"state_dict": Exploit(tmp / "pwned")}, tmp / "evil.pt")
    return tmp / "evil.pt"


#: Per case: (tmp folder, 2D poses, a LiftNet artifact) -> predict's arguments (--out is added).
Build = Callable[[Path, np.ndarray, Path], list[str]]
REFUSED: dict[str, Build] = {
    "predict-min-confidence-negative": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--min-confidence", "-1"],
    "predict-min-confidence-nan": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--min-confidence", "nan"],
    "predict-image-size-negative": lambda t, kp, m: [
        str(_npz(t, kp)), "--focal", "1000", "--image-size", "-2000", "-2000"],
    "predict-image-size-zero": lambda t, kp, m: [
        str(_npz(t, kp)), "--fov", "60", "--image-size", "0", "0"],
    "predict-principal-point-outside": lambda t, kp, m: [
        str(_npz(t, kp)), *_camera(t, 1500, [1000, 1000])],
    "predict-principal-point-negative": lambda t, kp, m: [
        str(_npz(t, kp)), *_camera(t, -10, None)],
    "crafted-npz-predict": lambda t, kp, m: [str(_crafted_npz(t)), *FOV],
    "crafted-checkpoint": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--liftnet", str(_crafted_checkpoint(t))],
    "predict-npz-empty": lambda t, kp, m: [str(_file(t, "poses.npz", b"")), *FOV],
    "predict-npz-truncated": lambda t, kp, m: [
        str(_file(t, "poses.npz", b"PK\x03\x04 cut here")), *FOV],
    "predict-json-syntax": lambda t, kp, m: [
        str(_file(t, "frame.json", '{"people": [{"pose_keypoints_2d": [1, 2')), *FOV],
    "predict-json-coco": lambda t, kp, m: [str(_file(
        t, "results.json", '[{"image_id": 1, "keypoints": "abc", "score": 1}]')), *FOV],
    "predict-json-openpose": lambda t, kp, m: [
        str(_file(t, "frame.json", '{"people": "none"}')), *FOV],
    "predict-json-mediapipe": lambda t, kp, m: [str(_file(
        t, "landmarks.json", json.dumps([[{"x": 0.5}] * 33]))), *FOV],
    "predict-csv-latin1": lambda t, kp, m: [
        str(_file(t, "poses.csv", "Nose_x,Nose_y\né,1\n".encode("latin-1"))), *FOV],
    "predict-image-too-large": lambda t, kp, m: [str(_bomb(_file(t, "big.png", b"")))],
    "predict-model-no-checksum": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--liftnet", str(_model_file(t, m, "no-checksum"))],
    "predict-model-bad-config": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--liftnet", str(_model_file(t, m, "bad-config"))],
    "predict-model-missing-key": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--liftnet", str(_model_file(t, m, "missing-key"))],
    "predict-model-wrong-shape": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--liftnet", str(_model_file(t, m, "wrong-shape"))],
    "predict-model-flipped-byte": lambda t, kp, m: [
        str(_npz(t, kp)), *FOV, "--liftnet", str(_model_file(t, m, "flipped-byte"))],
}  # fmt: skip


def refused_line(args: list[str], capsys) -> str:
    """Run ``predict`` in this process; it must exit 2 with one line on stderr."""
    code = main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (code, lines)
    assert lines[0].startswith("epoch-kedro predict: "), lines
    return lines[0]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_bad_input_is_one_line_exit_2_and_writes_nothing(
    name, scene, model_path, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("EPOCH_PROGRESS", "0")
    args = REFUSED[name](tmp_path, scene[1], model_path)
    if "--liftnet" not in args:
        args += ["--liftnet", str(model_path)]
    case(name).check(refused_line([*args, "--out", str(tmp_path / "o")], capsys))
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "pwned").exists()  # a crafted pickle ran nothing


def test_out_naming_a_file_is_refused(scene, model_path, tmp_path, capsys):
    (tmp_path / "o").write_text("a file")
    args = [str(_npz(tmp_path, scene[1])), *FOV, "--liftnet", str(model_path)]
    case("predict-out-is-file").check(refused_line([*args, "--out", str(tmp_path / "o")], capsys))
    assert (tmp_path / "o").read_text() == "a file"


@pytest.mark.parametrize(("name", "options"), [("predict-out-read-only", "size=1m,ro"),
                                               ("predict-disk-full", "size=4k")])  # fmt: skip
def test_an_unwritable_out_is_one_line_and_keeps_its_files(
    name, options, scene, model_path, tmp_path, capsys
):
    args = [str(_npz(tmp_path, scene[1])), *FOV, "--liftnet", str(model_path)]
    with tmpfs(tmp_path / "mnt", options) as mnt:
        out = mnt if "ro" in options.split(",") else mnt / "o"
        case(name).check(refused_line([*args, "--out", str(out)], capsys))
        assert not [p for p in mnt.rglob("*") if p.is_file()]  # no half-written predictions


# ---- wrong results that used to pass silently ----------------------------------------------


def test_a_zero_confidence_keypoint_is_missing_even_at_threshold_0(scene, model_path, tmp_path):
    """OpenPose writes (0, 0, 0) for a joint it did not find: never a joint at pixel (0, 0)."""
    case("predict-zero-confidence-joint")
    _, kp17, _ = scene
    files = _write("openpose25", kp17, tmp_path / "in", np.random.default_rng(0))
    first = sorted((tmp_path / "in").glob("*.json"))[0]
    doc = json.loads(first.read_text())
    values = doc["people"][0]["pose_keypoints_2d"]
    wrist = LAYOUTS["openpose25"].index("RWrist")
    values[3 * wrist : 3 * wrist + 3] = [0.0, 0.0, 0.0]
    first.write_text(json.dumps(doc))
    camera = camera_from_options(None, None, 60, SIZE)
    predict(files, tmp_path / "o", camera=camera, liftnet=model_path, min_confidence=0.0)
    row = json.loads((tmp_path / "o/predictions.json").read_text())["predictions"][0]
    assert row["present"][JOINT_INDEX["RWrist"]] is False
    assert row["keypoints2d"][JOINT_INDEX["RWrist"]] is None


def test_the_csv_quotes_a_source_with_a_comma_or_a_newline(scene, model_path, tmp_path):
    case("predict-csv-quoting")
    _, kp17, _ = scene
    folder = tmp_path / "cam1,take2"
    folder.mkdir()
    np.savez(folder / "poses\nsplit.npz", keypoints=kp17[:3])
    predict([str(folder)], tmp_path / "o", camera=camera_from_options(None, None, 60, SIZE),
            liftnet=model_path)  # fmt: skip
    with open(tmp_path / "o/predictions.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 4 and {len(r) for r in rows} == {len(rows[0])}
    assert rows[1][0] == str(folder / "poses\nsplit.npz")


def test_equal_file_names_in_two_folders_get_their_own_pictures(scene, model_path, tmp_path):
    """camA/walk.npz and camB/walk.npz: every pose its picture, every sequence its GIF."""
    case("predict-same-file-names")
    _, kp17, _ = scene
    for cam, rows in (("camA", kp17[:3]), ("camB", kp17[3:6])):
        (tmp_path / cam).mkdir()
        np.savez(tmp_path / cam / "walk.npz", keypoints=rows)
    summary = predict([str(tmp_path / "camA"), str(tmp_path / "camB")], tmp_path / "out",
                      image_size=SIZE, liftnet=model_path, plot=True)  # fmt: skip
    plots = tmp_path / "out/plots"
    names = sorted(p.name for p in plots.iterdir())
    assert names == [f"{cam}_walk{end}" for cam in ("camA", "camB")
                     for end in (".gif", "_0.png", "_1.png", "_2.png")]  # fmt: skip
    assert len([f for f in summary["files"] if "/plots/" in f]) == len(names)
    assert (plots / "camA_walk.gif").read_bytes() != (plots / "camB_walk.gif").read_bytes()


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(scene, model_path, tmp_path):
    case("predict-staging-orphan")
    out = tmp_path / "o"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    orphan = out / f".predict-staging-{gone}-abc"
    alive = out / f".predict-staging-{os.getpid()}-def"
    for folder in (orphan, alive):
        folder.mkdir(parents=True)
        (folder / "predictions.json").write_text("half")
    predict([str(_npz(tmp_path, scene[1]))], out,
            camera=camera_from_options(None, None, 60, SIZE), liftnet=model_path)  # fmt: skip
    assert not orphan.exists() and alive.exists()
    assert json.loads((out / "predictions.json").read_text())["predictions"]
