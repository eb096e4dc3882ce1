"""`epoch-kedro predict` on images reads the camera from EXIF before RegNet's estimate."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from epoch_kedro.predict import camera_from_options, predict
from epoch_kedro.predict.camera import NO_EXIF_FOCAL, Camera, exif_intrinsics

TAG = ExifTags.Base
REGNET = "RegNet's estimate per image"
# A phone: 4.2 mm lens, 1.41 um pixels (18000 px per inch), 4000 x 3000 frames.
PHONE = {TAG.FocalLength: IFDRational(42, 10), TAG.FocalPlaneXResolution: 18000,
         TAG.FocalPlaneYResolution: 18000, TAG.FocalPlaneResolutionUnit: 2,
         TAG.ExifImageWidth: 4000, TAG.ExifImageHeight: 3000}  # fmt: skip
#: f px of a 400 x 300 image: 28 mm equivalent (the 500 px diagonal spans 43.27 mm), and PHONE's
#: 4.2 mm at 18000 px/inch over the 4000 px width EXIF names, now 400 px.
F_28MM = 28 * 500 / math.hypot(36, 24)
F_PHONE = 4.2 * 18000 / 25.4 * 0.1


def _jpeg(path, size=(400, 300), tags=None, orientation=None, seed=0):
    """A noise JPEG of ``size`` (W, H) with ``tags`` in its Exif IFD (where cameras put the
    focal tags) and ``orientation`` at the top level."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif).update(tags or {})
    if orientation is not None:
        exif[TAG.Orientation] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, exif=exif)
    return path


def _K(f, size):
    return np.array([[f, 0, size[0] / 2], [0, f, size[1] / 2], [0, 0, 1]])


def test_focal_length_in_35mm_film_spans_the_frame_diagonal(tmp_path):
    """28 mm equivalent: the 400 x 300 px diagonal (500 px) spans the 43.27 mm full-frame
    diagonal, not 36 mm across the width (which would give 311.1 px)."""
    path = _jpeg(tmp_path / "a.jpg", tags={TAG.FocalLengthIn35mmFilm: 28})
    K, source = exif_intrinsics(path, (400, 300))
    assert source == "FocalLengthIn35mmFilm"
    np.testing.assert_allclose(K, _K(F_28MM, (400, 300)), rtol=1e-12)
    assert K[0, 0] == pytest.approx(323.58, abs=0.01)


@pytest.mark.parametrize(("unit", "per_unit"), [(2, 18000), (3, 18000 / 2.54), (4, 18000 / 25.4)])
def test_focal_length_with_the_focal_plane_resolution_of_a_resized_image(unit, per_unit, tmp_path):
    """4.2 mm at 18000 px/inch is 2976.4 px at the 4000 px width EXIF names; the file is 400 px
    wide now, a tenth of it."""
    tags = {**PHONE, TAG.FocalPlaneXResolution: per_unit, TAG.FocalPlaneYResolution: per_unit,
            TAG.FocalPlaneResolutionUnit: unit}  # fmt: skip
    K, source = exif_intrinsics(_jpeg(tmp_path / "b.jpg", tags=tags), (400, 300))
    assert source == "FocalLength"
    np.testing.assert_allclose(K, _K(F_PHONE, (400, 300)), rtol=1e-7)


def test_without_exif_image_size_the_file_is_taken_at_its_original_size(tmp_path):
    tags = {k: v for k, v in PHONE.items() if k not in (TAG.ExifImageWidth, TAG.ExifImageHeight)}
    K, _ = exif_intrinsics(_jpeg(tmp_path / "b.jpg", (4000, 3000), tags), (4000, 3000))
    np.testing.assert_allclose(K[0, 0], 4.2 * 18000 / 25.4)


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        (None, NO_EXIF_FOCAL),
        ({TAG.FocalLength: 4.2}, NO_EXIF_FOCAL),  # no sensor size: no focal in pixels
        ({TAG.FocalLengthIn35mmFilm: 0}, r"FocalLengthIn35mmFilm is 0"),  # 0: unknown
        ({TAG.FocalLengthIn35mmFilm: 48388}, r"0.0\d+ deg horizontal field of view"),
        ({TAG.FocalLengthIn35mmFilm: 2}, r"167 deg horizontal field of view"),
        ({**PHONE, TAG.FocalLength: 0.0}, r"FocalLength is 0 mm"),
        ({**PHONE, TAG.FocalPlaneResolutionUnit: 1}, r"FocalPlaneResolutionUnit is 1"),
        ({**PHONE, TAG.FocalPlaneYResolution: 9000}, r"fx/fy = 2 \(non-square pixels\)"),
        ({**PHONE, TAG.ExifImageWidth: 3000, TAG.ExifImageHeight: 4000},
         r"400x300 but EXIF says 3000x4000 \(cropped or rotated since\)"),
    ],
)  # fmt: skip
def test_bad_or_missing_exif_gives_no_K_and_says_why(tags, why, tmp_path):
    K, note = exif_intrinsics(_jpeg(tmp_path / "c.jpg", tags=tags), (400, 300))
    assert K is None and re.search(why, note), note


def test_a_file_pillow_cannot_read_is_no_error(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not a jpeg")
    K, note = exif_intrinsics(tmp_path / "x.jpg", (400, 300))
    assert K is None and note.startswith("unreadable EXIF")


def test_a_nonsense_35mm_focal_falls_through_to_focal_length(tmp_path):
    path = _jpeg(tmp_path / "d.jpg", tags={**PHONE, TAG.FocalLengthIn35mmFilm: 48388})
    K, source = exif_intrinsics(path, (400, 300))
    assert source == "FocalLength" and K[0, 0] == pytest.approx(F_PHONE)


def test_a_camera_records_per_image_origins_only_where_it_has_them():
    assert "origins" not in Camera("--fov 60 deg", fov_deg=60.0).as_json()
    assert Camera("mixed", origins=("a", "b")).as_json()["origins"] == ["a", "b"]


@pytest.fixture
def models(tiny_liftnet_path, tiny_image_models):
    regnet, localizer = tiny_image_models
    return {"liftnet": tiny_liftnet_path, "regnet": regnet, "localizer": localizer}


def _regnet_K(paths, models):
    from epoch_kedro.api import load_localizer, load_regnet
    from epoch_kedro.inference.images import estimate_from_images

    est = estimate_from_images(paths, load_localizer(models["localizer"]),
                               load_regnet(models["regnet"]))  # fmt: skip
    return est["K"].astype(np.float64)


def test_predict_lifts_with_each_images_exif_K_and_records_its_origin(models, tmp_path, caplog):
    """Image 0 is stored sideways (Orientation 6): RegNet reads the stored 400 x 300 pixels,
    and K belongs to them."""
    clip = tmp_path / "clip"
    paths = [
        _jpeg(clip / "frame_0000.jpg", tags={TAG.FocalLengthIn35mmFilm: 28}, orientation=6),
        _jpeg(clip / "frame_0001.jpg", tags=PHONE, seed=1),
        _jpeg(clip / "frame_0002.jpg", seed=2),
        _jpeg(clip / "frame_0003.jpg", tags={TAG.FocalLengthIn35mmFilm: 48388}, seed=3),
    ]
    with caplog.at_level("INFO", logger="epoch_kedro.predict.core"):
        summary = predict([str(clip)], tmp_path / "out", **models)
    assert summary["camera"] == ("EXIF (FocalLengthIn35mmFilm) for 1 image; EXIF (FocalLength) "
                                 f"for 1 image; {REGNET} for 2 images")  # fmt: skip
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["camera"]["K"] is None
    assert document["camera"]["origins"] == [
        "EXIF (FocalLengthIn35mmFilm)", "EXIF (FocalLength)", REGNET, REGNET]  # fmt: skip
    arrays = np.load(tmp_path / "out/predictions.npz")
    np.testing.assert_array_equal(arrays["image_size"], [[400, 300]] * 4)
    expected = [_K(F_28MM, (400, 300)), _K(F_PHONE, (400, 300)), *_regnet_K(paths[2:], models)]
    np.testing.assert_allclose(arrays["K"], expected, rtol=1e-6)
    for record, K in zip(document["predictions"], expected, strict=True):
        np.testing.assert_allclose(record["K"], K, atol=1e-4)
    lines = [r for r in caplog.records if "EXIF" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelname == "WARNING"  # one line for the folder
    assert "2 of 4 images" in lines[0].getMessage() and "frame_0003.jpg" in lines[0].getMessage()


def test_a_camera_given_replaces_exif(models, tmp_path):
    _jpeg(tmp_path / "clip/frame_0000.jpg", tags={TAG.FocalLengthIn35mmFilm: 28})
    summary = predict([str(tmp_path / "clip")], tmp_path / "out",
                      camera=camera_from_options(fov=90.0), **models)  # fmt: skip
    assert summary["camera"] == "--fov 90 deg"
    np.testing.assert_allclose(np.load(tmp_path / "out/predictions.npz")["K"][0, 0, 0], 200.0)
    assert "origins" not in json.loads((tmp_path / "out/predictions.json").read_text())["camera"]


def test_same_camera_pools_a_folders_exif_for_all_its_images(models, tmp_path, caplog):
    """Folder a: two EXIF focals (the pooled one is their geometric mean) and an image without
    EXIF, which takes it too; folder b has no EXIF: RegNet's estimates are pooled."""
    _jpeg(tmp_path / "a/frame_0000.jpg", tags={TAG.FocalLengthIn35mmFilm: 24})
    _jpeg(tmp_path / "a/frame_0001.jpg", tags={TAG.FocalLengthIn35mmFilm: 30}, seed=1)
    _jpeg(tmp_path / "a/frame_0002.jpg", seed=2)
    _jpeg(tmp_path / "b/frame_0000.jpg", seed=3)
    _jpeg(tmp_path / "b/frame_0001.jpg", seed=4)
    with caplog.at_level("INFO", logger="epoch_kedro.predict.core"):
        summary = predict([str(tmp_path / "a"), str(tmp_path / "b")], tmp_path / "out",
                          same_camera=True, **models)  # fmt: skip
    K = np.load(tmp_path / "out/predictions.npz")["K"]
    focal = math.sqrt(24 * 30) * 500 / math.hypot(36, 24)
    np.testing.assert_allclose(K[:3], [_K(focal, (400, 300))] * 3, rtol=1e-9)
    assert np.ptp(K[3:, 0, 0]) == 0 and not np.isclose(K[3, 0, 0], focal)
    a, b = "EXIF (FocalLengthIn35mmFilm), pooled per folder", f"{REGNET}, pooled per folder"
    assert summary["camera"] == f"{a} for 3 images; {b} for 2 images"
    document = json.loads((tmp_path / "out/predictions.json").read_text())
    assert document["camera"]["origins"] == [a] * 3 + [b] * 2
    assert "the pooled EXIF K of the folder's other images" in caplog.text
