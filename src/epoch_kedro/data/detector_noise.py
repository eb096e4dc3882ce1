"""2D augmentation modelled on keypoint-detector errors, for training LiftNet.

LiftNet learns from 2D poses alone; trained only on exact 2D it reads every detector error
as a real body movement. Here its input is corrupted the way detectors (and RegNet) err,
while the cycle's 2D term still compares with the uncorrupted input, so the network learns
to lift through the noise instead of reproducing it. The three error kinds follow what is
seen in detector output: a small per-joint jitter that scales with the person's image size
(keypoint benchmarks score errors relative to the person's scale for that reason),
occasional gross errors of single joints, and left/right confusion of a whole limb.

All magnitudes are in units of the normalised 2D pose (the root-centred RMS joint radius
is 1; the synthetic test poses are a median 3.2 such units tall).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from epoch_kedro.geometry import normalize_2d
from epoch_kedro.skeleton import LEFT_JOINTS, RIGHT_JOINTS

#: Left/right limb chains a detector can confuse as a whole: (legs, arms).
_LIMBS = (
    (LEFT_JOINTS[:3], RIGHT_JOINTS[:3]),
    (LEFT_JOINTS[3:], RIGHT_JOINTS[3:]),
)


@dataclass(frozen=True)
class DetectorNoise:
    """How LiftNet's training 2D is corrupted (the ``liftnet.noise`` parameter group).

    The defaults switch it off; ``share`` keeps part of every batch clean, so that exact
    2D is still lifted as well as before.
    """

    share: float = 0.0  # fraction of samples corrupted
    sigma: float = 0.0  # per-joint Gaussian jitter, per coordinate
    outlier_rate: float = 0.0  # per joint: chance of a gross error
    outlier_sigma: float = 0.5  # per coordinate, for those joints
    swap_rate: float = 0.0  # per corrupted sample: chance that one limb's left and right swap

    @property
    def active(self) -> bool:
        return self.share > 0 and (self.sigma > 0 or self.outlier_rate > 0 or self.swap_rate > 0)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter that is out of range."""
        for name in ("share", "outlier_rate", "swap_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"liftnet.noise.{name}={value}: expected a share in [0, 1]")
        for name in ("sigma", "outlier_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"liftnet.noise.{name}={getattr(self, name)}: expected >= 0")


def _chance(shape: tuple[int, ...], rate: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=generator) < rate


def _swap_limbs(pose2d: torch.Tensor, chosen: torch.Tensor, generator: torch.Generator):
    """Swap the left and right joints of one random limb (leg or arm) in the ``chosen`` rows."""
    limb = torch.randint(len(_LIMBS), (len(pose2d),), generator=generator)
    out = pose2d.clone()
    for index, (left, right) in enumerate(_LIMBS):
        rows = torch.nonzero(chosen & (limb == index)).flatten().to(pose2d.device)
        if len(rows):
            out[rows[:, None], torch.tensor(left)] = pose2d[rows[:, None], torch.tensor(right)]
            out[rows[:, None], torch.tensor(right)] = pose2d[rows[:, None], torch.tensor(left)]
    return out


def corrupt(
    batch: dict[str, torch.Tensor], noise: DetectorNoise, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A copy of a LiftNet batch with detector-like errors in ``pose2d`` (and consistent
    ``scale2d`` / ``root_ray``); other fields are shared, the input batch is not modified."""
    if not noise.active:
        return batch
    pose2d, scale = batch["pose2d"], batch["scale2d"]
    n, joints = pose2d.shape[:2]
    chosen = _chance((n,), noise.share, generator)
    error = noise.sigma * torch.randn((n, joints, 2), generator=generator)
    gross = _chance((n, joints), noise.outlier_rate, generator)[..., None]
    outlier = noise.outlier_sigma * torch.randn(error.shape, generator=generator)
    error = torch.where(gross, outlier, error)
    error = error * chosen[:, None, None]
    noisy = _swap_limbs(pose2d, chosen & _chance((n,), noise.swap_rate, generator), generator)
    noisy = noisy + error.to(pose2d)
    # Back to the normalised form: the root may have moved and the pose's scale changed.
    renormed, factor = normalize_2d(noisy)
    out = dict(batch)
    out["pose2d"] = renormed
    out["scale2d"] = scale * factor
    out["root_ray"] = batch["root_ray"] + noisy[:, 0] * scale[:, None]
    return out
