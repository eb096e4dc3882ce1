"""Data-parallel training (``training.distributed``): two CPU processes (gloo) train exactly as
one process with the same global batch when the loss draws no random numbers, including batch
norm over the global batch; arguments reach the workers without a copy per worker."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from epoch_kedro.errors import CheckpointError
from epoch_kedro.training import distributed
from epoch_kedro.training.loop import LoopConfig, fit


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        # No bias before a batch norm (as in the backbone): its true gradient is zero, and
        # Adam would turn the float noise of that zero into full-size steps.
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2),
    )  # fmt: skip


def regression(model, batch, generator):
    return {"total": ((model(batch["x"]) - batch["y"]) ** 2).mean()}


def train_tiny(data: dict[str, np.ndarray], config: LoopConfig, checkpoint=None, resume=False):
    """Module level, so spawned workers can import it."""
    model = tiny_model()
    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in data.items()}
    result = fit(model, tensors, regression, lambda m: {}, config, checkpoint=checkpoint,
                 resume=resume)  # fmt: skip
    return model.state_dict(), result.history, distributed.world().size


def tiny_data(n: int = 96) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 1, 6, 6)).astype(np.float32)
    return {"x": x, "y": np.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1).astype(np.float32)}


CONFIG = LoopConfig(epochs=3, batch_size=32, lr=1e-2, seed=3, device="cpu", precision="fp32")


def test_two_processes_train_as_one_with_the_same_global_batch():
    data = tiny_data()
    one, history_one, size_one = train_tiny(data, CONFIG)
    two, history_two, size_two = distributed.launch(train_tiny, data, CONFIG, devices=2)
    assert (size_one, size_two) == (1, 2)
    # Same samples per step, gradients averaged over equal shards, batch norm over the global
    # batch: equal up to float summation order (1e-5 relative after 9 steps).
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5, msg=key)
    losses = [h["loss"] for h in history_two]
    assert losses == pytest.approx([h["loss"] for h in history_one], rel=1e-4)
    assert losses[-1] < losses[0]


def test_a_two_process_checkpoint_resumes_on_two_or_on_one_process(tmp_path):
    data = tiny_data()
    path = tmp_path / "tiny_last.pt"
    whole, _, _ = train_tiny(data, CONFIG)
    first = LoopConfig(**{**CONFIG.to_dict(), "epochs": 2})
    distributed.launch(train_tiny, data, first, checkpoint=path, devices=2)
    for devices in (2, 1):
        state, history, _ = distributed.launch(train_tiny, data, CONFIG, checkpoint=path,
                                               resume=True, devices=devices)  # fmt: skip
        assert [h["epoch"] for h in history] == [1, 2, 3]  # epochs 1-2 from the checkpoint
        for key in whole:
            torch.testing.assert_close(state[key], whole[key], rtol=1e-4, atol=1e-5)


def test_a_refusal_in_a_worker_is_the_same_one_line_error(tmp_path):
    data = tiny_data()
    path = tmp_path / "tiny_last.pt"
    distributed.launch(train_tiny, data, CONFIG, checkpoint=path, devices=2)
    changed = {**data, "y": data["y"] + 1}
    with pytest.raises(CheckpointError, match="refusing to resume, the training data changed"):
        distributed.launch(train_tiny, changed, CONFIG, checkpoint=path, resume=True, devices=2)


def test_side_by_side_jobs_return_what_each_returns_alone(tmp_path):
    data = tiny_data()
    other = LoopConfig(**{**CONFIG.to_dict(), "seed": 4})
    jobs = [(train_tiny, (data, CONFIG), {}), (train_tiny, (data, other), {})]
    alone = distributed.run_concurrently(jobs, concurrent=False)
    side_by_side = distributed.run_concurrently(jobs, concurrent=True)
    assert [size for *_, size in side_by_side] == [1, 1]  # separate processes, no group
    for (state, history, _), (again, history_again, _) in zip(alone, side_by_side, strict=True):
        for key in state:  # one thread per worker: float summation order may differ
            torch.testing.assert_close(again[key], state[key], rtol=1e-4, atol=1e-5)
        assert [h["loss"] for h in history_again] == pytest.approx(
            [h["loss"] for h in history], rel=1e-4
        )
    assert not torch.equal(alone[0][0]["5.weight"], alone[1][0]["5.weight"])  # two seeds
    path = tmp_path / "tiny_last.pt"
    train_tiny(data, CONFIG, checkpoint=path)
    refused = (train_tiny, ({**data, "y": data["y"] + 1}, CONFIG), {"checkpoint": path,
                                                                    "resume": True})  # fmt: skip
    with pytest.raises(CheckpointError, match="refusing to resume, the training data changed"):
        distributed.run_concurrently([jobs[0], refused], concurrent=True)


def test_arrays_reach_workers_as_mapped_files_not_copies(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.arange(2 * 64 * 1024, dtype=np.uint8).reshape(2, 256, 256))
    mapped = np.load(path, mmap_mode="r")
    folder = tmp_path / "shared"
    folder.mkdir()
    big, small = np.ones((100, 1000)), np.ones(3)
    shared = distributed.share({"images": mapped, "part": mapped[:1], "big": big, "small": small},
                               folder)  # fmt: skip
    assert shared["images"] == distributed._Mapped(str(path))  # mapped again from its file
    assert shared["big"] == distributed._Mapped(str(folder / "array1.npy"))  # written once
    assert isinstance(shared["part"], distributed._Mapped)  # a view: its own file
    assert shared["small"] is small  # small arrays are simply sent
    back = distributed.unshare(shared)
    np.testing.assert_array_equal(back["images"], mapped)
    np.testing.assert_array_equal(back["part"], mapped[:1])
    np.testing.assert_array_equal(back["big"], big)
    back["big"][0, 0] = 5  # copy-on-write: the training code may write to its inputs
    assert np.load(folder / "array1.npy")[0, 0] == 1


def test_the_torchrun_entry_point_names_its_stages():
    from epoch_kedro.train import main

    with pytest.raises(SystemExit, match=r"usage: python -m epoch_kedro.train \{normalization,"):
        main(["evaluation"])
