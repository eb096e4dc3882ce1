"""Score LiftNets on the multi-view development set built from Pose2Sim 0.8.4's demo.

Only two things are taken from the Pose2Sim wheel (a zip): the Qualisys calibration of the
batch session and the OpenPose BODY_25B folders of its two-participant trial T02. The set is
built with :func:`epoch_kedro.data.multiview.build_devset` (docs/DEVSET.md): per camera, the
camera's own 2D detection and K as input, the 3D truth triangulated from the other cameras.

Metrics over the 15 body joints (H36M-17 without Neck and Head, whose BODY_25B sources, the
nose and the top of the head, triangulate poorly), on samples whose 2D is usable (all 17
joints confident) and whose truth is reliable on all 15 body joints; root = pelvis. Floors:
``flat depth`` puts every joint on its 2D ray at the truth root's depth; ``mean pose`` is the
mean root-relative truth pose of the evaluated samples (in camera coordinates), at the root.

Usage: python experiments/multiview_devset.py [--wheel pose2sim-0.8.4-py3-none-any.whl]
    [--models data/06_models/liftnet.pt ...] [--json devset.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from epoch_kedro.api import lift, load_liftnet
from epoch_kedro.data.calibration import read_calibration
from epoch_kedro.data.multiview import MAX_ERROR_PX, build_devset, read_openpose_views
from epoch_kedro.evaluation.metrics import joint_errors, pck
from epoch_kedro.geometry import backproject
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS

CALIB = "Pose2Sim/S00_Demo_BatchSession/S00_Calibration/Calib.qca.txt"
TRIAL = "Pose2Sim/S00_Demo_BatchSession/S00_P01_MultiParticipants/S00_P01_T02_Participants1-2/pose/"
CAMERAS = tuple(f"cam0{i}_json" for i in range(1, 5))
#: Body joints scored: all but Neck (the nose) and Head (eyes and top of the head).
BODY = tuple(j for j in range(NUM_JOINTS) if j not in (JOINT_INDEX["Neck"], JOINT_INDEX["Head"]))
DEFAULT_MODELS = tuple(
    f"data/06_models/{n}.pt" for n in ("liftnet", "liftnet_reference", "liftnet_weak")
)


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
    """The recording as ``dataset.kind: multiview`` reads it: ``dest/calibration/Calib.qca.txt``
    and ``dest/pose/cam0k_json/``; only those members of the wheel are read."""
    with tempfile.TemporaryDirectory(prefix="devset-") as tmp:
        calib, folders = extract(wheel, Path(tmp))
        staging = dest.with_name(dest.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "calibration").mkdir(parents=True)
        shutil.copy2(calib, staging / "calibration" / calib.name)
        for folder in folders:
            shutil.copytree(folder, staging / "pose" / folder.name)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)  # all or nothing: a cut build leaves no half dataset
    return dest


def select(samples: dict) -> tuple[np.ndarray, dict[str, int]]:
    """Evaluated rows and, for the rest, why they were skipped."""
    usable = samples["usable"].astype(bool)
    body_ok = samples["reliable"][:, BODY].all(-1)
    skipped = {
        "2d_not_usable": int((~usable).sum()),
        "truth_body_joint_unreliable": int((usable & ~body_ok).sum()),
    }
    return np.flatnonzero(usable & body_ok), skipped


def floors(s: dict, rows: np.ndarray) -> dict[str, np.ndarray]:
    gt = s["pose3d_cam"][rows]
    depth = np.repeat(gt[:, :1, 2], NUM_JOINTS, axis=1)
    rel = gt - gt[:, :1]
    return {
        "flat depth": backproject(s["kp2d"][rows], s["K"][rows], depth),
        "mean pose (truth)": rel.mean(0, keepdims=True) + gt[:, :1],
    }


def metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    p, g = pred[:, BODY], gt[:, BODY]
    root = joint_errors(p, g, "root")
    return {
        "pa_mpjpe": float(joint_errors(p, g, "procrustes").mean()),
        "n_mpjpe": float(joint_errors(p, g, "scale").mean()),
        "mpjpe": float(root.mean()),
        "pck150": pck(root),
        "count": len(p),
    }


def evaluate(s: dict, rows: np.ndarray, preds: dict[str, np.ndarray], names: list[str]) -> dict:
    gt, cam = s["pose3d_cam"][rows], s["camera"][rows]
    out = {}
    for method, pred in preds.items():
        out[method] = {"overall": metrics(pred, gt)}
        for c in np.unique(cam):
            out[method][names[c]] = metrics(pred[cam == c], gt[cam == c])
    return out


def table(results: dict) -> str:
    lines = [
        "| method | camera | n | PA-MPJPE | N-MPJPE | MPJPE | PCK@150 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for method, per in results.items():
        for where, m in per.items():
            lines.append(
                f"| {method} | {where} | {m['count']} | {m['pa_mpjpe']:.1f} | "
                f"{m['n_mpjpe']:.1f} | {m['mpjpe']:.1f} | {m['pck150']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path, help="Pose2Sim 0.8.4 wheel (default: pip download)")
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    ap.add_argument("--json", type=Path, default=Path("multiview_devset.json"))
    ap.add_argument("--max-error-px", type=float, default=MAX_ERROR_PX)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--build", type=Path, help="only write the dataset folder for kedro here")
    args = ap.parse_args(argv)
    if args.build:
        with tempfile.TemporaryDirectory(prefix="devset-wheel-") as tmp:
            print(build(args.wheel or fetch_wheel(Path(tmp)), args.build))
        return
    with tempfile.TemporaryDirectory(prefix="devset-") as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp) / "wheel")
        calib, folders = extract(wheel, Path(tmp) / "x")
        cameras = read_calibration(calib)
        kp, frames = read_openpose_views(folders)
    s, summary = build_devset(kp, frames, cameras, max_error_px=args.max_error_px)
    rows, skipped = select(s)
    preds = {
        Path(m).stem: lift(load_liftnet(m, args.device), s["kp2d"][rows], s["K"][rows])
        for m in args.models
    }
    preds |= floors(s, rows)
    names = [c.name for c in cameras]
    results = evaluate(s, rows, preds, names)
    err = np.asarray(summary["assoc_error_px"])
    unthr = np.asarray(summary["greedy_error_px_unthresholded"])
    report = {
        "summary": {k: v for k, v in summary.items() if not isinstance(v, list)},
        "assoc_error_px_percentiles": dict(
            zip(
                ("min", "p50", "p90", "p99", "max"),
                np.percentile(err, [0, 50, 90, 99, 100]).tolist(),
                strict=True,
            )
        ),
        "smallest_rejected_greedy_error_px": float(
            np.min(unthr[unthr >= args.max_error_px], initial=np.inf)
        ),
        "views_per_sample": np.bincount(s["views"]).tolist(),
        "samples": len(s["frame"]),
        "evaluated": len(rows),
        "skipped": skipped,
        "reliable_fraction_per_joint": s["reliable"].mean(0).round(3).tolist(),
        "body_joints": list(BODY),
        "results": results,
    }
    args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
