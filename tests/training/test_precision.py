"""bf16 only where it pays: the hardware's real capability, a timed probe, a per-machine cache."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
import torch

from epoch_kedro.errors import ParameterError
from epoch_kedro.inference.regnet import localize
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.parameters import check_parameters
from epoch_kedro.training.loop import LoopConfig, fit
from epoch_kedro.utils import precision
from epoch_kedro.utils.precision import decide, native_bf16, time_steps

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """Each test its own cache file and its own once-only log."""
    monkeypatch.setenv(precision.CACHE_ENV, str(tmp_path / "precision.json"))
    monkeypatch.delenv(precision.OVERRIDE_ENV, raising=False)
    monkeypatch.setattr(precision, "_logged", set())
    return tmp_path / "precision.json"


def cpu_has_bf16(monkeypatch, native: bool) -> None:
    """Pretend the CPU has (or lacks) AVX512-BF16 and AMX."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)


def timings(monkeypatch, fp32_ms: float, bf16_ms: float) -> list[int]:
    """Make every probe report these step times; returns the list of probe calls."""
    calls: list[int] = []

    def fake(device, step):
        calls.append(1)
        return fp32_ms, bf16_ms

    monkeypatch.setattr(precision, "time_steps", fake)
    return calls


def test_a_cpu_without_native_bf16_trains_in_fp32_without_a_probe(monkeypatch, caplog):
    cpu_has_bf16(monkeypatch, False)
    calls = timings(monkeypatch, 100.0, 10.0)  # even a probe saying bf16 is faster is not asked
    assert not native_bf16(CPU)
    with caplog.at_level(logging.INFO, logger="epoch_kedro.utils.precision"):
        decision = decide(CPU, "auto", "model", lambda bf16: None)
    assert not decision.bf16 and calls == []
    assert "no native bf16" in caplog.text and "fp32" in caplog.text


@pytest.mark.parametrize(("fp32_ms", "bf16_ms", "bf16"), [(50.0, 25.0, True), (50.0, 48.0, False),
                                                          (50.0, 120.0, False)])  # fmt: skip
def test_with_native_bf16_the_probe_decides_and_is_logged_once(
    monkeypatch, caplog, fp32_ms, bf16_ms, bf16
):
    cpu_has_bf16(monkeypatch, True)
    timings(monkeypatch, fp32_ms, bf16_ms)
    with caplog.at_level(logging.INFO, logger="epoch_kedro.utils.precision"):
        first = decide(CPU, "auto", "model", lambda b: None)
        again = decide(CPU, "auto", "model", lambda b: None)
    assert first.bf16 is bf16 and (first.fp32_ms, first.bf16_ms) == (fp32_ms, bf16_ms)
    assert again.bf16 is bf16
    lines = [r.getMessage() for r in caplog.records if "Precision for model" in r.getMessage()]
    assert len(lines) == 1 and f"fp32 {fp32_ms:.1f} ms, bf16 {bf16_ms:.1f} ms" in lines[0]


def test_the_answer_is_cached_per_machine_and_model(monkeypatch, fresh_cache):
    cpu_has_bf16(monkeypatch, True)
    calls = timings(monkeypatch, 40.0, 20.0)
    assert decide(CPU, "auto", "model A", lambda b: None).bf16
    assert decide(CPU, "auto", "model A", lambda b: None).bf16
    assert len(calls) == 1  # the second call read the cache
    decide(CPU, "auto", "model B", lambda b: None)
    assert len(calls) == 2  # another model shape is probed on its own
    cache = json.loads(fresh_cache.read_text())
    (machine,) = cache
    assert precision.device_name() in machine and torch.__version__ in machine
    assert set(cache[machine]) == {"model A", "model B"}
    fresh_cache.write_text("{not json")  # a damaged cache costs a probe, nothing else
    assert decide(CPU, "auto", "model A", lambda b: None).bf16 and len(calls) == 3


def test_fp32_and_bf16_are_obeyed_whatever_the_hardware(monkeypatch):
    calls = timings(monkeypatch, 10.0, 100.0)
    for native in (True, False):
        cpu_has_bf16(monkeypatch, native)
        assert not decide(CPU, "fp32", "model", lambda b: None).bf16
        assert decide(CPU, "bf16", "model", lambda b: None).bf16
    assert calls == []
    with pytest.raises(ValueError, match=r"loop.precision='fp16'; choose one of"):
        LoopConfig(precision="fp16")


def test_the_environment_answers_every_auto_decision(monkeypatch):
    cpu_has_bf16(monkeypatch, True)
    calls = timings(monkeypatch, 40.0, 10.0)
    monkeypatch.setenv(precision.OVERRIDE_ENV, "fp32")
    assert not decide(CPU, "auto", "model", lambda b: None).bf16
    assert decide(CPU, "bf16", "model", lambda b: None).bf16  # an explicit setting wins
    monkeypatch.setenv(precision.OVERRIDE_ENV, "half")
    with pytest.raises(ValueError, match=r"EPOCH_PRECISION='half'"):
        decide(CPU, "auto", "model", lambda b: None)
    assert calls == []


def test_a_bad_precision_parameter_is_one_line_naming_it():
    with pytest.raises(ParameterError, match=r"precision='half'"):
        check_parameters({"liftnet": {"loop": {"precision": "half"}}})


def test_the_probe_times_both_precisions_and_leaves_the_random_state_alone():
    state = torch.random.get_rng_state()

    def step(bf16: bool) -> None:
        torch.randn(3)  # a step that draws must not move the caller's stream
        time.sleep(0.002 if bf16 else 0.02)

    fp32_ms, bf16_ms = time_steps(CPU, step)
    assert fp32_ms > bf16_ms >= 2.0
    assert torch.equal(torch.random.get_rng_state(), state)


def _regression():
    torch.manual_seed(0)
    data = {"x": torch.randn(64, 8), "y": torch.randn(64, 1)}
    seen: list[bool] = []

    def loss_fn(model, batch, generator):
        seen.append(torch.is_autocast_enabled("cpu"))
        noise = torch.randn(batch["x"].shape, generator=generator)
        return {"total": ((model(batch["x"] + 0.01 * noise) - batch["y"]) ** 2).mean()}

    return data, loss_fn, seen


def _train(config: LoopConfig):
    data, loss_fn, seen = _regression()
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    return fit(model, data, loss_fn, lambda m: {}, config), seen


def test_fit_trains_in_the_decided_precision(monkeypatch):
    config = LoopConfig(epochs=1, batch_size=16, precision="auto", device="cpu")
    cpu_has_bf16(monkeypatch, False)
    result, seen = _train(config)
    assert result.precision == "fp32" and not any(seen)
    assert result.training["precision"] == "fp32" and result.training["loop"]["batch_size"] == 16

    cpu_has_bf16(monkeypatch, True)
    timings(monkeypatch, 30.0, 10.0)
    result, seen = _train(config)
    assert result.precision == "bf16" and all(seen) and len(seen) == 4


def test_a_probe_that_chooses_fp32_changes_nothing_in_training(monkeypatch):
    """The probe runs on a copy of the model, with its own batch and generators: the trained
    weights are those of a run that never probed."""
    cpu_has_bf16(monkeypatch, True)
    monkeypatch.setattr(precision, "MIN_GAIN", 1e9)  # the real probe runs, fp32 always wins
    probed, seen = _train(LoopConfig(epochs=2, batch_size=16, precision="auto", device="cpu"))
    plain, _ = _train(LoopConfig(epochs=2, batch_size=16, precision="fp32", device="cpu"))
    assert len(seen) > 8  # the probe's own steps went through the loss too
    assert probed.precision == "fp32"
    for key, value in plain.best_state.items():
        assert torch.equal(probed.best_state[key], value), key


def test_inference_uses_fp32_where_bf16_is_emulated(monkeypatch):
    cpu_has_bf16(monkeypatch, False)
    torch.manual_seed(0)
    model = Localizer(LocalizerConfig(image_size=32, widths=(4, 8, 8, 8)))
    frames = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    auto = localize(model, frames, batch_size=2)
    fp32 = localize(model, frames, batch_size=2, precision="fp32")
    bf16 = localize(model, frames, batch_size=2, precision="bf16")
    np.testing.assert_array_equal(auto, fp32)
    assert not np.array_equal(bf16, fp32)  # bf16 rounds: forced, it really ran
