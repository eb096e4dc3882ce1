"""The custom Kedro datasets: round trips, atomic writes, refusals with clear messages."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile

import numpy as np
import pytest
from kedro.io import DatasetError

from epoch_kedro.datasets import NpzDataset
from epoch_kedro.errors import DamagedFileError, MissingArtifactError, explained


def test_round_trip_keeps_dtypes_and_strings(tmp_path):
    data = {
        "x": np.arange(6, dtype=np.float32).reshape(2, 3),
        "names": np.array(["S1", "S11"]),
        "flags": np.array([True, False]),
    }
    ds = NpzDataset(filepath=str(tmp_path / "sub" / "a.npz"))
    assert not ds.exists()
    ds.save(data)
    assert ds.exists()
    back = ds.load()
    for key, value in data.items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == value.dtype


def test_saved_file_is_world_readable_like_a_normal_file(tmp_path):
    path = tmp_path / "a.npz"
    NpzDataset(filepath=str(path)).save({"x": np.zeros(2)})
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_failed_save_leaves_neither_partial_file_nor_temp(tmp_path, monkeypatch):
    path = tmp_path / "a.npz"
    ds = NpzDataset(filepath=str(path))
    ds.save({"x": np.ones(3)})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(DatasetError, match="disk full"):
        ds.save({"x": np.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
    np.testing.assert_array_equal(ds.load()["x"], np.ones(3))


def test_object_arrays_are_refused(tmp_path):
    ds = NpzDataset(filepath=str(tmp_path / "a.npz"))
    with pytest.raises(DatasetError, match=r"object arrays not allowed: \['bad'\]"):
        ds.save({"bad": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(DatasetError, match="expects a dict of arrays"):
        ds.save([1, 2, 3])


def test_pickled_file_is_refused_on_load(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DatasetError, match="pickled objects, refused"):
        NpzDataset(filepath=str(path)).load()


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DatasetError) as info:  # Kedro wraps a dataset's load errors
        NpzDataset(filepath=str(tmp_path / "missing.npz")).load()
    cause = explained(info.value)
    assert isinstance(cause, MissingArtifactError)
    assert re.search(r"missing\.npz: no such file; run the", str(cause))


def test_an_array_cut_short_is_named_as_damaged_not_as_pickled(tmp_path):
    path = tmp_path / "cut.npz"
    whole = io.BytesIO()
    np.save(whole, np.arange(1000.0))
    with zipfile.ZipFile(path, "w") as archive:  # a readable zip whose array 'b' ends early
        archive.writestr("a.npy", whole.getvalue())
        archive.writestr("b.npy", whole.getvalue()[:300])
    with pytest.raises(DatasetError) as info:
        NpzDataset(filepath=str(path)).load()
    cause = explained(info.value)
    assert isinstance(cause, DamagedFileError)
    assert re.search(r"cut\.npz: array 'b' cannot be read \(truncated or", str(cause))


def test_atomic_dataset_replaces_the_file_only_when_the_write_completes(tmp_path):
    from epoch_kedro.datasets import AtomicDataset

    path = tmp_path / "metrics.json"
    ds = AtomicDataset(filepath=str(path), dataset={"type": "json.JSONDataset"})
    ds.save({"a": 1})
    assert ds.load() == {"a": 1}
    with pytest.raises(DatasetError):
        ds.save({"a": object()})  # not JSON: the inner write fails half-way
    assert ds.load() == {"a": 1}  # the previous file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left


def test_grouped_files_move_into_place_together_when_the_run_succeeds(tmp_path):
    from epoch_kedro.datasets import AtomicDataset, atomic

    json_ds = {"type": "json.JSONDataset"}
    metrics = AtomicDataset(filepath=str(tmp_path / "metrics.json"), dataset=json_ds, group="r")
    page = AtomicDataset(
        filepath=str(tmp_path / "report.html"), dataset={"type": "text.TextDataset"}, group="r"
    )
    alone = AtomicDataset(filepath=str(tmp_path / "other.json"), dataset=json_ds)
    metrics.save({"run": 1})
    page.save("<p>run 1</p>")
    atomic.begin()
    try:
        metrics.save({"run": 2})
        page.save("<p>run 2</p>")
        alone.save({"run": 2})  # not grouped: in place at once
        assert metrics.load() == {"run": 2}  # later nodes of the run read the new file ...
        assert json.loads((tmp_path / "metrics.json").read_text()) == {"run": 1}  # old in place
        assert json.loads((tmp_path / "other.json").read_text()) == {"run": 2}
        assert atomic.commit() == [(tmp_path / "metrics.json"), (tmp_path / "report.html")]
    finally:
        atomic.discard()
    assert metrics.load() == {"run": 2} and page.load() == "<p>run 2</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "other.json",
                                                          "report.html"]  # fmt: skip


def test_grouped_files_are_dropped_when_the_run_fails(tmp_path):
    from epoch_kedro.datasets import AtomicDataset, atomic

    metrics = AtomicDataset(
        filepath=str(tmp_path / "metrics.json"), dataset={"type": "json.JSONDataset"}, group="r"
    )
    metrics.save({"run": 1})
    atomic.begin()
    metrics.save({"run": 2})
    metrics.save({"run": 3})  # saved twice in one run: one temporary file, the newest
    assert len(list(tmp_path.iterdir())) == 2
    atomic.discard()
    assert metrics.load() == {"run": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_write_the_disk_refuses_is_one_line_naming_the_file(tmp_path, monkeypatch):
    import errno

    import matplotlib.figure

    from epoch_kedro.datasets import AtomicDataset
    from epoch_kedro.errors import WriteError

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    path = tmp_path / "plot.png"
    ds = AtomicDataset(filepath=str(path), dataset={"type": "matplotlib.MatplotlibDataset"})
    with pytest.raises(DatasetError) as info:
        ds.save(matplotlib.figure.Figure())
    cause = explained(info.value)
    assert isinstance(cause, WriteError)
    assert re.fullmatch(r"cannot write .*/plot\.png: No space left on device", str(cause))
    assert list(tmp_path.iterdir()) == []
