"""Model artifacts: a trained model as a plain checkpoint dict, and back.

Artifact layout: ``{"format", "kind", "config", "state_dict", "history", "training"}``, and
for RegNet ``"domain"``: its out-of-domain threshold, calibrated on its validation frames
(:func:`epoch_kedro.inference.regnet.calibrate_domain`; absent in artifacts trained before).
A LiftNet also carries ``"adaptation"``: what adapting it to new 2D needs, its 2D pose prior
(a ``pose_flow`` artifact) and a ``replay`` sample of its training inputs
(:mod:`epoch_kedro.training.adapt`; absent in artifacts trained before), and once adapted,
``"adapted"``: a record of what it was adapted on.
Only tensors and plain values, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from epoch_kedro.errors import CheckpointError
from epoch_kedro.models.flow import FlowConfig, PoseFlow
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint
from epoch_kedro.utils.runtime import pick_device

FORMAT = "epoch_kedro.model/v1"


def to_artifact(
    model: torch.nn.Module,
    kind: str,
    history: list[dict] | None = None,
    training: dict[str, Any] | None = None,
) -> dict:
    """Checkpoint dict of a trained network: its config, weights, per-epoch history and how it
    was trained (``training``: the loss weights, loop settings and precision it ran in)."""
    return {
        "format": FORMAT,
        "kind": kind,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": list(history or []),
        "training": dict(training or {}),
    }


def _check(artifact: dict[str, Any], kind: str) -> None:
    if artifact.get("format") != FORMAT:
        raise ValueError(f"not an epoch_kedro model artifact (format={artifact.get('format')!r})")
    if artifact.get("kind") != kind:
        raise ValueError(f"expected a '{kind}' artifact, got '{artifact.get('kind')}'")


def flow_from_artifact(artifact: dict[str, Any]) -> PoseFlow:
    """Rebuild the frozen 2D pose prior (eval mode, CPU)."""
    _check(artifact, "pose_flow")
    config = FlowConfig(**artifact["config"])
    state = artifact["state_dict"]
    dims = state["pose_mean"].shape[0]
    flow = PoseFlow(
        config, np.zeros(dims), np.zeros((config.n_components, dims)), np.ones(config.n_components)
    )
    flow.load_state_dict(state)
    return flow.eval()


def liftnet_from_artifact(artifact: dict[str, Any]) -> LiftNet:
    """Rebuild a trained LiftNet (eval mode, CPU), with what adapting it needs as attributes:
    ``training`` (how it was trained), ``adaptation`` (prior and replay, or None) and
    ``adapted`` (the adaptation record, or None)."""
    _check(artifact, "liftnet")
    state = artifact["state_dict"]
    # Artifacts from before the presence mask have no such inputs (models/liftnet.py).
    config = {"presence_mask": False, **artifact["config"]}
    model = LiftNet(LiftNetConfig(**config), torch.zeros_like(state["bone_mean"]))
    model.load_state_dict(state)
    model.training_record = dict(artifact.get("training") or {})
    model.history = list(artifact.get("history") or [])
    model.adaptation = artifact.get("adaptation")
    model.adapted = artifact.get("adapted")
    return model.eval()


def liftnet_to_artifact(model: LiftNet) -> dict:
    """The artifact of a LiftNet rebuilt by :func:`liftnet_from_artifact` (or adapted): its
    weights with the training record, the adaptation data and record it carries."""
    artifact = to_artifact(
        model, "liftnet", getattr(model, "history", None), getattr(model, "training_record", None)
    )
    for key in ("adaptation", "adapted"):
        if getattr(model, key, None) is not None:
            artifact[key] = getattr(model, key)
    return artifact


def adaptation_data(flow_artifact: dict[str, Any], replay: dict[str, torch.Tensor]) -> dict:
    """A LiftNet artifact's ``adaptation`` entry: its prior's artifact and the replay sample."""
    _check(flow_artifact, "pose_flow")
    return {"flow": flow_artifact, "replay": {k: v.detach().cpu() for k, v in replay.items()}}


def regnet_from_artifact(artifact: dict[str, Any]) -> RegNet:
    """Rebuild a trained RegNet (eval mode, CPU)."""
    _check(artifact, "regnet")
    config = dict(artifact["config"])
    config["widths"] = tuple(config["widths"])
    state = artifact["state_dict"]
    model = RegNet(RegNetConfig(**config), torch.zeros_like(state["bone_mean"]))
    model.load_state_dict(state)
    model.domain = artifact.get("domain")
    return model.eval()


def localizer_from_artifact(artifact: dict[str, Any]) -> Localizer:
    """Rebuild a trained localiser (eval mode, CPU)."""
    _check(artifact, "localizer")
    config = dict(artifact["config"])
    config["widths"] = tuple(config["widths"])
    model = Localizer(LocalizerConfig(**config))
    model.load_state_dict(artifact["state_dict"])
    return model.eval()


def load_liftnet(path: str | Path, device: str = "auto") -> LiftNet:
    """A trained LiftNet artifact (``data/06_models/liftnet.pt``), in eval mode on ``device``
    (``auto``: CUDA when available, else the CPU)."""
    return _load(path, liftnet_from_artifact, device)


def load_regnet(path: str | Path, device: str = "auto") -> RegNet:
    """A trained RegNet artifact (``data/06_models/regnet.pt``), as :func:`load_liftnet`."""
    return _load(path, regnet_from_artifact, device)


def load_localizer(path: str | Path, device: str = "auto") -> Localizer:
    """A trained localiser artifact (``data/06_models/localizer.pt``), as :func:`load_liftnet`."""
    return _load(path, localizer_from_artifact, device)


def _load(path: str | Path, rebuild, device: str):
    """``rebuild(artifact)`` on ``device``; an artifact whose config or weights do not fit
    the network (another version, a damaged or hand-edited file) is one line naming it."""
    artifact = load_checkpoint(path)
    try:
        model = rebuild(artifact)
    except (TypeError, KeyError, RuntimeError) as err:
        first = " ".join(str(err).split())[:300]
        raise CheckpointError(
            f"{path}: not a model this version can load ({first}); re-run the pipeline "
            "that writes it (make run)"
        ) from None
    return model.to(pick_device(device))


def save_liftnet(model: LiftNet, path: str | Path) -> None:
    """Write a LiftNet (e.g. adapted) as an artifact :func:`load_liftnet` and
    ``predict --liftnet`` read, atomically, with its checksum."""
    save_checkpoint(liftnet_to_artifact(model), path)
