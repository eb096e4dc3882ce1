"""The training loop survives a poisoned batch instead of turning the weights into NaN."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
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


def test_warmup_ramps_the_step_size_and_leaves_the_schedule_alone():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    data = {"x": torch.randn(64, 3), "y": torch.randn(64, 1)}
    weights = []

    def loss_fn(model, batch, generator):
        weights.append(model.weight.detach().clone())
        return {"total": ((model(batch["x"]) - batch["y"]) ** 2).mean()}

    config = LoopConfig(epochs=2, batch_size=8, lr=1e-2, lr_decay=0.5, warmup_steps=6)
    result = fit(model, data, loss_fn, lambda m: {}, config)
    steps = [float((b - a).abs().max()) for a, b in itertools.pairwise(weights)]
    # Adam moves each weight by about the learning rate: 1/6, 2/6, ... of it while ramping.
    assert steps[0] < 0.3 * 1e-2 and steps[0] < steps[2] < steps[4]
    assert abs(steps[7] - 1e-2) < 0.3e-2  # past the ramp: the full rate
    assert [h["lr"] for h in result.history] == [1e-2, 5e-3]


def test_cosine_schedule_falls_to_near_zero_over_the_epochs():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    data = {"x": torch.randn(16, 3), "y": torch.randn(16, 1)}

    def loss_fn(model, batch, generator):
        return {"total": ((model(batch["x"]) - batch["y"]) ** 2).mean()}

    config = LoopConfig(epochs=4, batch_size=8, lr=1e-2, schedule="cosine")
    result = fit(model, data, loss_fn, lambda m: {}, config)
    expected = [1e-2 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [h["lr"] for h in result.history] == pytest.approx(expected)


def test_unknown_schedule_names_the_parameter():
    with pytest.raises(ValueError, match=r"loop\.schedule='linear'"):
        LoopConfig(schedule="linear")


def test_a_gathered_table_batches_and_hashes_as_its_rows_would():
    from epoch_kedro.training.loop import Gather
    from epoch_kedro.utils.checkpoint import content_hash

    table = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    rows = np.array([4, 0, 2, 2])
    gathered = Gather.of(table, rows)
    whole = torch.as_tensor(table[rows])
    assert len(gathered) == 4 and gathered.shape == tuple(whole.shape)
    torch.testing.assert_close(gathered[torch.tensor([3, 0])], whole[[3, 0]])
    torch.testing.assert_close(gathered[1:3], whole[1:3])
    assert content_hash({"image": gathered}) == content_hash({"image": whole})
    chunked = list(gathered.tensor_chunks(rows=3))
    assert [len(c) for c in chunked] == [3, 1]
