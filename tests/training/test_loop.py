"""The training loop survives a poisoned batch instead of turning the weights into NaN."""

from __future__ import annotations

import torch

from epoch_kedro.training.loop import LoopConfig, fit


def test_non_finite_batches_are_skipped_and_counted():
    model = torch.nn.Linear(3, 1)
    data = {"x": torch.randn(64, 3), "y": torch.randn(64, 1)}
    calls = {"n": 0}

    def loss_fn(model, batch, generator):
        calls["n"] += 1
        loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
        if calls["n"] == 2:
            loss = loss * float("nan")
        return {"total": loss}

    result = fit(model, data, loss_fn, lambda m: {}, LoopConfig(epochs=2, batch_size=16))
    assert sum(h["skipped_batches"] for h in result.history) == 1
    assert all(torch.isfinite(v).all() for v in result.best_state.values())
