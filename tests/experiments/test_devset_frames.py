"""experiments/devset_frames.py takes only the demo's four videos (and calibration) of the wheel."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.experiments.helpers import load_experiment


def _script():
    return load_experiment("devset_frames")


def _wheel(path: Path, videos: dict[str, bytes]) -> Path:
    script = _script()
    with zipfile.ZipFile(path, "w") as z:
        for name in script.VIDEOS:
            z.writestr(name, videos.get(name, b"video"))
        z.writestr(f"{script.CALIBRATION}Calib.qca.txt", "calibration")
        z.writestr(f"{script.DEMO}Config.toml", "not taken")
        z.writestr("Pose2Sim/Another_Demo/videos/cam01.mp4", "not taken")
    return path


@pytest.mark.parametrize("calibration", [False, True])
def test_only_the_four_videos_and_the_calibration_are_extracted(tmp_path, calibration):
    script = _script()
    videos = script.extract(_wheel(tmp_path / "p.whl", {}), tmp_path / "x", calibration)
    assert [v.name for v in videos] == [f"cam0{i}.mp4" for i in range(1, 5)]
    files = sorted(str(p.relative_to(tmp_path / "x")) for p in (tmp_path / "x").rglob("*")
                   if p.is_file())  # fmt: skip
    expected = sorted(script.VIDEOS) + [f"{script.CALIBRATION}Calib.qca.txt"] * calibration
    assert files == sorted(expected)


def test_a_wheel_without_the_videos_is_refused_in_one_line(tmp_path):
    with zipfile.ZipFile(tmp_path / "p.whl", "w") as z:
        z.writestr("Pose2Sim/x.txt", "")
    with pytest.raises(SystemExit, match=r"p.whl: Pose2Sim/Demo_MultiPerson/videos/cam01.mp4 not"):
        _script().extract(tmp_path / "p.whl", tmp_path / "x", False)


def test_every_kth_frame_is_written_under_its_index_in_the_video(tmp_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    colours = [(i * 40, 0, 0) for i in range(6)]  # frame i: red level 40 i
    for i, colour in enumerate(colours):
        Image.new("RGB", (32, 48), colour).save(tmp_path / f"in{i}.png")
    video = tmp_path / "cam01.mp4"
    frames = str(tmp_path / "in%d.png")
    lossless = ["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p"]
    subprocess.run([ffmpeg, "-loglevel", "error", "-framerate", "10", "-i", frames, *lossless,
                    str(video)], check=True)  # fmt: skip
    assert _script().decode(video, tmp_path / "out", every=2) == 3
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["frame_000000.png", "frame_000002.png", "frame_000004.png"]
    for name, k in zip(names, (0, 2, 4), strict=True):
        red = np.asarray(Image.open(tmp_path / "out" / name))[..., 0].mean()
        assert abs(red - 40 * k) < 4, (name, red)
