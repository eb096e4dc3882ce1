"""Build the multi-view development set from Pose2Sim 0.8.4's demo (docs/DEVSET.md).

Only two things are taken from the Pose2Sim wheel (a zip, BSD-3): the Qualisys calibration of
the batch session and the OpenPose BODY_25B folders of its two-participant trial T02. They
are written as ``dataset.kind: multiview`` reads a recording (``DEST/calibration/`` and
``DEST/pose/cam0k_json/``), then scored with the cross-dataset pipeline (``make devset`` does
both):

    python experiments/multiview_devset.py data/01_raw/pose2sim_devset [--wheel WHEEL]
    kedro run --pipeline=cross_dataset --params "cross_dataset.dataset.kind=multiview,\
cross_dataset.dataset.root=data/01_raw/pose2sim_devset,cross_dataset.dataset.name=pose2sim_devset"

Without ``--wheel`` the wheel is fetched with ``python -m pip download --no-deps``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CALIB = "Pose2Sim/S00_Demo_BatchSession/S00_Calibration/Calib.qca.txt"
TRIAL = "Pose2Sim/S00_Demo_BatchSession/S00_P01_MultiParticipants/S00_P01_T02_Participants1-2/pose/"
CAMERAS = tuple(f"cam0{i}_json" for i in range(1, 5))


def fetch_wheel(dest: Path) -> Path:
    """Download the Pose2Sim 0.8.4 wheel (no dependencies) with this interpreter's pip."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "Pose2Sim==0.8.4", "-d", dest]
    subprocess.run(list(map(str, cmd)), check=True)
    return next(dest.glob("[Pp]ose2[Ss]im-0.8.4*.whl"))


def extract(wheel: Path, dest: Path) -> tuple[Path, list[Path]]:
    """Extract only the calibration and the T02 pose folders; nothing else of the wheel."""
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n == CALIB or n.startswith(TRIAL)]
        if CALIB not in names:
            sys.exit(f"{wheel}: {CALIB} not in the wheel")
        z.extractall(dest, members=names)
    return dest / CALIB, [dest / TRIAL / c for c in CAMERAS]


def build(wheel: Path, dest: Path) -> Path:
    """The recording as ``dataset.kind: multiview`` reads it, written all or nothing."""
    with tempfile.TemporaryDirectory(prefix="devset-") as tmp:
        calib, folders = extract(wheel, Path(tmp))
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "calibration").mkdir(parents=True)
        shutil.copy2(calib, staging / "calibration" / calib.name)
        for folder in folders:
            shutil.copytree(folder, staging / "pose" / folder.name)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)  # a cut build leaves no half dataset behind
    return dest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path, help="folder to write, e.g. data/01_raw/pose2sim_devset")
    ap.add_argument("--wheel", type=Path, help="Pose2Sim 0.8.4 wheel (default: pip download)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="devset-wheel-") as tmp:
        print(build(args.wheel or fetch_wheel(Path(tmp)), args.dest))


if __name__ == "__main__":
    main()
