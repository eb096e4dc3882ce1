"""Which LiftNet lifts real keypoints best: trained LiftNets scored on the multi-view development
set's real 2D (docs/DEVSET.md) with the real calibration, and with a guessed field of view
instead of its K (what ``predict --fov`` gives a user without a calibration).

Loads the set's test split as the cross-dataset pipeline does (``make devset`` builds it), lifts
each model's input three ways: the calibration's K and gravity; its K without gravity; a
``--fov`` degree horizontal field of view centred on the image, without gravity. Prints
PA-MPJPE (mm, over the scored body joints) of each, overall. The 3D truth is used only to score.

Usage: python experiments/devset_liftnets.py [MODEL.pt ...] [--fov 60] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from adapt_devset import DEVSET, devset_split, score  # the script next to this one

from epoch_kedro.liftnet_inputs import lift_inputs
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.predict.camera import Camera
from epoch_kedro.utils.checkpoint import load_checkpoint

MODELS = [f"data/06_models/{name}.pt" for name in ("liftnet_reference", "liftnet_weak", "liftnet")]


def inputs(split: dict[str, np.ndarray], K: np.ndarray, gravity: bool) -> dict[str, np.ndarray]:
    """The split with LiftNet's inputs rebuilt from its 2D, ``K`` and (or not) its gravity."""
    known = split["gravity"] if gravity else np.zeros_like(split["gravity"])
    return {**split, **lift_inputs(split["kp2d"], K, known, split["present"]), "K": K}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--root", default=DEVSET)
    ap.add_argument("--fov", type=float, default=60.0, help="the guessed field of view, degrees")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    split = devset_split(args.root)
    guessed, n = Camera(f"--fov {args.fov:g}", fov_deg=args.fov), len(split["K"])
    variants = {
        "calibration": inputs(split, split["K"], True),
        "calibration_no_gravity": inputs(split, split["K"], False),
        # The K `predict --fov` gives a user without a calibration.
        f"fov_{args.fov:g}": inputs(split, guessed.intrinsics(split["image_size"], n), False),
    }
    result = {}
    for path in args.models:
        model = liftnet_from_artifact(load_checkpoint(path))
        result[path] = {k: round(score(model, v)["pa_mpjpe"], 1) for k, v in variants.items()}
        print(path, json.dumps(result[path]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
