"""Dataset sources behind ``dataset.kind``: each returns an ingested dataset (see schema).

- ``synthetic``: the embedded procedural dataset (``synthetic`` parameters).
- ``h36m``: Human3.6M in the VideoPose3D layout under ``dataset.root`` (:mod:`.h36m`).
- ``mpi_inf_3dhp``: the MPI-INF-3DHP test set under ``dataset.root`` (:mod:`.mpi_inf_3dhp`).

Every kind yields the same schema, so the downstream pipelines run unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.data import h36m, mpi_inf_3dhp
from epoch_kedro.data.normalize import to_model_input
from epoch_kedro.data.schema import take
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.validate import validate_dataset
from epoch_kedro.geometry import UNDISTORT_ITERATIONS

logger = logging.getLogger(__name__)

SUPPORTED_KINDS = ("synthetic", "h36m", "mpi_inf_3dhp")
#: Real datasets carry their protocol split; the synthetic one uses the ``splits`` parameter.
PROTOCOL_SPLITS: dict[str, dict[str, list[str]]] = {
    "h36m": h36m.PROTOCOL_SPLITS,
    "mpi_inf_3dhp": mpi_inf_3dhp.PROTOCOL_SPLITS,
}
#: The test set of each kind, as cross-dataset evaluation reads it.
TEST_SUBJECTS: dict[str, tuple[str, ...]] = {
    "synthetic": ("S9", "S11"),
    "h36m": h36m.TEST_SUBJECTS,
    "mpi_inf_3dhp": mpi_inf_3dhp.TEST_SUBJECTS,
}
Splits = dict[str, list[str]]


def check_kind(dataset: Mapping[str, Any]) -> str:
    """``dataset.kind``, or a clear error listing the supported kinds."""
    kind = dataset.get("kind")
    if kind not in SUPPORTED_KINDS:
        raise ValueError(
            f"dataset.kind={kind!r} is not supported; choose one of {list(SUPPORTED_KINDS)}"
        )
    return str(kind)


def dataset_name(dataset: Mapping[str, Any]) -> str:
    """The name reported for a dataset: ``dataset.name`` if set, else its kind."""
    return str(dataset.get("name") or dataset.get("kind"))


def resolve_splits(splits: Splits, dataset: Mapping[str, Any]) -> Splits:
    """Subject splits for ``dataset``: ``dataset.splits`` if set, else the kind's protocol.

    The synthetic kind's protocol is the ``splits`` parameter itself.
    """
    if dataset.get("splits"):
        return {name: list(members) for name, members in dataset["splits"].items()}
    kind = check_kind(dataset)
    return dict(splits) if kind == "synthetic" else PROTOCOL_SPLITS[kind]


def frame_strides(dataset: Mapping[str, Any], splits: Splits) -> dict[str, int]:
    """Frame stride per subject from ``dataset.frame_stride``: one int, or one per split."""
    stride = dataset.get("frame_stride", 1) or 1
    per_split = stride if isinstance(stride, Mapping) else {s: stride for s in splits}
    unknown = sorted(set(per_split) - set(splits))
    if unknown:
        raise ValueError(
            f"dataset.frame_stride names unknown split(s) {unknown}; splits: {sorted(splits)}"
        )
    out = {}
    for split, members in splits.items():
        value = per_split.get(split, 1)
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"dataset.frame_stride for split {split!r} must be an int >= 1, got {value!r}"
            )
        out.update({subject: value for subject in members})
    return out


def _root(dataset: Mapping[str, Any]) -> Path:
    root = dataset.get("root")
    if not root:
        raise ValueError(
            f"dataset.kind={dataset.get('kind')!r} needs dataset.root: the directory of your "
            f"licensed copy (set it in conf/local/parameters.yml or --params dataset.root=<dir>)"
        )
    return Path(root)


def _stride_rows(data: dict[str, np.ndarray], strides: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Rows whose frame index is a multiple of their subject's stride."""
    if all(s == 1 for s in strides.values()):
        return data
    per_row = np.array([strides.get(str(s), 1) for s in data["subject"]])
    return take(data, data["frame"] % per_row == 0)


def load_source(
    dataset: Mapping[str, Any], synthetic: Mapping[str, Any], splits: Splits | None = None
) -> dict[str, np.ndarray]:
    """Produce the ingested dataset selected by ``dataset.kind``.

    ``splits`` (resolved, see ``resolve_splits``) select the subjects a real dataset loads and
    the per-split frame stride; without them every subject is loaded at ``frame_stride`` 1.
    """
    kind = check_kind(dataset)
    strides = frame_strides(dataset, splits) if splits else {}
    subjects = sorted({s for members in splits.values() for s in members}) if splits else None
    if kind == "h36m":
        options = dict(dataset.get("h36m") or {})
        config = h36m.H36MConfig(root=_root(dataset), **options)
        return h36m.load_h36m(config, subjects, strides)
    if kind == "mpi_inf_3dhp":
        return mpi_inf_3dhp.load_mpi_inf_3dhp(_root(dataset), subjects, strides)
    config = SyntheticConfig.from_params(dict(synthetic))
    logger.info(
        "Generating synthetic dataset: %d subjects x %d actions x %d sequences x %d frames x "
        "%d cameras (seed %d)",
        len(config.subjects),
        len(config.actions),
        config.sequences_per_action,
        config.frames_per_sequence,
        config.cameras.per_sequence,
        config.seed,
    )
    return _stride_rows(generate_synthetic(config), strides)


def load_test_split(
    dataset: Mapping[str, Any],
    synthetic: Mapping[str, Any] | None = None,
    undistort_iterations: int = UNDISTORT_ITERATIONS,
) -> dict[str, np.ndarray]:
    """Model inputs of the test set of ``dataset`` (another kind, for cross-dataset evaluation).

    ``dataset`` takes the keys of the ``dataset`` parameter; ``test_subjects`` overrides the
    kind's test set (h36m: S9 S11; mpi_inf_3dhp: TS1..TS6; synthetic: S9 S11).
    """
    kind = check_kind(dataset)
    subjects = list(dataset.get("test_subjects") or TEST_SUBJECTS[kind])
    stride = dataset.get("frame_stride", 1) or 1
    stride = stride.get("test", 1) if isinstance(stride, Mapping) else stride
    test = {"test": subjects}
    data = load_source({**dataset, "frame_stride": {"test": stride}}, synthetic or {}, test)
    name = dataset_name(dataset)
    validate_dataset(data, name)
    missing = sorted(set(subjects) - set(np.unique(data["subject"]).tolist()))
    if missing:
        raise ValueError(f"dataset {name!r}: test subject(s) {missing} absent from the data")
    data = take(data, np.isin(data["subject"], subjects))
    logger.info("Test set of %s (%s): %d samples", name, ", ".join(subjects), len(data["kp2d"]))
    return to_model_input(data, undistort_iterations=undistort_iterations)
