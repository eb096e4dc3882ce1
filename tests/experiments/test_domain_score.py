"""RegNet's out-of-domain score: computed per image, written by predict, said out loud."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from epoch_kedro.inference import regnet as inference
from epoch_kedro.inference.regnet import (
    DOMAIN_THRESHOLD,
    calibrate_domain,
    domain_score,
    domain_threshold,
    flip_test,
    heatmap_spread,
    out_of_domain,
    threshold_of,
)
from epoch_kedro.models.artifacts import regnet_from_artifact, to_artifact
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.predict import predict
from epoch_kedro.predict.outputs import Lifted, write_predictions

FRAMES = np.array([[1000, 600], [640, 480]])
BOXES = np.array([[400.0, 300.0, 64.0], [320.0, 240.0, 300.0]])
TRAINED = Path(__file__).resolve().parents[2] / "data/06_models"
#: Heatmap rows of the 17 joints (8 x 8 maps, H36M order): a standing stick figure, left and
#: right joints level, so that only the columns decide whether the mirror image agrees.
ROWS = (4, 4, 5, 7, 4, 5, 7, 3, 2, 1, 0, 2, 3, 4, 2, 3, 4)
#: Two columns whose mean sits on the crop's vertical mid-line: the mirror image reads the
#: same 2D (a sure, mirror-consistent reader)...
CONSISTENT = (3, 4)
#: ... or right of it, 10 crop pixels off the mid-line, so the mirror image disagrees by 20.
OFF_CENTRE = (5, 7)


class Stick(torch.nn.Module):
    """Replaces ``IntegralKeypoints.heatmap``: joint j's mass split over ``(ROWS[j], col)`` for
    the ``cols``, whatever the image."""

    def __init__(self, cols: tuple[int, ...]) -> None:
        super().__init__()
        self.cols = cols

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((x.shape[0], 17, *x.shape[-2:]), -50.0)
        for joint, row in enumerate(ROWS):
            logits[:, joint, row, list(self.cols)] = 50.0
        return logits


def tiny_regnet() -> RegNet:
    torch.manual_seed(0)
    config = RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=32, context_widths=())
    return RegNet(config, np.full(16, 0.25))


def peaked_regnet(cols: tuple[int, ...]) -> RegNet:
    """A tiny RegNet whose heatmaps are a :class:`Stick` figure whatever the image."""
    model = tiny_regnet()
    model.keypoints.heatmap = Stick(cols)
    return model.eval()


def crops(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def test_the_heatmap_spread_is_the_standard_deviation_in_crop_fractions():
    prob = torch.zeros(2, 17, 8, 8)
    prob[0, :, 3, 3] = 1.0  # one cell: RegNet is sure
    prob[1, :, 2, 1] = prob[1, :, 2, 5] = 0.5  # two cells 4 apart in x: std 2 cells = 2 / 8
    np.testing.assert_allclose(heatmap_spread(prob), [[0.0] * 17, [0.25] * 17], atol=1e-6)


def test_the_score_is_the_geometric_mean_of_flip_disagreement_and_spread():
    consistent = flip_test(peaked_regnet(CONSISTENT), crops(2), BOXES, FRAMES)
    np.testing.assert_allclose(domain_score(consistent, BOXES), 0.0, atol=1e-3)
    off = flip_test(peaked_regnet(OFF_CENTRE), crops(2), BOXES, FRAMES)
    # Flip: 20 of 32 crop pixels; spread: cells 2 apart in x, a std of 1 cell = 1 / 8.
    np.testing.assert_allclose(domain_score(off, BOXES), np.sqrt(20 / 32 * 1 / 8), rtol=1e-3)
    assert out_of_domain(domain_score(off, BOXES)).all()
    assert not out_of_domain(domain_score(consistent, BOXES)).any()


class ByBrightness(torch.nn.Module):
    """A :class:`Stick` reader that is sure of bright crops and mirror-inconsistent on dark
    ones: two known scores in one pass (``image`` is set by a hook on RegNet's input)."""

    def __init__(self) -> None:
        super().__init__()
        self.image = torch.zeros(0)
        self.sure, self.unsure = Stick(CONSISTENT), Stick(OFF_CENTRE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = (self.image.flatten(1).mean(1) > 0.5)[:, None, None, None]
        return torch.where(bright, self.sure(x), self.unsure(x))


def bright_or_dark_regnet() -> RegNet:
    model = peaked_regnet(CONSISTENT)
    model.keypoints.heatmap = reader = ByBrightness()
    model.register_forward_pre_hook(lambda _m, args: setattr(reader, "image", args[0]))
    return model


def test_the_threshold_rule_takes_the_correct_reads_only():
    score = np.concatenate([np.linspace(0.01, 1.0, 100), [5.0] * 5, [9.0] * 2])
    error = np.concatenate([np.full(100, 0.05), np.full(5, 0.5), [np.nan] * 2])
    domain = threshold_of(score, error)
    # Misread frames (error >= 0.1) and frames without a label (NaN) do not set it.
    assert domain["threshold"] == pytest.approx(np.percentile(np.linspace(0.01, 1.0, 100), 99))
    assert (domain["frames"], domain["misread"]) == (105, 5)
    assert "p99" in domain["rule"] and "0.1 box side" in domain["rule"]
    assert threshold_of(score[100:105], error[100:105])["threshold"] == 0.0  # none read: trust none


@pytest.mark.parametrize(("dark_read", "expected"), [(0, 0.0), (3, np.sqrt(20 / 32 / 8))])
def test_calibration_scores_the_frames_and_keeps_the_correct_reads(dark_read, expected):
    """Bright frames: read correctly, score 0. Dark frames: score 0.28, misread unless their
    labels are RegNet's own reading; the threshold is set by the correct reads only."""
    n_bright, n_dark = 4, 3
    images = np.concatenate([np.full((n_bright, 32, 32, 3), 230, np.uint8),
                             np.full((n_dark, 32, 32, 3), 20, np.uint8)])  # fmt: skip
    boxes = np.tile(BOXES[1], (len(images), 1))
    size = np.tile(FRAMES[1], (len(images), 1))
    model = bright_or_dark_regnet()
    labels = flip_test(model, images, boxes, size)["kp2d_heat"]
    labels[n_bright + dark_read :] += 0.5 * boxes[0, 2]  # these dark frames are misread
    visible = np.ones((len(images), 17), bool)
    domain = calibrate_domain(model, images, boxes, size, labels, visible)
    assert domain["threshold"] == pytest.approx(expected, abs=1e-3)
    assert (domain["frames"], domain["misread"]) == (len(images), n_dark - dark_read)


def test_an_old_artifact_falls_back_to_the_constant_said_once(caplog):
    inference._log_fallback.cache_clear()
    old = regnet_from_artifact(to_artifact(tiny_regnet(), "regnet"))
    with caplog.at_level(logging.WARNING, logger="epoch_kedro.inference.regnet"):
        assert domain_threshold(old) == domain_threshold(old) == DOMAIN_THRESHOLD
    lines = [r.getMessage() for r in caplog.records if "no calibrated domain" in r.getMessage()]
    assert len(lines) == 1 and "default 0.10" in lines[0]


def test_a_calibrated_artifact_carries_its_threshold():
    artifact = {**to_artifact(tiny_regnet(), "regnet"), "domain": {"threshold": 0.07}}
    assert domain_threshold(regnet_from_artifact(artifact)) == 0.07


@pytest.fixture
def models(tiny_liftnet_path, tiny_image_models):
    regnet, localizer = tiny_image_models
    return {"liftnet": tiny_liftnet_path, "regnet": regnet, "localizer": localizer}


def _images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (240, 320, 3), np.uint8)).save(folder / f"{i}.png")


@pytest.mark.parametrize(("cols", "flagged"), [(OFF_CENTRE, True), (CONSISTENT, False)])
def test_predict_writes_the_score_and_warns_once(models, tmp_path, monkeypatch, caplog, cols,
                                                 flagged):  # fmt: skip
    monkeypatch.setattr("epoch_kedro.models.artifacts.load_regnet", lambda *_: peaked_regnet(cols))
    _images(tmp_path / "clip", 3)
    with caplog.at_level(logging.WARNING, logger="epoch_kedro.predict.core"):
        predict([str(tmp_path / "clip")], tmp_path / "out", **models)
    records = json.loads((tmp_path / "out/predictions.json").read_text())["predictions"]
    assert [r["out_of_domain"] for r in records] == [flagged] * 3
    assert all(isinstance(r["domain_score"], float) for r in records)
    arrays = np.load(tmp_path / "out/predictions.npz")
    np.testing.assert_array_equal(arrays["out_of_domain"], [flagged] * 3)
    np.testing.assert_allclose(arrays["domain_score"], [r["domain_score"] for r in records],
                               atol=1e-4)  # fmt: skip
    header, *rows = (tmp_path / "out/predictions.csv").read_text().splitlines()
    assert header.endswith(",domain_score,out_of_domain")
    assert all(row.endswith(f",{str(flagged).lower()}") for row in rows)
    warnings = [r.getMessage() for r in caplog.records if "RegNet was trained" in r.getMessage()]
    assert len(warnings) == int(flagged)
    if flagged:
        assert warnings[0].startswith("3 of 3 images look unlike")
        assert "labelled frames of your domain" in warnings[0]
        assert "2D keypoint detector" in warnings[0]


@pytest.mark.parametrize(("threshold", "flagged"), [(0.01, True), (10.0, False)])
def test_predict_flags_by_the_artifact_threshold(models, tmp_path, monkeypatch, caplog, threshold,
                                                 flagged):  # fmt: skip
    """The same scores (0.28, over the default 0.1): the stored threshold decides."""
    model = peaked_regnet(OFF_CENTRE)
    model.domain = {"threshold": threshold}
    monkeypatch.setattr("epoch_kedro.models.artifacts.load_regnet", lambda *_: model)
    _images(tmp_path / "clip", 2)
    with caplog.at_level(logging.WARNING, logger="epoch_kedro.predict.core"):
        predict([str(tmp_path / "clip")], tmp_path / "out", **models)
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["domain_threshold"] == threshold
    assert [r["out_of_domain"] for r in document["predictions"]] == [flagged] * 2
    warnings = [r.getMessage() for r in caplog.records if "RegNet was trained" in r.getMessage()]
    assert [f"domain score > {threshold:.2f}" in w for w in warnings] == [True] * int(flagged)


def test_keypoint_inputs_have_no_score(tmp_path):
    n = 2
    lifted = Lifted(["a.json"] * n, [0, 1], [0, 0], np.zeros((n, 17, 3)), np.zeros((n, 17, 2)),
                    np.tile(np.eye(3), (n, 1, 1)), [None] * n, "coco17", {"K": None})  # fmt: skip
    write_predictions(lifted, tmp_path)
    document = json.loads((tmp_path / "predictions.json").read_text())
    assert document["domain_threshold"] is None
    records = document["predictions"]
    assert all(r["out_of_domain"] is None and r["domain_score"] is None for r in records)
    assert "domain_score" not in np.load(tmp_path / "predictions.npz")
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert rows[1].endswith(",,")


@pytest.mark.skipif(
    not (TRAINED / "regnet.pt").is_file() or not (TRAINED / "localizer.pt").is_file(),
    reason="needs the default run's RegNet and localiser (make run)",
)
def test_the_trained_regnet_reads_renders_and_flags_noise(synthetic_small, tmp_path):
    """With the default run's models: rendered frames (the training domain) are in, an image
    of noise and a flat grey one are out."""
    from epoch_kedro.api import load_localizer, load_regnet
    from epoch_kedro.data.synthetic.render import RendererConfig, render_dataset
    from epoch_kedro.inference.images import estimate_from_images

    rows = np.arange(0, 48, 12)
    frames, _ = render_dataset(synthetic_small, rows, RendererConfig(size=1000, seed=1))
    paths = []
    for i, image in enumerate([*frames, np.random.default_rng(0).integers(0, 256, frames[0].shape),
                               np.full_like(frames[0], 128)]):  # fmt: skip
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(image.astype(np.uint8)).save(paths[-1])
    regnet = load_regnet(TRAINED / "regnet.pt", "cpu")
    est = estimate_from_images(paths, load_localizer(TRAINED / "localizer.pt", "cpu"), regnet)
    threshold = domain_threshold(regnet)
    flags = out_of_domain(est["domain_score"], threshold)
    assert not flags[: len(rows)].any(), (est["domain_score"], threshold)
    assert flags[len(rows) :].all(), (est["domain_score"], threshold)
