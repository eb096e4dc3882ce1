"""RegNet training on rendered person crops: 2D-only supervision that lowers 2D error."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from epoch_kedro.data.crops import training_crops
from epoch_kedro.data.images import ImageSet, image_rows
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic.render import RendererConfig, render_dataset
from epoch_kedro.geometry import crop_pixels
from epoch_kedro.inference.regnet import predict_regnet, prepare_images
from epoch_kedro.models.backbone import heatmap_nll
from epoch_kedro.models.regnet import RegNetConfig
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.training import regnet as T
from epoch_kedro.training.loop import LoopConfig

DATASET = {"kind": "synthetic"}
RENDER = {"crop_size": 32, "noise_std": 2.0, "seed": 0}


@pytest.fixture(scope="module")
def setup(synthetic_small):
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    split = to_model_input(data)
    crops, index = training_crops(data, split["sample_id"], DATASET, RENDER)
    return split, ImageSet(crops, index), dataset_statistics(split)


def config(epochs: int, **loop) -> T.RegNetTrainingConfig:
    return T.RegNetTrainingConfig(
        model=RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=64, context_widths=()),
        loop=LoopConfig(epochs=epochs, batch_size=64, lr=2e-3, lr_decay=1.0, **loop),
        validation_samples=128,
    )


def batch_of(split, crops, n: int = 8) -> dict[str, torch.Tensor]:
    return {k: v[:n] for k, v in T.regnet_tensors(split, crops).items()}


def test_the_loss_batch_holds_no_3d_or_camera_labels(setup, monkeypatch):
    split, crops, stats = setup
    batch = T.regnet_tensors(split, crops)
    inputs = {"image", "box", "image_size", "frame", "kp2d", "visible"}  # images and 2D only
    assert set(T.REGNET_INPUTS) == inputs and set(batch) == inputs - {"frame"}
    augmented = T.augment(
        {k: v[:8] for k, v in batch.items()}, torch.Generator(), T.AugmentConfig()
    )
    assert set(augmented) == set(batch)
    # What train_regnet hands the loss, batch by batch: nothing beyond REGNET_INPUTS.
    seen: list[set[str]] = []
    real_terms = T.regnet_terms

    def recording_terms(model, flow, batch, generator, weights):
        seen.append(set(batch))
        return real_terms(model, flow, batch, generator, weights)

    monkeypatch.setattr(T, "regnet_terms", recording_terms)
    T.train_regnet(
        split, split, crops, stats["bone_length_mean"], None, config(1, max_steps_per_epoch=2)
    )
    assert seen and all(keys == set(batch) for keys in seen)


def test_regnet_tensors_pair_each_crop_with_its_box_and_labels(setup):
    split, crops, _ = setup
    keep = np.array([5, 17, 40])
    subset = ImageSet(crops.images[keep], {k: v[keep] for k, v in crops.index.items()})
    batch = T.regnet_tensors(split, subset)
    rows = crops.index["sample_id"][keep]  # split rows are sample ids here
    np.testing.assert_array_equal(batch["image"][:].numpy(), crops.images[keep])
    np.testing.assert_allclose(batch["box"].numpy(), crops.index["box"][keep])
    np.testing.assert_allclose(batch["kp2d"].numpy(), split["kp2d_observed"][rows])
    np.testing.assert_allclose(batch["image_size"].numpy(), split["image_size"][rows])
    assert batch["image"].dtype == torch.uint8  # converted per batch, on the device


def test_training_crops_are_jittered_label_boxes_around_the_person(setup):
    split, crops, _ = setup
    box = crops.index["box"]
    kp = crop_pixels(split["kp2d_observed"][crops.index["sample_id"]], box, 32)
    centre = kp.mean(1)
    # The person is in the crop, near (not exactly at) its centre, at about the box's scale.
    assert np.all(np.abs(centre - 15.5) < 10)
    assert np.std(centre) > 0.5
    extent = np.ptp(kp, axis=1).max(-1) / 32
    assert 0.5 < np.median(extent) < 0.9


def test_flip_moves_labels_and_box_with_the_image(setup):
    split, crops, _ = setup
    batch = batch_of(split, crops, 4)
    flipped = T.augment(batch, torch.Generator().manual_seed(0), T.AugmentConfig(1.0, 0.0))
    perm = list(FLIP_PERMUTATION)
    width = batch["image_size"][:, :1]  # keypoints and boxes live in the full frame
    torch.testing.assert_close(flipped["kp2d"][..., 0], width - 1 - batch["kp2d"][:, perm, 0])
    torch.testing.assert_close(flipped["kp2d"][..., 1], batch["kp2d"][:, perm, 1])
    torch.testing.assert_close(flipped["visible"], batch["visible"][:, perm])
    torch.testing.assert_close(flipped["box"][:, 0], width[:, 0] - 1 - batch["box"][:, 0])
    torch.testing.assert_close(flipped["box"][:, 1:], batch["box"][:, 1:])
    torch.testing.assert_close(flipped["image"], prepare_images(batch["image"]).flip(-1))
    torch.testing.assert_close(flipped["image_size"], batch["image_size"])
    # The labels stay where the mirrored crop shows them.
    before = crop_pixels(batch["kp2d"][:, perm], batch["box"], 32)
    after = crop_pixels(flipped["kp2d"], flipped["box"], 32)
    torch.testing.assert_close(after[..., 0], 31 - before[..., 0], atol=1e-3, rtol=0)
    torch.testing.assert_close(after[..., 1], before[..., 1], atol=1e-3, rtol=0)
    still = T.augment(batch, torch.Generator().manual_seed(0), T.AugmentConfig(0.0, 0.0))
    torch.testing.assert_close(still["kp2d"], batch["kp2d"])
    torch.testing.assert_close(still["box"], batch["box"])
    torch.testing.assert_close(still["image"], prepare_images(batch["image"]))


def test_masked_l1_ignores_invisible_joints_and_is_relative_to_the_box():
    pred = torch.zeros(2, 3, 2)
    kp = torch.tensor([[[3.0, 4.0], [100.0, 0.0], [0.0, 0.0]]] * 2)
    visible = torch.tensor([[True, False, True], [True, False, True]])
    side = torch.tensor([[7.0], [14.0]])
    # Visible errors: 7 and 0 (box 7), 7 and 0 (box 14): 1, 0, 0.5, 0.
    assert T.masked_l1(pred, kp, visible, side).item() == pytest.approx(0.375)
    assert T.masked_l1(pred, kp, torch.zeros_like(visible), side).item() == 0.0


def test_loss_terms_follow_the_weights(setup):
    split, crops, stats = setup
    torch.manual_seed(0)
    model = T.RegNet(config(1).model, stats["bone_length_mean"])
    batch = T.augment(batch_of(split, crops), torch.Generator(), T.AugmentConfig(0.0, 0.0))
    weights = T.RegNetLossWeights()
    terms = T.regnet_terms(model, None, batch, torch.Generator(), weights)
    expected = {"kp2d", "kp2d_heat", "heatmap", "symmetry", "bone_ratio", "bending"}
    assert set(terms) == expected | {"focal_prior", "total"}
    total = sum(getattr(weights, k) * terms[k] for k in terms if k != "total")
    torch.testing.assert_close(terms["total"], total)
    # The heatmap term reads the labels in the crop's pixels.
    out = model(batch["image"], batch["box"], batch["image_size"])
    labels = crop_pixels(batch["kp2d"], batch["box"], 32)
    torch.testing.assert_close(
        terms["heatmap"], heatmap_nll(out.heatmap, labels, batch["visible"], 32)
    )
    off = replace(weights, heatmap=0.0, kp2d_heat=0.0, focal_prior=0.0)
    assert set(T.regnet_terms(model, None, batch, torch.Generator(), off)) == {
        "kp2d",
        "symmetry",
        "bone_ratio",
        "bending",
        "total",
    }


def test_camera_metrics_are_zero_for_the_truth(setup):
    split, _, _ = setup
    rows = np.arange(0, 200, 5)
    truth = {
        "kp2d_heat": split["kp2d_observed"][rows],
        "kp2d": split["kp2d_observed"][rows] + [3.0, 4.0],  # the projected 2D, 5 px off
        "K": split["K"][rows],
        "gravity": split["gravity"][rows],
        "pose_cam": split["pose3d_cam"][rows],
    }
    metrics = T.camera_metrics(truth, split, rows)
    assert metrics["px_error"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["px_error_projected"] == pytest.approx(5.0, rel=1e-5)
    assert metrics["pck2d_005"] == pytest.approx(100.0)
    assert metrics["focal_rel_err"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["elevation_err_deg"] == pytest.approx(0.0, abs=1e-3)
    assert metrics["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)
    wrong = {**truth, "K": truth["K"] * [[1.1], [1.1], [1.0]]}
    assert T.camera_metrics(wrong, split, rows)["focal_rel_err"] == pytest.approx(0.1, rel=1e-4)


def test_crops_must_match_the_model_input_size(setup):
    split, crops, stats = setup
    small = replace(config(1), model=replace(config(1).model, image_size=64))
    message = r"images are 32 px but regnet\.model\.image_size is 64; set it to render\.crop_size"
    with pytest.raises(ValueError, match=message):
        T.train_regnet(split, split, crops, stats["bone_length_mean"], None, small)


def test_training_lowers_the_2d_error(setup):
    split, crops, stats = setup
    bones = stats["bone_length_mean"]
    model, after = T.train_regnet(split, split, crops, bones, None, config(4))
    losses = [h["loss"] for h in after.history]
    assert losses[-1] < losses[0]
    rows, img_rows = image_rows(split, crops.index)
    images, boxes = crops.images[img_rows], crops.index["box"][img_rows]
    size = split["image_size"][rows]
    torch.manual_seed(0)
    untrained = predict_regnet(T.RegNet(config(1).model, bones), images, boxes, size)
    trained = predict_regnet(model, images, boxes, size)
    err = [T.camera_metrics(p, split, rows)["px_error"] for p in (untrained, trained)]
    assert err[1] < 0.7 * err[0], err
    assert trained["kp2d"].shape == (len(rows), 17, 2)


def test_a_context_regnet_trains_on_crops_with_their_full_frames(setup, synthetic_small):
    split, crops, stats = setup
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    frames, K = render_dataset(data, crops.index["sample_id"], RendererConfig(size=16))
    with_frames = ImageSet(crops.images, crops.index, ImageSet(frames, {**crops.index, "K": K}))
    batch = {k: v[:8] for k, v in T.regnet_tensors(split, with_frames).items()}
    assert set(batch) <= set(T.REGNET_INPUTS) and batch["frame"].shape == (8, 16, 16, 3)
    flipped = T.augment(
        batch, torch.Generator().manual_seed(0), T.AugmentConfig(flip=1.0, colour=0)
    )
    torch.testing.assert_close(flipped["frame"], prepare_images(batch["frame"]).flip(-1))
    context = replace(
        config(1), model=replace(config(1).model, context_widths=(8, 16), context_size=16)
    )
    model, result = T.train_regnet(
        split, split, with_frames, stats["bone_length_mean"], None, context
    )
    assert model.context is not None and np.isfinite(result.history[-1]["val_px_error"])
    with pytest.raises(ValueError, match="no full frames were given"):
        T.train_regnet(split, split, crops, stats["bone_length_mean"], None, context)


def test_the_node_stores_the_calibrated_domain_threshold(setup, tmp_path, monkeypatch):
    """The artifact carries the threshold of its own validation frames, and inference reads it."""
    from epoch_kedro.inference.regnet import DOMAIN_RULE, domain_threshold
    from epoch_kedro.models.artifacts import regnet_from_artifact
    from epoch_kedro.pipelines.regnet import nodes
    from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint

    split, crops, stats = setup
    monkeypatch.setattr(nodes, "flow_from_artifact", lambda _artifact: None)
    params = {"checkpoint_dir": str(tmp_path), "validation_samples": 64,
              "model": {"image_size": 32, "widths": [8, 16], "hidden": 32, "context_widths": []},
              "loop": {"epochs": 1, "batch_size": 64}}  # fmt: skip
    frames = np.zeros((0, 16, 16, 3), np.uint8)
    artifact, _ = nodes.train_regnet_model(split, split, frames, {}, crops.images, crops.index,
                                           stats, {}, {}, params)  # fmt: skip
    domain = artifact["domain"]
    assert domain["rule"] == DOMAIN_RULE and domain["frames"] == 64
    assert 0 <= domain["misread"] <= 64 and np.isfinite(domain["threshold"])
    save_checkpoint(artifact, tmp_path / "regnet.pt")  # plain values: loads weights_only
    model = regnet_from_artifact(load_checkpoint(tmp_path / "regnet.pt"))
    assert domain_threshold(model) == domain["threshold"]
    again = nodes.calibrate_regnet_artifact(artifact, split, frames, {}, crops.images,
                                            crops.index, params)  # fmt: skip
    assert again["domain"] == pytest.approx(domain)
