"""RegNet training on rendered synthetic images: 2D-only supervision that lowers 2D error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic.render import RenderConfig, render_dataset
from epoch_kedro.models.regnet import RegNetConfig
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.training import regnet as T
from epoch_kedro.training.loop import LoopConfig


@pytest.fixture(scope="module")
def setup(synthetic_small):
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    split = to_model_input(data)
    rows = np.arange(len(split["kp2d"]))
    images, K = render_dataset(data, rows, RenderConfig(size=32))
    image_set = T.ImageSet(images, {"sample_id": rows, "K": K})
    return split, image_set, dataset_statistics(split)


def config(epochs: int) -> T.RegNetTrainingConfig:
    return T.RegNetTrainingConfig(
        model=RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=64),
        loop=LoopConfig(epochs=epochs, batch_size=64, lr=2e-3, lr_decay=1.0),
        validation_samples=128,
    )


def test_the_loss_batch_holds_no_3d_or_camera_labels(setup):
    split, image_set, _ = setup
    batch = T.regnet_tensors(split, image_set.images, image_set.index)
    assert set(batch) == set(T.REGNET_INPUTS) == {"image", "kp2d", "visible"}
    augmented = T.augment(
        {k: v[:8] for k, v in batch.items()}, torch.Generator(), T.AugmentConfig()
    )
    assert set(augmented) == set(T.REGNET_INPUTS)


def test_flip_moves_labels_with_the_image(setup):
    split, image_set, _ = setup
    batch = {
        k: v[:4] for k, v in T.regnet_tensors(split, image_set.images, image_set.index).items()
    }
    flipped = T.augment(
        batch, torch.Generator().manual_seed(0), T.AugmentConfig(flip=1.0, colour=0.0, shift=0.0)
    )
    perm = list(FLIP_PERMUTATION)
    torch.testing.assert_close(flipped["kp2d"][..., 0], 31 - batch["kp2d"][:, perm, 0])
    torch.testing.assert_close(flipped["image"], T.prepare_images(batch["image"]).flip(-1))


def test_training_lowers_the_2d_error(setup):
    split, image_set, stats = setup
    bones = stats["bone_length_mean"]
    model, after = T.train_regnet(split, split, image_set, bones, None, config(6))
    losses = [h["loss"] for h in after.history]
    assert losses[-1] < losses[0]
    rows, img_rows = T.image_rows(split, image_set.index)
    untrained = T.predict(T.RegNet(config(1).model, bones), image_set.images[img_rows])
    trained = T.predict(model, image_set.images[img_rows])
    err = [T.camera_metrics(p, split, rows, 32)["px_error"] for p in (untrained, trained)]
    assert err[1] < 0.7 * err[0]
    assert trained["kp2d"].shape == (len(rows), 17, 2)


def test_shift_moves_content_without_wrapping_it_around():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    shifted = T.shift_image(image, dx=1, dy=-1, margin=2)
    torch.testing.assert_close(shifted[0, 0, :3, 1:], image[0, 0, 1:, :3])  # content moved
    torch.testing.assert_close(shifted[0, 0, :, 0], shifted[0, 0, :, 1])  # edge replicated
    torch.testing.assert_close(shifted[0, 0, 3], shifted[0, 0, 2])
