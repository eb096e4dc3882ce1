"""The settings of a training group that steer the run rather than the model: where its resume
checkpoint goes, whether to resume, what LiftNet trains on, how many CPU threads it uses.
(How many processes train together is the model's ``loop.devices``.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epoch_kedro.utils.runtime import set_threads

#: Keys of a training group that steer the run rather than the model (not in its config).
RUN_KEYS = ("train_inputs", "resume", "checkpoint_dir", "torch_threads", "concurrent")
#: Where resume checkpoints go unless ``checkpoint_dir`` says otherwise.
CHECKPOINT_DIR = "data/06_models/checkpoints"


@dataclass(frozen=True)
class RunSettings:
    """A training group's run settings (:data:`RUN_KEYS`)."""

    checkpoint_dir: Path
    resume: bool
    train_inputs: str
    concurrent: bool = False  # independent models of one node train side by side

    def checkpoint(self, name: str) -> Path:
        """The resume checkpoint of the model ``name``."""
        return self.checkpoint_dir / f"{name}_last.pt"


def run_settings(params: dict[str, Any]) -> tuple[dict[str, Any], RunSettings]:
    """Split a training group into the model's parameters and the run's settings, and apply
    its ``torch_threads``."""
    set_threads(params)
    model = {k: v for k, v in params.items() if k not in RUN_KEYS}
    settings = RunSettings(
        checkpoint_dir=Path(params.get("checkpoint_dir") or CHECKPOINT_DIR),
        resume=bool(params.get("resume", False)),
        train_inputs=str(params.get("train_inputs", "ground_truth")),
        concurrent=bool(params.get("concurrent", False)),
    )
    return model, settings
