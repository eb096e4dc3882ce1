"""Peak memory of ``epoch-kedro predict`` on very large photos (goal: 64 images of
12000 x 12000 px in under 4 GiB peak RSS).

A 12000 x 12000 RGB frame is 432 MB decoded, so a batch of 64 such frames would need about
28 GB; predict bounds each batch in pixels as well as in count
(``ImageSettings.batch_pixels``). This writes one 12000 x 12000 JPEG (a rendered frame scaled
up), links it 64 times into a folder, runs ``python -m epoch_kedro predict`` on the folder in a
child process and reads that process's peak resident set size from the kernel
(``getrusage(RUSAGE_CHILDREN)``). Needs the default run's models (``make run``); prints the
CPU, the wall time and the peak.

Usage: python benchmarks/bench_predict_memory.py [--images 64] [--side 12000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_adapt import cpu_name
from PIL import Image

from epoch_kedro.predict import DEFAULT_LIFTNET, DEFAULT_LOCALIZER, DEFAULT_REGNET

GOAL_GIB = 4.0


def _large_frame(path: Path, side: int) -> None:
    """A synthetic person-like frame, ``side`` x ``side`` px, as a JPEG."""
    small = np.full((240, 240, 3), 90, np.uint8)
    small[40:220, 100:140] = (200, 150, 120)  # a standing figure, enough for the localiser
    small[20:45, 105:135] = (220, 180, 150)
    Image.fromarray(small).resize((side, side), Image.BILINEAR).save(path, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--side", type=int, default=12000)
    args = parser.parse_args()
    for model in (DEFAULT_LIFTNET, DEFAULT_REGNET, DEFAULT_LOCALIZER):
        if not Path(model).is_file():
            raise SystemExit(f"{model}: no trained model; run `make run` first")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        _large_frame(folder / "frame_0000.jpg", args.side)
        for i in range(1, args.images):  # hard links: one file on disk, 64 files to predict
            os.link(folder / "frame_0000.jpg", folder / f"frame_{i:04d}.jpg")
        command = [sys.executable, "-m", "epoch_kedro", "predict", str(folder),
                   "--out", str(Path(tmp) / "out")]  # fmt: skip
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                env={**os.environ, "EPOCH_PROGRESS": "0"})  # fmt: skip
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"predict failed ({result.returncode}): {result.stderr[-2000:]}")
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    verdict = "meets" if peak_gib < GOAL_GIB else "MISSES"
    print(f"CPU: {cpu_name()}")
    print(f"{args.images} images of {args.side} x {args.side} px: {seconds:.0f} s, "
          f"peak RSS {peak_gib:.2f} GiB ({verdict} the {GOAL_GIB:g} GiB goal)")  # fmt: skip
    print(result.stdout.strip().splitlines()[0])


if __name__ == "__main__":
    main()
