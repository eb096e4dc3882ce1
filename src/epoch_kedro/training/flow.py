"""Training of the 2D pose prior: a normalizing flow fitted to the training split's normalised 2D
poses by maximum likelihood (the normalization stage; LiftNet's training then scores its virtual
views under it)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from epoch_kedro.models.flow import FlowConfig, PoseFlow
from epoch_kedro.training.loop import FitResult, LoopConfig, fit
from epoch_kedro.utils.runtime import seed_everything


def train_flow(
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    stats: dict[str, np.ndarray],
    config: FlowConfig,
    loop: LoopConfig,
    noise: float = 0.01,
) -> tuple[PoseFlow, FitResult]:
    """Fit the 2D pose prior by maximum likelihood on the training split's normalised 2D poses."""
    seed_everything(loop.seed)  # initial weights are part of a reproducible run
    flow = PoseFlow(
        config, stats["pose2d_mean"], stats["pca_components"], stats["pca_variance"], seed=loop.seed
    )
    train_t = {"pose2d": torch.as_tensor(train["pose2d"], dtype=torch.float32)}
    val_pose = torch.as_tensor(val["pose2d"], dtype=torch.float32)

    def loss_fn(model, batch, generator):
        x = batch["pose2d"]
        x = x + noise * torch.randn(x.shape, generator=generator).to(x)
        return {"total": -model.log_prob(x).mean() / config.n_components}

    def validate_fn(model):
        device = next(model.parameters()).device
        return {"nll": float(-model.log_prob(val_pose.to(device)).mean() / config.n_components)}

    flow_loop = replace(loop, monitor="nll")
    result = fit(flow, train_t, loss_fn, validate_fn, flow_loop, meta={"name": "flow"})
    flow.load_state_dict(result.best_state)
    return flow.eval().cpu(), result
