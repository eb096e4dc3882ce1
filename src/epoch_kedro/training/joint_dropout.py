"""Random joint dropout in LiftNet's training: how it learns to lift poses with joints missing.

Real 2D misses joints: the face of a person seen from behind, a wrist out of frame, an
occluded knee. A LiftNet with a presence mask (:class:`~epoch_kedro.models.liftnet.LiftNetConfig`)
is trained on poses with some joints hidden at random: their inputs zeroed, the mask saying
so, the 2D renormalised over the joints left. The hidden joints' 2D is still known in training,
so the 2D cycle term could ask the lift to put them back where they were (``score_hidden``);
measured, that made every lift worse, the complete ones included (docs/MISSING_JOINTS.md), so
by default the hidden joints are placed by the cycle's 3D terms and the flow prior alone.

The pelvis and hips are never hidden: the pelvis (their midpoint) anchors the pose's position
and 2D frame, and a frame without it is not lifted (docs/MISSING_JOINTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from epoch_kedro.liftnet_inputs import normalize_present
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS

#: Hidden together: the joints a layout derives from the face (nose, eyes).
FACE = tuple(JOINT_INDEX[j] for j in ("Neck", "Head"))
#: One of them hidden at a time: the limb joints that leave the frame or are occluded.
LIMB = tuple(JOINT_INDEX[s + j] for s in "LR" for j in ("Elbow", "Wrist", "Knee", "Foot"))
#: Never hidden: the pelvis (the root) and the hips it is made of.
KEPT = tuple(JOINT_INDEX[j] for j in ("Hip", "LHip", "RHip"))


@dataclass(frozen=True)
class JointDropout:
    """Which joints LiftNet's training hides (the ``liftnet.dropout`` parameter group).

    A ``share`` of the poses have joints hidden, by one pattern each, drawn in proportion to
    the pattern weights: ``face`` (Neck and Head), ``limb`` (one elbow, wrist, knee or foot),
    ``random`` (every joint but the pelvis and hips, each with chance ``random_rate``).
    """

    share: float = 0.0  # fraction of poses with joints hidden (0: off)
    face: float = 1.0  # pattern weights
    limb: float = 1.0
    random: float = 1.0
    random_rate: float = 0.2  # per joint, in the random pattern
    score_hidden: bool = False  # the 2D cycle term scores the hidden joints' known 2D too

    @property
    def active(self) -> bool:
        return self.share > 0 and self.face + self.limb + self.random > 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter that is out of range."""
        for name in ("share", "random_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"liftnet.dropout.{name}={value}: expected a share in [0, 1]")
        for name in ("face", "limb", "random"):
            if getattr(self, name) < 0:
                raise ValueError(f"liftnet.dropout.{name}={getattr(self, name)}: expected >= 0")


def hidden_joints(n: int, dropout: JointDropout, generator: torch.Generator) -> torch.Tensor:
    """``(n, 17)`` bool: the joints to hide in each of ``n`` poses (CPU)."""
    hidden = torch.zeros(n, NUM_JOINTS, dtype=torch.bool)
    if not dropout.active:
        return hidden
    chosen = torch.rand(n, generator=generator) < dropout.share
    weights = torch.tensor([dropout.face, dropout.limb, dropout.random], dtype=torch.float64)
    pattern = torch.multinomial(weights, n, replacement=True, generator=generator)
    hidden[:, list(FACE)] = (pattern == 0)[:, None]
    limb = torch.tensor(LIMB)[torch.randint(len(LIMB), (n,), generator=generator)]
    hidden[torch.arange(n), limb] |= pattern == 1
    hidden |= (torch.rand(n, NUM_JOINTS, generator=generator) < dropout.random_rate) & (
        pattern == 2
    )[:, None]
    hidden[:, list(KEPT)] = False
    return hidden & chosen[:, None]


def drop_joints(
    batch: dict[str, torch.Tensor], dropout: JointDropout, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A copy of a LiftNet batch with random joints hidden: ``present`` cleared for them,
    ``pose2d`` and ``scale2d`` renormalised over the joints left (``root_ray`` is kept: the
    root is never hidden). The input batch is not modified."""
    pose2d, scale = batch["pose2d"], batch["scale2d"]
    hidden = hidden_joints(len(pose2d), dropout, generator).to(pose2d.device)
    present = batch.get("present")
    present = ~hidden if present is None else present & ~hidden
    renormed, factor = normalize_present(pose2d, present)
    out = dict(batch)
    out["pose2d"] = renormed
    out["scale2d"] = scale * factor
    out["present"] = present
    return out
