"""What a run found, in sentences generated from its metrics, and where the run came from.

:func:`findings` states the result the reader came for: what the EPOCH chain scores against
the reference LiftNet (true 2D and camera), the mean-pose baseline and the ray floor, where its
error comes from (RegNet's 2D or its camera), and which RegNet estimates are worse than their
trivial baseline. :func:`provenance` records date, commit, profile, seeds and the parameters
that differ from the defaults, so a smoke report never passes for a default one.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from epoch_kedro.utils.config import flatten


def _pose(metrics: Mapping[str, Any], key: str) -> Mapping[str, float] | None:
    section = metrics.get(key)
    if key.startswith("regnet."):
        section = (metrics.get("regnet") or {}).get(key.split(".", 1)[1])
    return section if isinstance(section, Mapping) and "pa_mpjpe" in section else None


def _chain_sentence(metrics: Mapping[str, Any]) -> str | None:
    chain, ref = _pose(metrics, "liftnet_regnet"), _pose(metrics, "liftnet_reference_gt")
    base, floor = _pose(metrics, "baseline_mean_pose"), _pose(metrics, "regnet.ray_floor")
    if chain is None:
        return None
    text = (
        f"The EPOCH chain (LiftNet on RegNet's 2D pose and camera, the person box found in the "
        f"image) scores {chain['pa_mpjpe']:.1f} mm PA-MPJPE ({chain['mpjpe']:.1f} mm MPJPE) on "
        f"the {metrics.get('dataset', '?')} test split"
    )
    parts = []
    if ref is not None:
        parts.append(f"{chain['pa_mpjpe'] / ref['pa_mpjpe']:.1f}× the {ref['pa_mpjpe']:.1f} mm "
                     "of the reference LiftNet on true 2D and camera")  # fmt: skip
    if base is not None:
        parts.append(f"{100 * chain['pa_mpjpe'] / base['pa_mpjpe']:.0f} % of the mean-pose "
                     f"baseline's {base['pa_mpjpe']:.1f} mm")  # fmt: skip
    if floor is not None:
        parts.append(f"the ray floor (true depths on RegNet's 2D rays) is "
                     f"{floor['pa_mpjpe']:.1f} mm")  # fmt: skip
    return text + (": " + "; ".join(parts) if parts else "") + "."


def _source_sentence(metrics: Mapping[str, Any]) -> str | None:
    pose_2d = _pose(metrics, "liftnet_regnet_2d_true_camera")
    camera = _pose(metrics, "liftnet_true_2d_regnet_camera")
    ref = _pose(metrics, "liftnet_gt_rendered_frames") or _pose(metrics, "liftnet_gt")
    if pose_2d is None or camera is None or ref is None:
        return None
    cost_2d, cost_cam = pose_2d["pa_mpjpe"] - ref["pa_mpjpe"], camera["pa_mpjpe"] - ref["pa_mpjpe"]
    culprit = "RegNet's 2D pose" if cost_2d > cost_cam else "RegNet's camera"
    return (
        f"The error comes mostly from {culprit}: with RegNet's 2D and the true camera the chain's "
        f"LiftNet scores {pose_2d['pa_mpjpe']:.1f} mm, with the true 2D and RegNet's camera "
        f"{camera['pa_mpjpe']:.1f} mm, with both true {ref['pa_mpjpe']:.1f} mm."
    )


def _depth_order_sentence(metrics: Mapping[str, Any]) -> str | None:
    ref = _pose(metrics, "liftnet_reference_gt") or _pose(metrics, "liftnet_gt")
    flips = (ref or {}).get("depth_flips")
    if not isinstance(flips, Mapping) or flips.get("pa_mpjpe_flipped") is None:
        return None
    rest = flips.get("pa_mpjpe_rest")
    return (
        f"Depth order: with true 2D and camera, {flips['share']:.0f} % of the test poses have a "
        "limb segment lifted on the wrong side along the line of sight (e.g. a forearm "
        "pointing away from the camera instead of towards it, which projects to the same 2D); "
        f"they score {flips['pa_mpjpe_flipped']:.1f} mm PA-MPJPE"
        + (f", the other poses {rest:.1f} mm." if rest is not None else ".")
    )


#: The three LiftNets on the test split's own 2D and camera, as the findings name them.
LIFTNETS = (
    ("liftnet_gt", "the chain's LiftNet"),
    ("liftnet_reference_gt", "the reference LiftNet"),
    ("liftnet_weak_gt", "the weak-perspective LiftNet"),
)


def _floor_sentence(metrics: Mapping[str, Any]) -> str | None:
    """Each LiftNet against the flat-depth floor (the 2D and distance right, no depth)."""
    floor, mean = _pose(metrics, "baseline_flat_depth"), _pose(metrics, "baseline_mean_pose")
    lifts = [(name, _pose(metrics, key)) for key, name in LIFTNETS]
    lifts = [(name, m) for name, m in lifts if m is not None]
    if floor is None or not lifts or not floor["pa_mpjpe"] > 0:
        return None
    parts = [f"{name} {m['pa_mpjpe']:.1f} mm ({_relative(m['pa_mpjpe'], floor['pa_mpjpe'])})"
             for name, m in lifts]  # fmt: skip
    text = (f"Against the flat-depth floor (every joint on its 2D ray at the true root depth: "
            f"{floor['pa_mpjpe']:.1f} mm PA-MPJPE on {metrics.get('dataset', '?')}): "
            + "; ".join(parts))  # fmt: skip
    if mean is not None:
        text += f"; the mean training pose scores {mean['pa_mpjpe']:.1f} mm"
    return text + "."


def _placement(metrics: Mapping[str, Any], key: str) -> Mapping[str, float] | None:
    section = metrics.get(key)
    placed = section.get("placement") if isinstance(section, Mapping) else None
    return placed if placed and placed.get("mrpe_rel") is not None else None


def _placement_sentence(metrics: Mapping[str, Any]) -> str | None:
    """Where the person is put (the root's error, MRPE) against the mean-distance prior."""
    prior = _placement(metrics, "baseline_prior_distance")
    lifts = [(name, _placement(metrics, key)) for key, name in LIFTNETS]
    lifts = [(name, p) for name, p in lifts if p is not None and "weak" not in name]
    if prior is None or not lifts:
        return None
    parts = [f"{name} {p['mrpe']:.0f} mm ({p['mrpe_rel']:.1f} % of the distance)"
             for name, p in lifts]  # fmt: skip
    text = ("Placement (median root position error in the camera frame, true 2D and K): "
            + "; ".join(parts) + f"; the mean training distance along the root's ray "
            f"{prior['mrpe']:.0f} mm ({prior['mrpe_rel']:.1f} %)")  # fmt: skip
    chain = _placement(metrics, "liftnet_regnet")
    chain_prior = _placement(metrics, "baseline_prior_distance_regnet")
    if chain is not None and chain_prior is not None:
        text += (
            f". With RegNet's 2D and camera, the chain {chain['mrpe']:.0f} mm "
            f"({chain['mrpe_rel']:.1f} %), its prior {chain_prior['mrpe_rel']:.1f} %"
        )
    return text + "."


def _camera_sentence(metrics: Mapping[str, Any]) -> str | None:
    """RegNet's focal length and elevation per camera type against their prior baselines."""
    reg = metrics.get("regnet")
    types = reg.get("by_camera_type") if isinstance(reg, Mapping) else None
    if not types:
        return None
    parts = []
    for kind in ("rig", "wild"):
        t = types.get(kind) or {}
        if t.get("focal_rel_err") is None:
            continue
        text = (f"{kind} cameras: focal-length error {t['focal_rel_err']:.2f} against "
                f"{t['baseline_mean_focal_rel_err']:.2f} for the mean training focal")  # fmt: skip
        if t.get("elevation_err_deg") is not None and t.get("baseline_mean_elevation_err_deg"):
            text += (f", elevation error {t['elevation_err_deg']:.1f}° against "
                     f"{t['baseline_mean_elevation_err_deg']:.1f}° for the mean training "
                     "elevation")  # fmt: skip
        parts.append(text)
    if not parts:
        return None
    return "RegNet's camera against its priors: " + "; ".join(parts) + "." + _constant_camera(types)


def _constant_camera(types: Mapping[str, Any]) -> str:
    """A clause when RegNet's camera hardly varies where the true cameras do (wild ones)."""
    t = types.get("wild") or {}
    pairs = [(t.get("focal_ratio_sd"), t.get("focal_ratio_sd_gt")),
             (t.get("elevation_sd_deg"), t.get("elevation_sd_gt_deg"))]  # fmt: skip
    if any(a is None or not b for a, b in pairs) or any(a > 0.1 * b for a, b in pairs):
        return ""
    (f, f_gt), (e, e_gt) = pairs
    return (
        f" On the wild cameras its estimates hardly vary (s.d. over the frames: focal length / "
        f"width {f:.2f} against {f_gt:.2f} for the true cameras, elevation {e:.1f}° against "
        f"{e_gt:.1f}°): RegNet returns about one camera for every frame rather than estimating it."
    )


def _adaptation_sentence(metrics: Mapping[str, Any]) -> str | None:
    """Each LiftNet adapted to the test set's 2D (the ``adapt`` pipeline) against itself."""
    parts = []
    for key, name in LIFTNETS:
        before, after = _pose(metrics, key), _pose(metrics, key.replace("_gt", "_adapted_gt"))
        if before is None or after is None or not before["pa_mpjpe"] > 0:
            continue
        change = 100 * (after["pa_mpjpe"] / before["pa_mpjpe"] - 1)
        parts.append(
            f"{name} {before['pa_mpjpe']:.1f} → {after['pa_mpjpe']:.1f} mm ({change:+.0f} %; "
            f"MPJPE {before['mpjpe']:.1f} → {after['mpjpe']:.1f})"
        )
    if not parts:
        return None
    return (f"Adapted to the 2D of {metrics.get('dataset', '?')} (no 3D used), PA-MPJPE: "
            + "; ".join(parts) + ".")  # fmt: skip


def _relative(value: float, floor: float) -> str:
    below = 100 * (1 - value / floor)
    return f"{below:.0f} % below the floor" if below >= 0 else f"{-below:.0f} % above the floor"


#: RegNet quantities compared with their baselines: (key, baseline key, label, lower is better).
REGNET_CHECKS = (
    ("px_error", "baseline_mean_pose_px_error", "2D error (px)", True),
    ("pck2d_005", "baseline_mean_pose_pck2d_005", "PCK2D (%)", False),
    ("focal_rel_err", "baseline_mean_focal_rel_err", "focal-length error", True),
    ("elevation_err_deg", "baseline_mean_elevation_err_deg", "elevation error (deg)", True),
)


def regnet_worse_than_baseline(metrics: Mapping[str, Any]) -> list[str]:
    """RegNet estimates that are worse than their trivial baseline, as phrases."""
    reg = metrics.get("regnet")
    if not isinstance(reg, Mapping):
        return []
    worse = []
    for key, base_key, label, lower in REGNET_CHECKS:
        value, base = reg.get(key), reg.get(base_key)
        if value is None or base is None:
            continue
        if (value > base) if lower else (value < base):
            worse.append(f"its {label} of {value:.3g} is worse than the baseline's {base:.3g}")
    return worse


def findings(metrics: Mapping[str, Any]) -> list[str]:
    """The run's conclusions, most important first (the first is the run's headline)."""
    sentences = [s for s in (_chain_sentence(metrics), _source_sentence(metrics)) if s]
    worse = regnet_worse_than_baseline(metrics)
    if worse:
        sentences.append("RegNet needs work: " + "; ".join(worse) + ".")
    depth_order = _depth_order_sentence(metrics)
    if not sentences:
        ref = _pose(metrics, "liftnet_reference_gt") or _pose(metrics, "liftnet_gt")
        if ref is not None:
            why = "cross-dataset" if metrics.get("cross_dataset") else "no rendered images"
            sentences.append(
                f"RegNet was not evaluated ({why}); LiftNet on true 2D and camera "
                f"scores {ref['pa_mpjpe']:.1f} mm PA-MPJPE on the "
                f"{metrics.get('dataset', '?')} test split."
            )
    for sentence in (_adaptation_sentence(metrics), _floor_sentence(metrics),
                     _camera_sentence(metrics), _placement_sentence(metrics)):  # fmt: skip
        if sentence:
            sentences.append(sentence)
    if depth_order:
        sentences.append(depth_order)
    return sentences or ["No 3D pose setting was evaluated."]


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def changed_parameters(params: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted parameters whose value differs from the default profile's."""
    ours, base = flatten(params), flatten(defaults)
    return {k: v for k, v in sorted(ours.items()) if base.get(k, object()) != v}


def provenance(
    project: Path, env: str | None, params: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Where a run came from: date, commit (and uncommitted changes), profile, seeds, and the
    parameters that differ from the default profile."""
    import torch

    commit = _git("rev-parse", "HEAD", cwd=project)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=project)
    seeds = {k: v for k, v in sorted(flatten(params).items()) if k.endswith("seed")}
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown (not a git checkout)",
        "uncommitted_changes": bool(status) if status is not None else None,
        "profile": env or "base (the default)",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "seeds": seeds,
        "changed_parameters": changed_parameters(params, defaults),
    }
