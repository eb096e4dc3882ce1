"""Throughput of the synthetic generator and of normalization (goal: 100k samples in <= 30 s).

Usage: python benchmarks/bench_synthetic.py [--samples 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

from epoch_kedro.data.normalize import to_model_input
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.library import ACTIONS

GOAL_SAMPLES, GOAL_SECONDS = 100_000, 30.0


def config_for(samples: int) -> SyntheticConfig:
    """Default-profile-like config scaled (in subjects) to at least ``samples`` samples."""
    base = SyntheticConfig(seed=0, sequences_per_action=2, frames_per_sequence=100)
    per_subject = len(ACTIONS) * 2 * 100 * base.cameras.per_sequence
    n_subjects = -(-samples // per_subject)
    return dataclasses.replace(base, subjects=tuple(f"S{i + 1}" for i in range(n_subjects)))


def best_of(repeats: int, fn):
    """Best wall time over ``repeats`` calls (the least disturbed run) and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=GOAL_SAMPLES)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    config = config_for(args.samples)
    gen_time, data = best_of(args.repeats, lambda: generate_synthetic(config))
    n = len(data["kp2d"])
    norm_time, _ = best_of(args.repeats, lambda: to_model_input(data))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"samples: {n:,} ({len(config.subjects)} subjects x {len(config.actions)} actions x "
        f"2 sequences x 100 frames x {config.cameras.per_sequence} cameras)"
    )
    print(
        f"generate (poses, cameras, projection): {gen_time:6.2f} s {n / gen_time:10,.0f} samples/s"
    )
    print(f"normalize (undistort, rays, 3D): {norm_time:12.2f} s {n / norm_time:10,.0f} samples/s")
    rate_goal = GOAL_SAMPLES / GOAL_SECONDS
    verdict = "meets" if n / gen_time >= rate_goal else "MISSES"
    print(f"goal {GOAL_SAMPLES:,} samples in {GOAL_SECONDS:.0f} s ({rate_goal:,.0f}/s): {verdict}")


if __name__ == "__main__":
    main()
