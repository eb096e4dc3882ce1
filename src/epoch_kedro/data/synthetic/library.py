"""The motion library: the scripted actions and the keyframe families, and one clip of each."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from epoch_kedro.data.synthetic.families import FAMILIES
from epoch_kedro.data.synthetic.motions import SCRIPTED, SIGNS, Clip, Knobs
from epoch_kedro.skeleton import NUM_JOINTS

#: Every motion by name: the twelve scripted actions, then the keyframe families.
ACTIONS: dict[str, Callable[[Knobs], Clip]] = {**SCRIPTED, **FAMILIES}


def _fidget(k: Knobs, n_joints: int) -> np.ndarray:
    """Smooth random deviations (a few degrees) so no two sequences move identically."""
    freqs = k.rng.uniform(0.1, 0.6, size=(2, n_joints, 3))
    phases = k.rng.uniform(0, 2 * np.pi, size=(2, n_joints, 3))
    amps = k.rng.uniform(1.0, 4.0, size=(2, n_joints, 3))
    t = k.t[:, None, None, None]
    return (amps * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)


def sample_clip(action: str, frames: int, fps: float, rng: np.random.Generator) -> Clip:
    """Draw one sequence of ``action``: random tempo, amplitude, phase, side and fidgeting."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action '{action}'; the library has: {sorted(ACTIONS)}")
    knobs = Knobs(
        t=np.arange(frames) / fps,
        tempo=float(rng.uniform(0.8, 1.25)),
        amp=float(rng.uniform(0.75, 1.15)),
        phase=float(rng.uniform(0, 2 * np.pi)),
        side=str(rng.choice(["L", "R"])),
        rng=rng,
    )
    clip = ACTIONS[action](knobs)
    clip.angles = clip.angles + _fidget(knobs, NUM_JOINTS) * (SIGNS != 0)
    return clip.limited()
