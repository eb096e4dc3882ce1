"""Dataset sources behind ``dataset.kind``: each returns an ingested dataset (see schema).

- ``synthetic``: the embedded procedural dataset (``synthetic`` parameters).
- ``h36m``: Human3.6M in the VideoPose3D layout under ``dataset.root`` (:mod:`.h36m`).
- ``mpi_inf_3dhp``: the MPI-INF-3DHP test set under ``dataset.root`` (:mod:`.mpi_inf_3dhp`).
- ``multiview``: a calibrated multi-view recording with per-camera 2D detections under
  ``dataset.root``, truth triangulated from the other cameras (:mod:`.multiview_dataset`); a
  test set only (``evaluate_only``).

Every kind yields the same schema, so the downstream pipelines run unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from epoch_kedro.data import h36m, mpi_inf_3dhp, multiview_dataset
from epoch_kedro.data.config import DatasetConfig, dataset_config
from epoch_kedro.data.schema import take
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.utils.config import deep_merge

logger = logging.getLogger(__name__)

SUPPORTED_KINDS = ("synthetic", "h36m", "mpi_inf_3dhp", "multiview")
#: Kinds that hold a test set and nothing to train on.
TEST_ONLY_KINDS = ("multiview",)
#: Real datasets carry their protocol split; the synthetic one uses the ``splits`` parameter.
PROTOCOL_SPLITS: dict[str, dict[str, list[str]]] = {
    "h36m": h36m.PROTOCOL_SPLITS,
    "mpi_inf_3dhp": mpi_inf_3dhp.PROTOCOL_SPLITS,
}
#: The test set of each real kind, as an evaluate-only dataset loads it (:func:`test_subjects`).
TEST_SUBJECTS: dict[str, tuple[str, ...]] = {
    "h36m": h36m.TEST_SUBJECTS,
    "mpi_inf_3dhp": mpi_inf_3dhp.TEST_SUBJECTS,
}
Splits = dict[str, list[str]]
Dataset = DatasetConfig | Mapping[str, Any]


def check_kind(dataset: Dataset) -> str:
    """``dataset.kind``, or a clear error listing the supported kinds."""
    kind = dataset_config(dataset).kind
    if kind not in SUPPORTED_KINDS:
        raise ValueError(
            f"dataset.kind={kind!r} is not supported; choose one of {list(SUPPORTED_KINDS)}"
        )
    return str(kind)


def dataset_name(dataset: Dataset) -> str:
    """The name reported for a dataset: ``dataset.name`` if set, else its kind (and the seed of
    a synthetic one drawn with its own, ``dataset.synthetic.seed``)."""
    d = dataset_config(dataset)
    if d.name:
        return str(d.name)
    seed = (d.synthetic or {}).get("seed")
    own_seed = d.kind == "synthetic" and seed is not None
    return f"synthetic (seed {seed})" if own_seed else str(d.kind)


def resolve_splits(splits: Splits, dataset: Dataset) -> Splits:
    """Subject splits for ``dataset``: ``dataset.splits`` if set, else the kind's protocol.

    The synthetic kind's protocol is the ``splits`` parameter itself. An evaluate-only dataset
    (:func:`evaluate_only`) has a test split and nothing else.
    """
    d = dataset_config(dataset)
    if d.evaluate_only:
        return {"test": test_subjects(d, splits)}
    if d.kind in TEST_ONLY_KINDS:
        raise ValueError(f"dataset.kind={d.kind!r} is a test set with nothing to train "
                         f"on: evaluate it with `kedro run --pipeline=cross_dataset` "
                         f"(evaluate_only: true)")  # fmt: skip
    if d.splits:
        return {name: list(members) for name, members in d.splits.items()}
    kind = check_kind(d)
    return dict(splits) if kind == "synthetic" else PROTOCOL_SPLITS[kind]


def evaluate_only(dataset: Dataset) -> bool:
    """``dataset.evaluate_only``: only the test subjects are loaded, as the test split (the
    dataset a trained model is tested on in cross-dataset evaluation)."""
    return dataset_config(dataset).evaluate_only


def test_subjects(dataset: Dataset, splits: Splits) -> list[str]:
    """``dataset.test_subjects`` if set, else the kind's test set (h36m: S9 S11; mpi_inf_3dhp:
    TS1..TS6; synthetic: the ``splits`` parameter's)."""
    d = dataset_config(dataset)
    if d.test_subjects:
        return list(d.test_subjects)
    kind = check_kind(d)
    if kind in TEST_ONLY_KINDS:
        return [dataset_name(d)]  # one recording: its rows are named after it
    return list(splits["test"] if kind == "synthetic" else TEST_SUBJECTS[kind])


def frame_strides(dataset: Dataset, splits: Splits) -> dict[str, int]:
    """Frame stride per subject from ``dataset.frame_stride``: one int, or one per split."""
    stride = dataset_config(dataset).frame_stride or 1
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


def _root(dataset: DatasetConfig) -> Path:
    root = dataset.root
    if not root:
        raise ValueError(
            f"dataset.kind={dataset.kind!r} needs dataset.root: the directory of your "
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
    dataset: Dataset, synthetic: Mapping[str, Any], splits: Splits | None = None
) -> dict[str, np.ndarray]:
    """Produce the ingested dataset selected by ``dataset.kind``.

    ``splits`` (resolved, see ``resolve_splits``) select the subjects a real dataset loads and
    the per-split frame stride; without them every subject is loaded at ``frame_stride`` 1.
    """
    dataset = dataset_config(dataset)
    kind = check_kind(dataset)
    strides = frame_strides(dataset, splits) if splits else {}
    subjects = sorted({s for members in splits.values() for s in members}) if splits else None
    if kind == "h36m":
        options = dict(dataset.h36m or {})
        config = h36m.H36MConfig(root=_root(dataset), **options)
        return h36m.load_h36m(config, subjects, strides)
    if kind == "mpi_inf_3dhp":
        return mpi_inf_3dhp.load_mpi_inf_3dhp(_root(dataset), subjects, strides)
    if kind == "multiview":
        data = multiview_dataset.load_multiview(
            _root(dataset), dataset.multiview, dataset_name(dataset)
        )
        return _stride_rows(data, strides)
    config = SyntheticConfig.from_params(_synthetic_params(dataset, synthetic, subjects))
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


def _synthetic_params(
    dataset: DatasetConfig, synthetic: Mapping[str, Any], subjects: list[str] | None
) -> dict[str, Any]:
    """The generator's parameters: ``synthetic``, with ``dataset.synthetic`` over it (e.g. another
    seed for a cross-dataset test set); an evaluate-only dataset generates its test subjects
    alone (each subject has its own random streams, so they come out the same)."""
    params = deep_merge(dict(synthetic), dict(dataset.synthetic or {}))
    if dataset.evaluate_only and subjects:
        params["subjects"] = subjects
    return params
