"""Every parameter group, checked when a run starts and before any node writes anything.

Each group is built into the typed configuration its stage uses (unknown keys and wrong types
are refused there, :func:`~epoch_kedro.utils.config.from_params`), then every field is held
to its range: counts and sizes at least 1, rates and scales positive, shares within [0, 1],
choices among the known ones. A violation is a :class:`~epoch_kedro.errors.ParameterError`
naming the parameter, its value and what was expected, raised by a Kedro hook before the
first node runs (:mod:`epoch_kedro.hooks`): a bad ``--params`` never costs an artifact.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from typing import Any

from epoch_kedro.errors import ParameterError
from epoch_kedro.geometry import UNDISTORT_ITERATIONS
from epoch_kedro.training.run import RUN_KEYS

#: Field names (at any depth) and the range their values must lie in.
AT_LEAST_ONE = frozenset({
    "epochs", "batch_size", "size", "crop_size", "image_size", "context_size", "frame_stride",
    "sequences_per_action", "frames_per_sequence", "per_sequence", "width", "blocks",
    "hidden", "validation_samples", "n_components", "devices", "widths", "stem_stride",
})  # fmt: skip
NON_NEGATIVE = frozenset({
    "refine", "warmup_steps", "max_steps_per_epoch", "seed", "torch_threads", "noise_std",
    "jitter_scale", "jitter_shift", "weight_decay", "grad_clip", "skeleton_samples",
    "overlay_samples", "height_std", "bone_std", "width_std", "proportion_std", "sigma",
    "outlier_sigma", "roll_std_deg", "principal_jitter", "azimuth_deg", "min_depth_ratio",
    "face", "limb", "random", "heatmap_weight",
})  # fmt: skip
POSITIVE = frozenset({
    "lr", "fps", "margin", "min_size", "focal", "height_mean", "distance", "focal_prior",
    "box_depth", "overlay_crop_size", "error_bins", "scale_clamp", "weak_depth", "height",
    "distance_range", "focal_range",
})  # fmt: skip
SHARE = frozenset({
    "wild_fraction", "outlier_rate", "swap_rate", "gravity_dropout", "share", "flip",
    "colour", "random_rate", "shift",
})  # fmt: skip
#: ``lr_decay`` multiplies the rate each epoch: (0, 1].
DECAY = frozenset({"lr_decay"})
#: Numeric fields any finite value suits (angles, heights relative to the floor). Every other
#: numeric field of every group has a rule above (tests/test_parameters.py holds them to it).
FREE = frozenset({"elevation_deg", "min_eye_height"})

#: Smallest image side the CNNs take (their stages halve it four times).
MIN_IMAGE_SIZE = 16


def _range_error(name: str, value: Any) -> str | None:
    """What ``value`` of field ``name`` should be, or None when it is fine."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return "a finite number"
    rules = (
        (AT_LEAST_ONE, value >= 1, "an integer >= 1"),
        (NON_NEGATIVE, value >= 0, ">= 0"),
        (POSITIVE, value > 0, "> 0"),
        (SHARE, 0 <= value <= 1, "a share in [0, 1]"),
        (DECAY, 0 < value <= 1, "in (0, 1]"),
    )
    for names, ok, expected in rules:
        if name in names and not ok:
            return expected
    return None


def check_ranges(config: Any, prefix: str) -> None:
    """Every field of the dataclass ``config`` (recursively) within its range: every number
    finite, every loss weight >= 0, a device this machine has."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        path = f"{prefix}.{field.name}"
        if dataclasses.is_dataclass(value):
            check_ranges(value, path)
            continue
        if field.name == "device" and isinstance(value, str):
            _device(value, path)
        for item in value if isinstance(value, tuple) else (value,):
            expected = _range_error(field.name, item)
            if expected is None and prefix.endswith(".losses") and _number(item) and item < 0:
                expected = "a loss weight >= 0 (0 switches the term off)"
            if expected:
                raise ParameterError(f"{path}={value!r}: expected {expected}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _device(value: str, path: str) -> None:
    from epoch_kedro.training.loop import check_device

    try:
        check_device(value)
    except ValueError as err:
        raise ParameterError(str(err).replace("loop.device", path, 1)) from None


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ParameterError(f"{name}={value!r}: choose one of {list(choices)}")


def _training(group: str, params: dict[str, Any], build: Callable[[dict], Any]) -> Any:
    model_params = {k: v for k, v in params.items() if k not in RUN_KEYS}
    threads = params.get("torch_threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 0):  # fmt: skip
        raise ParameterError(f"{group}.torch_threads={threads!r}: expected an integer >= 0")
    concurrent = params.get("concurrent", False)
    if not isinstance(concurrent, bool):
        raise ParameterError(f"{group}.concurrent={concurrent!r}: expected true or false")
    return build(model_params)


def _builders() -> dict[str, Callable[[dict[str, Any], dict[str, Any]], list]]:
    """Per parameter group: ``(group params, all params) -> [(prefix, typed config)]``.

    Imported here: the stages' modules pull in torch."""
    from epoch_kedro.chain import BOX_SOURCES, CAMERA_POOLING, ChainSettings
    from epoch_kedro.data.config import RenderConfig, dataset_config, render_config
    from epoch_kedro.data.detector_noise import DetectorNoise
    from epoch_kedro.data.sources import SUPPORTED_KINDS
    from epoch_kedro.data.synthetic import SyntheticConfig
    from epoch_kedro.models.flow import FlowConfig
    from epoch_kedro.training import liftnet, localizer, regnet
    from epoch_kedro.training.loop import LoopConfig
    from epoch_kedro.utils.config import deep_merge, from_params

    def dataset(p, _, prefix="dataset"):
        config = dataset_config(p, prefix)
        _choice(config.kind, f"{prefix}.kind", SUPPORTED_KINDS)
        return [(prefix, config)]

    def render(p, _):
        for key in ("size", "crop_size", "frame_stride"):
            value = p.get(key, getattr(RenderConfig(), key))
            least = 1 if key == "frame_stride" else MIN_IMAGE_SIZE
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ParameterError(f"render.{key}={value!r}: expected an integer >= {least}")
        return [("render", render_config(p))]

    def normalization(p, _):
        iterations = p.get("undistort_iterations", UNDISTORT_ITERATIONS)
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ParameterError(f"normalization.undistort_iterations={iterations!r}: "
                                 "expected an integer >= 1")  # fmt: skip
        return []

    def generate(p, _):
        settings = from_params(ChainSettings, p, "generate_inputs")
        _choice(settings.boxes, "generate_inputs.boxes", BOX_SOURCES)
        _choice(settings.camera_pooling, "generate_inputs.camera_pooling", CAMERA_POOLING)
        return [("generate_inputs", settings)]

    def lift(group):
        def check(p, everything):
            merged = deep_merge(everything.get("liftnet", {}), p) if group != "liftnet" else p
            choices = liftnet.TRAIN_INPUTS
            _choice(merged.get("train_inputs", "ground_truth"), f"{group}.train_inputs", choices)
            return [(group, _training(group, merged, liftnet.training_config))]

        return check

    def evaluation(p, _):
        if p.get("dataset") is not None:
            raise ParameterError(
                "evaluation.dataset is no longer read: cross-dataset evaluation is its own "
                "pipeline (kedro run --pipeline=cross_dataset --params "
                "cross_dataset.dataset.kind=...)"
            )
        noise = {k: v for k, v in (p.get("detector_noise") or {}).items() if k != "seed"}
        prefix = "evaluation.detector_noise"
        return [(prefix, from_params(DetectorNoise, noise, prefix))]

    def adapt(p, _):
        from epoch_kedro.training.adapt import AdaptConfig

        config = from_params(AdaptConfig, p, "adapt")
        config.validate()
        return [("adapt", config)]

    return {
        "dataset": dataset,
        "synthetic": lambda p, _: [("synthetic", SyntheticConfig.from_params(dict(p)))],
        "render": render,
        "normalization": normalization,
        "flow": lambda p, _: [
            ("flow.model", from_params(FlowConfig, p.get("model"), "flow.model")),
            ("flow.loop", from_params(LoopConfig, p.get("loop"), "flow.loop")),
        ],
        "localizer": lambda p, _: [
            ("localizer", _training("localizer", p, localizer.training_config))
        ],
        "regnet": lambda p, _: [("regnet", _training("regnet", p, regnet.training_config))],
        "generate_inputs": generate,
        "liftnet": lift("liftnet"),
        "liftnet_weak": lift("liftnet_weak"),
        "liftnet_reference": lift("liftnet_reference"),
        "liftnet_teacher": lift("liftnet_teacher"),
        "evaluation": evaluation,
        "cross_dataset": lambda p, _: dataset(p.get("dataset") or {}, _, "cross_dataset.dataset"),
        "adapt": adapt,
    }


#: Parameter groups that no stage builds into a typed configuration, but pipelines read.
PLAIN_GROUPS = ("splits", "report")


def check_parameters(params: dict[str, Any]) -> None:
    """Build and range-check every known parameter group of ``params``; raise
    :class:`ParameterError` (one line) at the first problem, an unknown group included
    (``liftnett.loop.epochs=3`` would otherwise be ignored without a word)."""
    builders = _builders()
    known = sorted({*builders, *PLAIN_GROUPS})
    for group in sorted(set(params) - set(known)):
        nearest = difflib.get_close_matches(group, known, n=1)
        hint = f"did you mean {nearest[0]!r}? " if nearest else ""
        raise ParameterError(f"{group}: unknown parameter group; {hint}known: {known}")
    for group, build in builders.items():
        if group not in params or params[group] is None:
            continue
        if not isinstance(params[group], dict):
            raise ParameterError(f"{group}: expected a mapping, got {params[group]!r}")
        try:
            configs = build(params[group], params)
        except ParameterError:
            raise
        except (TypeError, ValueError) as err:
            raise ParameterError(" ".join(str(err).split())) from err
        for prefix, config in configs:
            check_ranges(config, prefix)
