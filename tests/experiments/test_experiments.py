"""experiments/sweep_liftnet.py runs end to end on tiny data and writes one record a variant."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_liftnet_sweep_trains_and_scores_each_variant(tmp_path):
    out = tmp_path / "sweep.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "experiments/sweep_liftnet.py"), "--quick", "--workers", "2",
         "--only", "base,mirror10,half,D2_5", "--out", str(out), "--work", str(tmp_path)],
        check=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    records = {r["name"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"base", "mirror10", "half", "D2_5"}
    for record in records.values():
        assert "error" not in record, record.get("error")
        for key in ("seen", "held", "flip_seen", "flip_held"):
            assert math.isfinite(record[key]) and record[key] > 0
    base = records["base"]["samples"]
    assert records["mirror10"]["samples"] == 2 * base
    assert 0 < records["half"]["samples"] < base
    assert records["D2_5"]["data"] == "D2"
