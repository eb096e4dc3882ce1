"""Localiser training: full-frame 2D labels in the resized frame's pixels; augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.normalize import to_model_input
from epoch_kedro.data.synthetic.render import RendererConfig, render_dataset
from epoch_kedro.inference.regnet import prepare_images
from epoch_kedro.models.localizer import LocalizerConfig
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.training import localizer as L
from epoch_kedro.training.loop import LoopConfig


@pytest.fixture(scope="module")
def setup(synthetic_small):
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    split = to_model_input(data)
    rows = np.arange(0, len(split["kp2d"]), 3)
    frames, K = render_dataset(data, rows, RendererConfig(size=32))
    return split, ImageSet(frames, {"sample_id": rows, "K": K})


def config(epochs: int, size: int = 32, **loop) -> L.LocalizerTrainingConfig:
    return L.LocalizerTrainingConfig(
        model=LocalizerConfig(image_size=size, widths=(8, 16, 32)),
        loop=LoopConfig(epochs=epochs, batch_size=64, lr=2e-3, lr_decay=1.0, **loop),
        validation_samples=64,
    )


def test_frame_labels_are_in_the_resized_frame_pixels(setup):
    split, frames = setup
    batch = L.frame_tensors(split, frames)
    assert set(batch) == {"image", "kp2d", "visible"}  # 2D labels only
    rows = frames.index["sample_id"]
    scale = 32 / split["image_size"][rows][:, None, :]
    expected = (split["kp2d_observed"][rows] + 0.5) * scale - 0.5
    np.testing.assert_allclose(batch["kp2d"].numpy(), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(batch["image"][:].numpy(), frames.images)


def test_shift_moves_content_without_wrapping_it_around():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    shifted = L.shift_image(image, dx=1, dy=-1, margin=2)
    torch.testing.assert_close(shifted[0, 0, :3, 1:], image[0, 0, 1:, :3])  # content moved
    torch.testing.assert_close(shifted[0, 0, :, 0], shifted[0, 0, :, 1])  # edge replicated
    torch.testing.assert_close(shifted[0, 0, 3], shifted[0, 0, 2])


def test_augment_moves_the_labels_with_the_frame(setup):
    split, frames = setup
    batch = {k: v[:4] for k, v in L.frame_tensors(split, frames).items()}
    flipped = L.augment(batch, torch.Generator().manual_seed(0), L.FrameAugment(1.0, 0.0, 0.0))
    perm = list(FLIP_PERMUTATION)
    torch.testing.assert_close(flipped["kp2d"][..., 0], 31 - batch["kp2d"][:, perm, 0])
    torch.testing.assert_close(flipped["image"], prepare_images(batch["image"]).flip(-1))
    # A shift moves image and labels together by whole pixels.
    moved = L.augment(batch, torch.Generator().manual_seed(3), L.FrameAugment(0.0, 0.0, 0.25))
    delta = (moved["kp2d"] - batch["kp2d"])[0, 0]
    dx, dy = int(delta[0]), int(delta[1])
    assert (dx, dy) != (0, 0) and max(abs(dx), abs(dy)) <= 8
    torch.testing.assert_close(moved["kp2d"], batch["kp2d"] + delta)
    torch.testing.assert_close(
        moved["image"], L.shift_image(prepare_images(batch["image"]), dx, dy, 8)
    )


def test_training_runs_on_2d_labels_and_checks_the_frame_size(setup):
    split, frames = setup
    model, result = L.train_localizer(split, split, frames, config(1, max_steps_per_epoch=2))
    assert not model.training
    assert len(result.history) == 1 and np.isfinite(result.history[0]["loss"])
    assert {"val_px_error", "val_pck2d_005"} <= set(result.history[0])
    assert {"kp2d", "heatmap"} <= set(result.history[0])  # the loss terms
    message = r"images are 32 px but localizer\.model\.image_size is 64; set it to render\.size"
    with pytest.raises(ValueError, match=message):
        L.train_localizer(split, split, frames, config(1, size=64))
