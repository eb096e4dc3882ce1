"""experiments/multiview_devset.py takes only the calibration and the T02 pose folders of the
wheel and writes them all or nothing, as ``dataset.kind: multiview`` reads them."""

from __future__ import annotations

import zipfile

import pytest

from tests.experiments.helpers import load_experiment


@pytest.fixture(scope="module")
def devset():
    return load_experiment("multiview_devset")


def test_only_the_calibration_and_the_trial_are_taken(devset, tmp_path):
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(devset.CALIB, "<calibration/>")
        for cam in devset.CAMERAS:
            z.writestr(f"{devset.TRIAL}{cam}/frame_0001.json", "{}")
        z.writestr("Pose2Sim/other_trial/pose/cam01_json/frame_0001.json", "{}")
    dest = devset.build(wheel, tmp_path / "set")
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["calibration/Calib.qca.txt"] + [
        f"pose/{cam}/frame_0001.json" for cam in devset.CAMERAS
    ]
    assert not (tmp_path / "set.partial").exists()
