"""Calibration readers: round trips through fixtures written here, and one-line errors."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from epoch_kedro import geometry as g
from epoch_kedro.data.calibration import (
    Camera,
    read_calibration,
    read_opencv,
    read_pose2sim_toml,
    read_qca,
)
from epoch_kedro.data.formats import DatasetFormatError

SIZE = (1088, 1920)


def _cameras(k3: float = 0.0) -> list[Camera]:
    """Three known portrait cameras around the origin (names out of natural order)."""
    eyes = np.array([[3.0, 0.5, 1.8], [-0.4, 3.2, 2.1], [-2.7, -2.0, 1.6]])
    R, t = g.look_at(eyes, np.array([0.0, 0.0, 1.0]))
    cams = []
    for i, name in enumerate(["cam_10", "cam_2", "cam_1"]):
        K = np.array([[1680.5 + i, 0.0, 533.25 - i], [0.0, 1681.75 + i, 948.5 + i], [0, 0, 1.0]])
        dist = np.array([-1e-3 * (i + 1), 2e-3, 1e-5 * i, -2e-5, k3])
        cams.append(Camera(name, K, dist, R[i], t[i], SIZE))
    return cams


def _assert_same(read: Camera, want: Camera, check_size: bool = True) -> None:
    assert read.name == want.name
    np.testing.assert_allclose(read.K, want.K, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(read.dist, want.dist, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(read.R, want.R, atol=1e-12)
    np.testing.assert_allclose(read.t, want.t, atol=1e-12)
    np.testing.assert_allclose(read.center, -want.R.T @ want.t, atol=1e-12)
    if check_size:
        assert read.image_size == want.image_size


def _assert_one_line(exc: pytest.ExceptionInfo, path: Path, *fields: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    for field in fields:
        assert field in message


# --------------------------------------------------------------------------------------------
# fixture writers (the inverse of each reader's conversion, written independently)
# --------------------------------------------------------------------------------------------

FOV_LEFT, FOV_TOP = 16, 8  # a video crop of the sensor, to exercise the principal point shift


def _num(v: float) -> str:
    """Shortest exact decimal of a float (numpy scalars would print their type)."""
    return repr(float(v))


def _qca_camera(cam: Camera, model: str = "none") -> str:
    # Inverse of the reader: M = diag(1, -1, -1) R, position = camera centre in mm,
    # focal/centre in 1/64 pixel of the uncropped sensor, distortion x 64.
    M = np.diag([1.0, -1.0, -1.0]) @ cam.R
    x, y, z = cam.center * 1000.0
    rot = " ".join(f'r{i + 1}{j + 1}="{_num(M[i, j])}"' for i in range(3) for j in range(3))
    K, d = cam.K, cam.dist * 64
    w, h = cam.image_size
    fov = f'bottom="{FOV_TOP + h - 1}" left="{FOV_LEFT}" right="{FOV_LEFT + w - 1}" top="{FOV_TOP}"'
    return f"""    <camera active="1" avg-residual="0.4" model="{model}" serial="{cam.name}" viewrotation="0">
      <fov_marker {fov}/>
      <fov_video {fov}/>
      <transform {rot} x="{_num(x)}" y="{_num(y)}" z="{_num(z)}"/>
      <intrinsic centerPointU="{_num((K[0, 2] + FOV_LEFT) * 64)}" centerPointV="{_num((K[1, 2] + FOV_TOP) * 64)}" focalLengthU="{_num(K[0, 0] * 64)}" focalLengthV="{_num(K[1, 1] * 64)}" focallength="9.3" radialDistortion1="{_num(d[0])}" radialDistortion2="{_num(d[1])}" radialDistortion3="0.0" skew="0.0" tangentalDistortion1="{_num(d[2])}" tangentalDistortion2="{_num(d[3])}"/>
    </camera>
"""  # noqa: E501


def write_qca(path: Path, cams: list[Camera], marker_camera: bool = True) -> Path:
    body = "".join(_qca_camera(c) for c in cams)
    if marker_camera:  # a marker-only camera, which the reader must skip
        body += _qca_camera(cams[0], model="Oqus 7+").replace(cams[0].name, "marker_1")
    path.write_text(
        "<?xml version='1.0' encoding='ASCII'?>\n<calibration type=\"regular\">\n"
        f"  <cameras>\n{body}  </cameras>\n</calibration>\n"
    )
    return path


def _toml_list(a: np.ndarray) -> str:
    if a.ndim == 1:
        return "[ " + ", ".join(repr(float(v)) for v in a) + ",]"
    return "[ " + ", ".join(_toml_list(r) for r in a) + ",]"


def write_toml(path: Path, cams: list[Camera], n_dist: int = 4) -> Path:
    """Pose2Sim's layout: [cam_xx] tables with a Rodrigues rotation, then [metadata]."""
    tables = []
    for i, c in enumerate(cams):
        tables.append(
            f'[cam_{i + 1:02d}]\nname = "{c.name}"\nsize = {_toml_list(np.array(c.image_size))}\n'
            f"matrix = {_toml_list(c.K)}\ndistortions = {_toml_list(c.dist[:n_dist])}\n"
            f"rotation = {_toml_list(np.asarray(g.matrix_to_axis_angle(c.R)))}\n"
            f"translation = {_toml_list(c.t)}\nfisheye = false\n"
        )
    path.write_text("\n".join(tables) + "\n[metadata]\nadjusted = false\nerror = 0.0\n")
    return path


def _cv_matrix(a: np.ndarray, indent: str) -> str:
    a = np.atleast_2d(a)
    data = ", ".join(repr(float(v)) for v in a.ravel())
    return (
        f"!!opencv-matrix\n{indent}   rows: {a.shape[0]}\n{indent}   cols: {a.shape[1]}\n"
        f"{indent}   dt: d\n{indent}   data: [ {data} ]\n"
    )


def write_yaml_flat(path: Path, cams: list[Camera]) -> Path:
    """cv2.FileStorage output in EasyMocap's layout (Rodrigues R_<name>, column vectors)."""
    lines = ["%YAML:1.0\n---\nnames:\n"] + [f'   - "{c.name}"\n' for c in cams]
    for c in cams:
        rvec = np.asarray(g.matrix_to_axis_angle(c.R))[:, None]
        lines += [f"K_{c.name}: " + _cv_matrix(c.K, "")]
        lines += [f"dist_{c.name}: " + _cv_matrix(c.dist[None], "")]
        lines += [f"R_{c.name}: " + _cv_matrix(rvec, "")]
        lines += [f"T_{c.name}: " + _cv_matrix(c.t[:, None], "")]
    path.write_text("".join(lines))
    return path


def write_yaml_nested(path: Path, cams: list[Camera]) -> Path:
    """cv2.FileStorage output with one mapping per camera (rotation matrix R)."""
    lines = ["%YAML:1.0\n---\n"]
    for c in cams:
        lines += [f"{c.name}:\n", "   K: " + _cv_matrix(c.K, "   ")]
        lines += ["   dist: " + _cv_matrix(c.dist[:, None], "   ")]
        lines += ["   R: " + _cv_matrix(c.R, "   "), "   t: " + _cv_matrix(c.t[:, None], "   ")]
        lines += [f"   image_size: [ {c.image_size[0]}, {c.image_size[1]} ]\n"]
    path.write_text("".join(lines))
    return path


def write_json(path: Path, cams: list[Camera], rotation: str = "rvec") -> Path:
    entries = []
    for c in cams:
        rot = np.asarray(g.matrix_to_axis_angle(c.R)) if rotation == "rvec" else c.R
        entries.append(
            {
                "name": c.name,
                "K": c.K.tolist(),
                "dist": c.dist.tolist(),
                rotation: rot.tolist(),
                "t": c.t.tolist(),
                "image_size": list(c.image_size),
            }
        )
    path.write_text(json.dumps({"cameras": entries}, indent=1))
    return path


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------


def test_qca_round_trip_sorts_and_skips_marker_cameras(tmp_path):
    cams = _cameras()
    rig = read_calibration(write_qca(tmp_path / "Calib.qca.txt", cams))
    assert [c.name for c in rig] == ["cam_1", "cam_2", "cam_10"]
    by_name = {c.name: c for c in cams}
    for cam in rig:
        _assert_same(cam, by_name[cam.name])


def test_qca_converts_qualisys_axes_to_opencv(tmp_path):
    # A Qualisys camera with identity orientation looks down -z (y up): in OpenCV terms its
    # optical axis is world -z and image "down" is world -y.
    cam = _cameras()[0]
    path = write_qca(tmp_path / "one.qca.txt", [cam], marker_camera=False)
    text = path.read_text()
    M = np.diag([1.0, -1.0, -1.0]) @ cam.R
    for i in range(3):
        for j in range(3):
            text = text.replace(
                f'r{i + 1}{j + 1}="{_num(M[i, j])}"', f'r{i + 1}{j + 1}="{float(i == j)}"'
            )
    path.write_text(text)
    (read,) = read_qca(path)
    np.testing.assert_allclose(read.R, np.diag([1.0, -1.0, -1.0]))
    np.testing.assert_allclose(read.center, cam.center, atol=1e-12)
    assert read.image_size == SIZE


@pytest.mark.parametrize("n_dist", [4, 5])
def test_pose2sim_toml_round_trip(tmp_path, n_dist):
    cams = _cameras(k3=0.0 if n_dist == 4 else 0.003)
    rig = read_calibration(write_toml(tmp_path / "Calib.toml", cams, n_dist))
    assert len(rig) == 3
    for read, want in zip(rig, cams, strict=True):
        _assert_same(read, want)


def test_opencv_yaml_flat_round_trip(tmp_path):
    cams = _cameras(k3=0.01)
    rig = read_calibration(write_yaml_flat(tmp_path / "intri_extri.yml", cams))
    for read, want in zip(rig, cams, strict=True):
        _assert_same(read, want, check_size=False)
        assert read.image_size is None  # EasyMocap files do not store it


def test_opencv_yaml_nested_round_trip(tmp_path):
    cams = _cameras(k3=0.01)
    rig = read_calibration(write_yaml_nested(tmp_path / "calib.yaml", cams))
    for read, want in zip(rig, cams, strict=True):
        _assert_same(read, want)


@pytest.mark.parametrize("rotation", ["rvec", "R"])
def test_opencv_json_round_trip(tmp_path, rotation):
    cams = _cameras(k3=0.01)
    rig = read_calibration(write_json(tmp_path / "calib.json", cams, rotation))
    for read, want in zip(rig, cams, strict=True):
        _assert_same(read, want)


def test_dispatch_by_content_without_suffix(tmp_path):
    cams = _cameras()
    qca = write_qca(tmp_path / "calib.qca.txt", cams)
    plain = tmp_path / "calibration_file"
    plain.write_text(qca.read_text())
    assert [c.name for c in read_calibration(plain)] == ["cam_1", "cam_2", "cam_10"]
    plain.write_text(write_yaml_nested(tmp_path / "c.yml", cams).read_text())
    assert len(read_calibration(plain)) == 3


# --------------------------------------------------------------------------------------------
# bad files: one line naming the file and the field
# --------------------------------------------------------------------------------------------


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def _replace_value(text: str, attribute: str, value: str) -> str:
    start = text.index(attribute) + len(attribute)
    return text[:start] + value + text[text.index('"', start) :]


def _drop_element(text: str, opening: str) -> str:
    start = text.index(opening)
    return text[:start] + text[text.index("/>", start) + 2 :]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("focalLengthU=", "focalLengthX="), ("focalLengthU",)),
        (lambda t: _replace_value(t, ' x="', "abc"), ("transform@x", "a number")),
        (lambda t: _drop_element(t, "<fov_video "), ("fov_video",)),
        (lambda t: t.replace('viewrotation="0"', 'viewrotation="90"'), ("viewrotation",)),
        (lambda t: _replace_value(t, 'r11="', "3.0"), ("r11..r33", "rotation matrix")),
    ],
    ids=["missing_attribute", "non_numeric", "missing_element", "view_rotation", "non_rotation"],
)
def test_qca_bad_content_is_refused_in_one_line(tmp_path, edit, expected):
    path = write_qca(tmp_path / "c.qca.txt", _cameras())
    path.write_text(edit(path.read_text()))
    with pytest.raises(DatasetFormatError) as exc:
        read_qca(path)
    _assert_one_line(exc, path, *expected)


def test_qca_truncated(tmp_path):
    path = write_qca(tmp_path / "c.qca.txt", _cameras())
    path.write_text(path.read_text()[:700])
    with pytest.raises(DatasetFormatError) as exc:
        read_calibration(path)
    _assert_one_line(exc, path, "XML")


@pytest.mark.parametrize(
    ("old", "new", "fields"),
    [
        ("matrix = ", "matrices = ", ["'cam_01.matrix'"]),
        ("matrix = [ [", "matrix = [ [ 1.0, 2.0, 3.0,], [", ["cam_01.matrix", "(3, 3)"]),
        ("translation = [ ", 'translation = [ "one", ', ["cam_01.translation"]),
        ("distortions = [ ", "distortions = [ 0.1, 0.2, ", ["cam_01.distortions", "(5,)"]),
        ("size = [ 1088.0", "size = [ -1088.0", ["cam_01.size"]),
        ("fisheye = false", "fisheye = true", ["cam_01.fisheye"]),
    ],
)
def test_toml_bad_fields(tmp_path, old, new, fields):
    path = _edit(write_toml(tmp_path / "c.toml", _cameras()), old, new)
    with pytest.raises(DatasetFormatError) as exc:
        read_calibration(path)
    _assert_one_line(exc, path, *fields)


def test_toml_truncated(tmp_path):
    path = write_toml(tmp_path / "c.toml", _cameras())
    path.write_text(path.read_text()[:150])
    with pytest.raises(DatasetFormatError) as exc:
        read_pose2sim_toml(path)
    _assert_one_line(exc, path, "TOML")


def test_yaml_missing_key(tmp_path):
    path = _edit(write_yaml_flat(tmp_path / "c.yml", _cameras()), "K_cam_2:", "Kx_cam_2:")
    with pytest.raises(DatasetFormatError) as exc:
        read_opencv(path)
    _assert_one_line(exc, path, "'K_cam_2'")


def test_yaml_truncated(tmp_path):
    path = write_yaml_nested(tmp_path / "c.yml", _cameras())
    path.write_text(path.read_text()[:230])
    with pytest.raises(DatasetFormatError) as exc:
        read_opencv(path)
    _assert_one_line(exc, path)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("t", None, "'cam_10.t'"),
        ("dist", [0.1] * 8, "cam_10.dist"),
        ("K", [[1.0, 0.0], [0.0, 1.0]], "cam_10.K"),
        ("K", "eye", "cam_10.K"),
        ("rvec", [0.1, float("nan"), 0.2], "cam_10.rvec"),
    ],
)
def test_json_bad_fields(tmp_path, field, value, expected):
    path = write_json(tmp_path / "c.json", _cameras())
    data = json.loads(path.read_text())
    if value is None:
        del data["cameras"][0][field]
    else:
        data["cameras"][0][field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError) as exc:
        read_calibration(path)
    _assert_one_line(exc, path, expected)


def test_missing_and_unknown_files(tmp_path):
    for name in ["absent.toml", "absent.qca.txt", "absent.json", "absent.bin"]:
        with pytest.raises(DatasetFormatError) as exc:
            read_calibration(tmp_path / name)
        _assert_one_line(exc, tmp_path / name, "not found")
    odd = tmp_path / "calib.bin"
    odd.write_bytes(b"\x00\x01binary")
    with pytest.raises(DatasetFormatError) as exc:
        read_calibration(odd)
    _assert_one_line(exc, odd, "unknown calibration format")


# --------------------------------------------------------------------------------------------
# the real Pose2Sim demo calibration: only where the wheel was downloaded (never in CI)
# --------------------------------------------------------------------------------------------

#: The development set's wheel (`pip download --no-deps Pose2Sim==0.8.4 -d DIR`); CI has none.
WHEEL = Path(os.environ.get("EPOCH_POSE2SIM_WHEEL", "/tmp/p2s/pose2sim-0.8.4-py3-none-any.whl"))
DEMO_CALIB = "Pose2Sim/S00_Demo_BatchSession/S00_Calibration/Calib.qca.txt"


@pytest.mark.skipif(not WHEEL.exists(), reason=f"local only: needs {WHEEL} (pip download)")
def test_pose2sim_demo_calibration_is_plausible(tmp_path):
    path = tmp_path / "Calib.qca.txt"
    with zipfile.ZipFile(WHEEL) as wheel:
        path.write_bytes(wheel.read(DEMO_CALIB))
    rig = read_calibration(path)
    assert [c.name for c in rig] == ["cam_01", "cam_02", "cam_03", "cam_04"]
    centres = np.stack([c.center for c in rig])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(4, 1)]
    assert (gaps > 1.5).all() and (gaps < 10).all()
    scene = centres.mean(0) * [1, 1, 0] + [0, 0, 1.0]  # about 1 m above the floor centre
    for cam in rig:
        assert cam.image_size == (1088, 1920)  # portrait video
        assert 1000 < cam.K[0, 0] < 3000 and abs(cam.K[0, 0] / cam.K[1, 1] - 1) < 1e-3
        assert 0 < cam.K[0, 2] < 1088 and 0 < cam.K[1, 2] < 1920
        assert np.abs(cam.dist).max() < 0.01
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-6)
        assert 1.0 < cam.center[2] < 3.0  # mounted above head height, world z up
        ray = (scene - cam.center) / np.linalg.norm(scene - cam.center)
        assert cam.R[2] @ ray > np.cos(np.radians(20))  # looks at the capture area
        assert cam.R[1] @ [0, 0, 1.0] < 0  # image "down" points down in the world
