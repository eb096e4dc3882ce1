"""bf16 autocast only where it pays, decided per model and machine by measurement.

A flag cannot tell: oneDNN reports bf16 support on every AVX-512 CPU, where bf16 is emulated and
2.5-3.3x slower than fp32 (measured on a 2-core Xeon without AVX512-BF16, issue 24), while on a
CPU with AVX512-BF16 the same autocast halves LiftNet's step time. So:

1. ``precision: fp32`` never autocasts; ``precision: bf16`` always does (even where emulated).
   The environment variable ``EPOCH_PRECISION=fp32|bf16`` answers every ``auto`` the same way.
2. ``precision: auto`` (the default) uses fp32 where the device has no native bf16: a CPU
   without AVX512-BF16 or AMX, a GPU before Ampere.
3. Where it is native, a short timed probe of the model's own step (a few steps in each
   precision, on a copy of the model, the random state untouched) decides; bf16 must be at
   least :data:`MIN_GAIN` times faster, since it costs precision. The answer is cached per
   machine, torch version, thread count and model shape (:func:`cache_path`), so later runs on
   the machine reuse it and make the same choice; the decision and both timings are logged once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from epoch_kedro.utils.io import atomic_path

logger = logging.getLogger(__name__)

#: ``loop.precision`` values.
PRECISIONS = ("auto", "fp32", "bf16")
#: bf16 is chosen only when its step is at least this many times faster than fp32.
MIN_GAIN = 1.1
#: Probe effort: timed steps per precision, and a wall-clock budget after the warm-up steps.
PROBE_STEPS = 3
PROBE_SECONDS = 6.0
#: Environment variable naming the cache file (default: ``~/.cache/epoch_kedro/precision.json``).
CACHE_ENV = "EPOCH_PRECISION_CACHE"
#: Environment variable that answers every ``auto`` decision (``fp32`` or ``bf16``): e.g. to
#: run as a CPU without native bf16 does, for figures comparable with such a machine's.
OVERRIDE_ENV = "EPOCH_PRECISION"

_logged: set[str] = set()


@dataclass(frozen=True)
class Decision:
    """Whether to autocast to bf16, why, and the probe's step times (ms) when one ran."""

    bf16: bool
    reason: str
    fp32_ms: float | None = None
    bf16_ms: float | None = None

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def describe(self) -> str:
        timed = ""
        if self.fp32_ms is not None and self.bf16_ms is not None:
            timed = f" (step: fp32 {self.fp32_ms:.1f} ms, bf16 {self.bf16_ms:.1f} ms)"
        return f"{self.name}: {self.reason}{timed}"


def check_precision(value: str, where: str = "loop.precision") -> str:
    """``value`` if it is one of :data:`PRECISIONS`, else one clear error."""
    if value not in PRECISIONS:
        raise ValueError(f"{where}={value!r}; choose one of {list(PRECISIONS)}")
    return value


@cache
def device_name(device_type: str = "cpu") -> str:
    """The processor's model name (``lscpu``'s), or the GPU's name."""
    if device_type == "cuda":
        return torch.cuda.get_device_name()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware: a CPU with AVX512-BF16 or AMX, or a GPU
    with bf16 tensor cores. (``torch.ops.mkldnn._is_mkldnn_bf16_supported`` is not this: it
    answers True on any AVX-512 CPU, where oneDNN emulates bf16.)"""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on ``device`` when ``bf16``, else a no-op."""
    if bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def decide(
    device: torch.device,
    precision: str,
    key: str,
    probe: Callable[[bool], object] | None = None,
) -> Decision:
    """The precision for the model ``key`` (its kind and shape) on ``device``.

    ``probe(bf16)`` runs one step of the model (training or inference) in that precision; it is
    called only on a device with native bf16 when no cached answer exists.
    """
    check_precision(precision)
    override = os.environ.get(OVERRIDE_ENV, "auto") or "auto"
    source = "requested"
    if precision == "auto" and override != "auto":
        precision, source = check_precision(override, OVERRIDE_ENV), f"{OVERRIDE_ENV}={override}"
    native = native_bf16(device)
    if precision == "fp32":
        decision = Decision(False, source)
    elif precision == "bf16":
        emulated = "" if native else f", although {device_name(device.type)} emulates it"
        decision = Decision(True, f"{source}{emulated}")
    elif not native:
        decision = Decision(
            False, f"{device_name(device.type)} has no native bf16 (emulated bf16 is slower)"
        )
    elif probe is None:
        decision = Decision(True, f"native bf16 on {device_name(device.type)}")
    else:
        decision = _measured(device, key, probe)
    _log_once(key, decision)
    return decision


def _log_once(key: str, decision: Decision) -> None:
    """One line per model and answer in a process (inference decides once per call)."""
    seen = f"{key} -> {decision.name}"
    if seen not in _logged:
        _logged.add(seen)
        logger.info("Precision for %s: %s", key, decision.describe())


def _measured(device: torch.device, key: str, probe: Callable[[bool], object]) -> Decision:
    """The cached probe result for this machine and ``key``, or a new probe (then cached)."""
    machine = f"{device_name(device.type)} | torch {torch.__version__} | {_threads(device)}"
    entry = _read_cache().get(machine, {}).get(key)
    if entry is None:
        fp32_ms, bf16_ms = time_steps(device, probe)
        entry = {"bf16": bf16_ms * MIN_GAIN <= fp32_ms, "fp32_ms": fp32_ms, "bf16_ms": bf16_ms}
        _write_cache(machine, key, entry)
        how = "measured on"
    else:
        how = "cached probe on"
    verdict = "faster" if entry["bf16"] else f"not {MIN_GAIN}x faster"
    return Decision(
        bool(entry["bf16"]),
        f"native bf16 {verdict} than fp32 ({how} {device_name(device.type)})",
        float(entry["fp32_ms"]),
        float(entry["bf16_ms"]),
    )


def _threads(device: torch.device) -> str:
    return "cuda" if device.type == "cuda" else f"{torch.get_num_threads()} threads"


def time_steps(device: torch.device, step: Callable[[bool], object]) -> tuple[float, float]:
    """Best-of-N wall time (ms) of ``step(False)`` and ``step(True)``, interleaved so that a
    slow moment of the machine hits both; one warm-up step each; the global random state is
    restored afterwards, so a probe never changes what training draws."""
    times: dict[bool, list[float]] = {False: [], True: []}
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        for bf16 in (False, True):
            _timed(device, step, bf16)
        deadline = time.perf_counter() + PROBE_SECONDS
        while min(len(t) for t in times.values()) < PROBE_STEPS:
            for bf16 in (False, True):
                times[bf16].append(_timed(device, step, bf16))
            if time.perf_counter() > deadline:
                break
    return min(times[False]), min(times[True])


def _timed(device: torch.device, step: Callable[[bool], object], bf16: bool) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    with autocast(device, bf16):
        step(bf16)
    sync()
    return (time.perf_counter() - start) * 1000.0


def cache_path() -> Path:
    """Where probe results are kept: ``$EPOCH_PRECISION_CACHE``, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "epoch_kedro" / "precision.json"


def _read_cache() -> dict:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):  # absent or damaged: probe again (and rewrite it)
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(machine: str, key: str, entry: dict) -> None:
    """Merge one answer into the cache under a file lock (side-by-side trainings probe at the
    same time); a cache that cannot be written only costs a probe next time."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = _read_cache()
            data.setdefault(machine, {})[key] = entry
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    except OSError as error:
        logger.warning("Precision: could not cache the probe in '%s' (%s)", path, error)
