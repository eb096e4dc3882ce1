"""Checkpoints: atomic, safe to load, and byte-identical for identical content."""

from __future__ import annotations

import pytest
import torch

from epoch_kedro.errors import CheckpointError
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint


def _state() -> dict:
    return {"weights": torch.arange(6.0).reshape(2, 3), "meta": {"name": "liftnet", "epoch": 3}}


def test_identical_states_give_identical_bytes_whatever_the_file_name(tmp_path):
    first, second = tmp_path / "a.pt", tmp_path / "other_name.pt"
    save_checkpoint(_state(), first)
    save_checkpoint(_state(), second)
    assert first.read_bytes() == second.read_bytes()  # DVC hashes must not depend on the path


def test_round_trip(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(_state(), path)
    loaded = load_checkpoint(path)
    torch.testing.assert_close(loaded["weights"], _state()["weights"])
    assert loaded["meta"] == {"name": "liftnet", "epoch": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.pt")


def test_a_damaged_checkpoint_is_refused_with_its_name(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint({"weights": torch.ones(1000), "meta": {"name": "x"}}, path)
    data = bytearray(path.read_bytes())
    # One weight's bytes changed in place: the zip still reads, the numbers are wrong.
    at = data.find(bytes(torch.ones(1).numpy().tobytes()) * 8)
    data[at + 3] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.pt: checksum mismatch"):
        load_checkpoint(path)
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match=r"model\.pt: not a readable checkpoint"):
        load_checkpoint(path)
