"""Files the project reads and writes: crafted pickles run nothing through any public loader;
a full disk is one line and leaves the previous file; writes are synced; a stage's models are
replaced together; a resumed model is the same file; images are decoded in bounded batches."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from epoch_kedro import api
from epoch_kedro.datasets import NpyDataset, NpzDataset, TorchCheckpointDataset, atomic
from epoch_kedro.errors import EpochError, WriteError
from epoch_kedro.inference.images import ImageSettings, pixel_batches
from epoch_kedro.utils import io as atomic_io
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint
from tests.data.real_fixtures import write_npz_dict
from tests.reliability.cases import ROOT, case
from tests.reliability.test_predict_inputs import Exploit, tmpfs

# ---- no code execution ---------------------------------------------------------------------


def test_no_code_in_src_loads_numpy_pickles():
    """Unpickling runs what a crafted file asks for: ``allow_pickle`` appears in src/ only
    where the restricted unpickler (``epoch_kedro.data.formats``) says why it exists; numpy's
    default refuses pickles, and no call passes the argument at all."""
    case("no-allow-pickle-in-src")
    src = ROOT / "src"
    named = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                   if "allow_pickle" in p.read_text())  # fmt: skip
    assert named in ([], ["epoch_kedro/data/formats.py"]), named
    calls = [
        f"{path.relative_to(src)}:{node.lineno}"
        for path in src.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle"
    ]
    assert not calls, calls


def _h36m_files(folder: Path, marker: Path) -> None:
    write_npz_dict(folder / "data_3d_x.npz", positions_3d={"S1": Exploit(marker)})
    write_npz_dict(folder / "data_2d_x_gt.npz", positions_2d={}, metadata={})
    (folder / "cameras_x.json").write_text("{}")


def _read_h36m_layout(folder: Path) -> None:
    from epoch_kedro.data.export import read_h36m_layout

    read_h36m_layout(folder, "x")


def _load_h36m(folder: Path) -> None:
    from epoch_kedro.data.h36m import H36MConfig, load_h36m

    load_h36m(H36MConfig(folder, "data_3d_x.npz", "data_2d_x_gt.npz"))


def _npz_dataset(folder: Path) -> None:
    evil = np.empty((), dtype=object)
    evil[()] = Exploit(folder / "pwned")
    np.savez(folder / "split.npz", pose2d=evil)
    NpzDataset(filepath=str(folder / "split.npz")).load()


def _npy_dataset(folder: Path) -> None:
    evil = np.empty((), dtype=object)
    evil[()] = Exploit(folder / "pwned")
    np.save(folder / "crops.npy", evil, allow_pickle=True)
    NpyDataset(filepath=str(folder / "crops.npy")).load()


@pytest.mark.parametrize(
    ("name", "load"),
    [
        ("crafted-npz-read-h36m-layout", _read_h36m_layout),
        ("crafted-npz-load-h36m", _load_h36m),
        ("crafted-npz-dataset", _npz_dataset),
        ("crafted-npy-dataset", _npy_dataset),
    ],
)
def test_a_crafted_pickle_runs_nothing_through_any_public_loader(name, load, tmp_path):
    _h36m_files(tmp_path, tmp_path / "pwned")
    with pytest.raises(Exception) as err:
        load(tmp_path)
    line = str(err.value.__cause__ if not isinstance(err.value, EpochError) else err.value)
    case(name).check(line)
    assert "weights_only" not in line
    assert not (tmp_path / "pwned").exists()


def test_a_principal_point_outside_the_image_is_refused_by_lift(tiny_liftnet_path):
    model = api.load_liftnet(tiny_liftnet_path)
    K = np.array([[1000.0, 0, -5], [0, 1000, 500], [0, 0, 1]])
    with pytest.raises(ValueError) as err:
        api.lift(model, np.zeros((1, 17, 2)), K)
    case("lift-principal-point").check(str(err.value))


# ---- writes: a full disk, sync, groups -----------------------------------------------------


def test_a_checkpoint_on_a_full_disk_is_one_line_and_keeps_the_previous_file(tmp_path):
    with tmpfs(tmp_path / "mnt", "size=64k") as mnt:
        save_checkpoint({"w": torch.zeros(4)}, mnt / "model.pt")
        before = (mnt / "model.pt").read_bytes()
        with pytest.raises(WriteError) as err:
            save_checkpoint({"w": torch.zeros(200_000)}, mnt / "model.pt")
        case("checkpoint-disk-full").check(str(err.value))
        assert (mnt / "model.pt").read_bytes() == before
        assert [p.name for p in mnt.iterdir()] == ["model.pt"]  # no temporary file left


def test_a_checkpoint_is_synced_before_its_rename_and_its_folder_after(tmp_path, monkeypatch):
    case("checkpoint-fsync")
    events: list[str] = []
    sync, replace = atomic_io._sync, os.replace

    def logged_sync(path):
        events.append(f"sync {Path(path).name}")
        sync(path)

    def logged_replace(source, target):
        events.append(f"rename {Path(target).name}")
        replace(source, target)

    monkeypatch.setattr(atomic_io, "_sync", logged_sync)
    monkeypatch.setattr(atomic_io.os, "replace", logged_replace)
    save_checkpoint({"w": torch.ones(3)}, tmp_path / "model.pt")
    assert len(events) == 3 and events[0].startswith("sync .model.pt.")
    assert events[1:] == ["rename model.pt", f"sync {tmp_path.name}"]
    assert load_checkpoint(tmp_path / "model.pt")["w"].tolist() == [1.0, 1.0, 1.0]


def test_a_stages_models_replace_the_old_ones_only_once_all_trained(tmp_path):
    """liftnet.pt was replaced, then the weak ablation crashed: never again. A group's files
    wait beside their targets until every one of them is written."""
    case("models-replaced-together")
    paths = {name: tmp_path / f"{name}.pt" for name in ("liftnet", "weak", "reference")}
    for path in paths.values():
        save_checkpoint({"old": torch.zeros(1)}, path)
    old = {name: p.read_bytes() for name, p in paths.items()}
    sets = {n: TorchCheckpointDataset(str(p), group="liftnet_models") for n, p in paths.items()}
    try:
        atomic.begin({"liftnet_models": set(paths.values())})
        sets["liftnet"].save({"new": torch.ones(1)})
        assert sets["liftnet"].load()["new"].item() == 1.0  # later nodes read the new one
        assert {n: p.read_bytes() for n, p in paths.items()} == old
        atomic.discard()  # the run failed before the other two were written
        assert {n: p.read_bytes() for n, p in paths.items()} == old
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.pt" for n in paths)
        atomic.begin({"liftnet_models": set(paths.values())})
        for dataset in sets.values():
            dataset.save({"new": torch.ones(1)})
        assert all(load_checkpoint(p).keys() == {"new"} for p in paths.values())  # all moved
    finally:
        atomic.discard()


def test_the_catalog_groups_each_stages_models():
    import yaml

    catalog = yaml.safe_load((ROOT / "conf/base/catalog.yml").read_text())
    groups = {name: entry.get("group") for name, entry in catalog.items()
              if entry.get("type", "").endswith("TorchCheckpointDataset")}  # fmt: skip
    assert {groups[n] for n in ("liftnet_model", "liftnet_weak_model",
                                "liftnet_reference_model")} == {"liftnet_models"}  # fmt: skip
    assert {groups[n] for n in ("regnet_model", "localizer_model")} == {"image_models"}


# ---- resume, memory ------------------------------------------------------------------------


def test_a_resumed_training_writes_the_same_model_file(tmp_path):
    """Pickle refers back to a string by identity: strings read from a checkpoint are new
    objects, so a resumed model's file differed though its content did not (DVC hashes it)."""
    case("resume-same-bytes")
    history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    state = {"state_dict": {"layer.weight": torch.ones(2)}, "history": history}
    save_checkpoint(state, tmp_path / "straight.pt")
    reread = load_checkpoint(tmp_path / "straight.pt")  # every string a new object
    save_checkpoint({**reread, "history": [*reread["history"][:1], history[1]]},
                    tmp_path / "resumed.pt")  # fmt: skip
    assert (tmp_path / "straight.pt").read_bytes() == (tmp_path / "resumed.pt").read_bytes()


def test_images_are_decoded_in_batches_bounded_in_pixels(tmp_path):
    """64 photos of 12000 x 12000 px once meant one 28 GB batch (benchmarks/
    bench_predict_memory.py measures the peak); now a large image is a batch of its own."""
    case("predict-image-batches")
    case("predict-memory-huge-images")
    sizes = [(64, 48)] * 3 + [(400, 300)] + [(64, 48)] * 2
    paths = []
    for i, size in enumerate(sizes):
        paths.append(tmp_path / f"f{i}.png")
        Image.new("RGB", size).save(paths[-1])
    settings = ImageSettings(batch_size=4, batch_pixels=100_000)
    batches = [[p.name for p in b] for b in pixel_batches(paths, settings)]
    assert batches == [["f0.png", "f1.png", "f2.png"], ["f3.png"], ["f4.png", "f5.png"]]
    assert len(pixel_batches(paths[:3] * 3, settings)) == 3  # at most batch_size images
