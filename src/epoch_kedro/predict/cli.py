"""The ``epoch-kedro predict`` command (also ``python -m epoch_kedro predict``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from dataclasses import replace

from epoch_kedro.errors import EpochError
from epoch_kedro.keypoints import LAYOUTS
from epoch_kedro.predict.camera import DEFAULT_FOV_DEG, camera_from_options
from epoch_kedro.predict.core import DEFAULT_LIFTNET, DEFAULT_LOCALIZER, DEFAULT_REGNET, predict
from epoch_kedro.predict.readers import PredictError, input_files
from epoch_kedro.training.adapt import AdaptConfig

LAYOUT_CHOICES = ["auto", *sorted(LAYOUTS), "openpose"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epoch-kedro predict",
        description="Metric 3D poses (camera frame, metres) from images (PNG/JPEG) or 2D "
        "keypoint files: COCO keypoint results, OpenPose JSON, MediaPipe landmarks or "
        "H36M-17 npz/CSV.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    parser.add_argument("--out", required=True, help="folder for predictions.{json,npz,csv}")
    parser.add_argument("--layout", default="auto", choices=LAYOUT_CHOICES,
                        help="keypoint layout (auto: from the keypoint count; 25 keypoints, "
                        "BODY_25 or BODY_25B, from their positions; openpose: any OpenPose "
                        "layout; see docs/KEYPOINTS.md)")  # fmt: skip
    camera = parser.add_mutually_exclusive_group()
    camera.add_argument("--camera", help="JSON/YAML with K (3x3), optional dist, image_size")
    camera.add_argument("--focal", type=float, help="focal length in pixels")
    camera.add_argument("--fov", type=float, help="horizontal field of view in degrees")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"),
                        help="image size of keypoint files (images know their own)")  # fmt: skip
    parser.add_argument("--liftnet", help=f"LiftNet artifact (default {DEFAULT_LIFTNET})")
    parser.add_argument("--regnet", help=f"RegNet artifact for images (default {DEFAULT_REGNET})")
    parser.add_argument("--localizer", help=f"localiser artifact (default {DEFAULT_LOCALIZER})")
    parser.add_argument("--plot", action="store_true",
                        help="a PNG per pose and a GIF per sequence in OUT/plots")  # fmt: skip
    parser.add_argument("--same-camera", action="store_true",
                        help="images in one folder come from one fixed camera: pool RegNet's "
                        "camera estimates over the folder")  # fmt: skip
    parser.add_argument(
        "--all-people",
        action="store_true",
        help="every person of a COCO/OpenPose frame, not only the most confident",
    )
    parser.add_argument(
        "--adapt",
        action="store_true",
        help="first adapt LiftNet to these poses without 3D labels (all cameras and frames "
        "of one recording; at least 50 poses), then lift; writes OUT/liftnet_adapted.pt "
        "for --liftnet (docs/ADAPTATION.md)",
    )
    parser.add_argument(
        "--adapt-steps",
        type=int,
        metavar="N",
        help=f"LiftNet steps of --adapt at most (default {AdaptConfig().steps})",
    )
    parser.add_argument("--min-confidence", type=float, default=0.3,
                        help="keypoints below this confidence count as missing")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log what it does (which models, cameras, adaptation steps); "
                        "without it only warnings and the summary are printed")  # fmt: skip
    parser.epilog = (
        f"Without --camera/--focal/--fov: images use RegNet's estimated camera, "
        f"keypoint files a {DEFAULT_FOV_DEG:g} deg horizontal field of view."
    )
    return parser


def _report(summary: dict) -> None:
    print(f"lifted {summary['lifted']} poses, skipped {len(summary['skipped'])} "
          f"(camera: {summary['camera']})")  # fmt: skip
    reasons = Counter(reason for _, _, reason in summary["skipped"])
    for reason, count in reasons.most_common():
        print(f"  skipped {count}: {reason}")
    for source, frame, reason in summary["skipped"][:5]:
        print(f"  e.g. {source} frame {frame}: {reason}")
    for line in summary["warnings"]:
        print(f"warning: {line}")
    files = summary["files"]
    plots = [f for f in files if "/plots/" in f.replace("\\", "/")]
    print("wrote " + ", ".join(f for f in files if f not in plots))
    if plots:
        print(f"wrote {len(plots)} pictures in {plots[0].rsplit('plots', 1)[0]}plots")


def _adapt_config(adapt: bool, steps: int | None) -> AdaptConfig | None:
    if steps is not None and not adapt:
        raise PredictError("--adapt-steps without --adapt: add --adapt (or drop --adapt-steps)")
    if not adapt:
        return None
    if steps is not None and steps < 1:
        raise PredictError(f"--adapt-steps {steps}: expected a number of steps >= 1")
    return AdaptConfig() if steps is None else replace(AdaptConfig(), steps=steps)


def main(argv: list[str] | None = None) -> int:
    """The ``epoch-kedro predict`` command: 0 on success, 2 with one line on bad input."""
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger().setLevel(logging.INFO)
    size = tuple(args.image_size) if args.image_size else None
    try:
        adapt = _adapt_config(args.adapt, args.adapt_steps)
        input_files(args.inputs)  # the inputs' errors first: they are the likelier mistake
        camera = camera_from_options(args.camera, args.focal, args.fov, size)
        summary = predict(
            args.inputs,
            args.out,
            layout=args.layout,
            camera=camera,
            image_size=size,
            liftnet=args.liftnet,
            regnet=args.regnet,
            localizer=args.localizer,
            min_confidence=args.min_confidence,
            same_camera=args.same_camera,
            all_people=args.all_people,
            plot=args.plot,
            adapt=adapt,
        )
    except EpochError as err:  # bad input, a missing or damaged model: one line, exit 2
        print(f"epoch-kedro predict: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    _report(summary)
    return 0
