"""Checks that an ingested dataset (see ``schema.py``) and its subject splits are well formed.

Every check is vectorised over samples so that validating a 100k-sample dataset stays cheap; the
errors name the dataset, the field, the expected and the actual shape or value, and for per-sample
problems the first offending sample index and how many samples are bad.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from epoch_kedro.data.schema import LIFT_INPUT_FIELDS, OPTIONAL_FIELDS, SAMPLE_FIELDS, Field
from epoch_kedro.errors import EpochError

#: Tolerance on ``R @ R.T == I`` and ``det(R) == 1``.
ROTATION_TOL = 1e-3
#: Tolerance on the fixed entries (zeros and the 1) of an intrinsics matrix.
INTRINSICS_TOL = 1e-6
#: Integer fields that index something and so cannot be negative.
NON_NEGATIVE_FIELDS = ("sequence", "frame", "camera")

_KIND_NAMES = {"f": "float", "i": "integer", "b": "bool", "U": "unicode string"}


class DatasetValidationError(EpochError, ValueError):
    """An ingested dataset or its splits violate the schema."""


def _where(name: str, field: str) -> str:
    """Prefix naming the dataset and the field of an error message."""
    return f"dataset {name!r}: field {field!r}"


def _raise_if_any(
    bad: np.ndarray, name: str, field: str, what: str, detail: Callable[[int], str] | None = None
) -> None:
    """Raise if any entry of the per-sample mask ``bad`` (N,) is set: count, first index, detail."""
    if not bad.any():
        return
    first = int(np.argmax(bad))
    suffix = f": {detail(first)}" if detail is not None else ""
    raise DatasetValidationError(
        f"{_where(name, field)} has {what} in {int(bad.sum())} of {bad.size} samples, "
        f"first at sample {first}{suffix}"
    )


def _kind_matches(actual: str, expected: str) -> bool:
    """Whether a numpy dtype kind satisfies a schema kind (unsigned ints count as integers)."""
    return actual in ("i", "u") if expected == "i" else actual == expected


def _check_presence(data: dict[str, np.ndarray], name: str) -> None:
    """Every field of ``SAMPLE_FIELDS`` is a key of ``data``."""
    missing = [key for key in SAMPLE_FIELDS if key not in data]
    if missing:
        raise DatasetValidationError(
            f"dataset {name!r}: missing required field(s) {missing}; present: {sorted(data)}"
        )


def _check_shapes(arrays: dict[str, np.ndarray], name: str, fields: dict[str, Field]) -> int:
    """Trailing shapes match the schema and all fields share one row count N >= 1; returns N."""
    for key, field in fields.items():
        arr = arrays[key]
        if arr.ndim < 1 or arr.shape[1:] != field.shape:
            expected = str(("N", *field.shape)).replace("'N'", "N")
            raise DatasetValidationError(
                f"{_where(name, key)} must have shape {expected}, got {arr.shape}"
            )
    rows = {key: arrays[key].shape[0] for key in fields}
    n = Counter(rows.values()).most_common(1)[0][0]
    odd = {key: count for key, count in rows.items() if count != n}
    if odd:
        raise DatasetValidationError(
            f"dataset {name!r}: all fields must have the same number of rows; most have {n}, "
            f"but {', '.join(f'field {k!r} has {c}' for k, c in odd.items())}"
        )
    if n < 1:
        raise DatasetValidationError(f"dataset {name!r}: has no samples (N = 0)")
    return n


def _check_dtypes(arrays: dict[str, np.ndarray], name: str, fields: dict[str, Field]) -> None:
    """Each field's dtype kind matches the schema's."""
    for key, field in fields.items():
        dtype = arrays[key].dtype
        if not _kind_matches(dtype.kind, field.kind):
            raise DatasetValidationError(
                f"{_where(name, key)} must have a {_KIND_NAMES[field.kind]} dtype, got {dtype}"
            )


def _describe_entry(row: np.ndarray, bad: np.ndarray) -> str:
    """Index (within the sample) and value of the first set entry of ``bad``, same shape as row."""
    index = tuple(int(k) for k in np.unravel_index(np.argmax(bad), bad.shape))
    return f"value {row[index]} at index {index}"


def _check_finite(arrays: dict[str, np.ndarray], name: str, fields: dict[str, Field]) -> None:
    """Float fields are finite; ``kp2d`` may only be NaN at joints where ``visible`` is False."""
    for key, field in fields.items():
        if field.kind != "f":
            continue
        arr = arrays[key]
        if key in ("kp2d", "pose2d"):
            # Detectors and projections leave invisible joints undefined; visible ones must be real.
            bad = np.isinf(arr) | (np.isnan(arr) & arrays["visible"][..., None])
            what = "inf values or NaN at visible joints"
        else:
            bad = ~np.isfinite(arr)
            what = "non-finite values (NaN or inf)"
        _raise_if_any(
            bad.reshape(len(arr), -1).any(axis=1),
            name,
            key,
            what,
            lambda i, a=arr, b=bad: _describe_entry(a[i], b[i]),
        )


def _check_intrinsics(K: np.ndarray, name: str) -> None:
    """``K`` (N, 3, 3) has positive focal lengths and the form [[fx,0,cx],[0,fy,cy],[0,0,1]]."""
    fx, fy = K[:, 0, 0], K[:, 1, 1]
    _raise_if_any(
        (fx <= 0) | (fy <= 0),
        name,
        "K",
        "non-positive focal length",
        lambda i: f"fx={float(fx[i])}, fy={float(fy[i])}",
    )
    fixed = np.stack([K[:, 0, 1], K[:, 1, 0], K[:, 2, 0], K[:, 2, 1], K[:, 2, 2] - 1.0], axis=1)
    _raise_if_any(
        (np.abs(fixed) > INTRINSICS_TOL).any(axis=1),
        name,
        "K",
        "entries breaking the form [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (skew or last row)",
        lambda i: f"K={K[i].tolist()}",
    )


def _check_rotations(R: np.ndarray, name: str) -> None:
    """``R`` (N, 3, 3) is orthonormal with determinant +1 within ``ROTATION_TOL``."""
    R64 = R.astype(np.float64)
    gram_err = np.abs(R64 @ R64.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
    _raise_if_any(
        gram_err > ROTATION_TOL,
        name,
        "R",
        "a matrix that is not orthonormal",
        lambda i: f"max |R R^T - I| = {gram_err[i]:.3g} > {ROTATION_TOL}",
    )
    det = np.linalg.det(R64)
    _raise_if_any(
        np.abs(det - 1.0) > ROTATION_TOL,
        name,
        "R",
        "det != +1 (a reflection, not a rotation)",
        lambda i: f"det = {det[i]:.6g}",
    )


def _check_integers(arrays: dict[str, np.ndarray], name: str) -> None:
    """Image sizes are positive; sequence, frame and camera indices are non-negative."""
    size = arrays["image_size"]
    _raise_if_any(
        (size <= 0).any(axis=1),
        name,
        "image_size",
        "non-positive image size",
        lambda i: f"(w, h) = {size[i].tolist()}",
    )
    for key in NON_NEGATIVE_FIELDS:
        arr = arrays[key]
        _raise_if_any(arr < 0, name, key, "negative values", lambda i, a=arr: f"{int(a[i])}")


def validate_dataset(data: dict[str, np.ndarray], name: str) -> None:
    """Raise ``DatasetValidationError`` unless ``data`` (field -> (N, ...)) obeys ``SAMPLE_FIELDS``.

    ``OPTIONAL_FIELDS`` are checked the same way when present; other extra fields are allowed
    and left unchecked.
    """
    _check_presence(data, name)
    optional = {key: field for key, field in OPTIONAL_FIELDS.items() if key in data}
    fields = {**SAMPLE_FIELDS, **optional}
    arrays = {key: np.asarray(data[key]) for key in fields}
    _check_shapes(arrays, name, fields)
    _check_dtypes(arrays, name, fields)
    _check_finite(arrays, name, fields)
    _check_intrinsics(arrays["K"], name)
    _check_rotations(arrays["R"], name)
    _check_integers(arrays, name)


def validate_model_input(data: dict[str, np.ndarray], name: str) -> None:
    """Raise ``DatasetValidationError`` unless ``data`` is a model-input split: the ingested
    schema (:func:`validate_dataset`) plus the arrays LiftNet reads (``LIFT_INPUT_FIELDS``)."""
    validate_dataset(data, name)
    missing = [key for key in LIFT_INPUT_FIELDS if key not in data]
    if missing:
        raise DatasetValidationError(f"dataset {name!r}: missing LiftNet input field(s) "
                                     f"{missing}; re-run the stage that writes it")  # fmt: skip
    fields = {**LIFT_INPUT_FIELDS, "kp2d": SAMPLE_FIELDS["kp2d"]}  # kp2d: the row count
    arrays = {key: np.asarray(data[key]) for key in fields}
    _check_shapes(arrays, name, fields)
    _check_dtypes(arrays, name, LIFT_INPUT_FIELDS)
    _check_finite({**arrays, "visible": np.asarray(data["visible"])}, name, LIFT_INPUT_FIELDS)


def validate_training_splits(train: dict[str, np.ndarray], val: dict[str, np.ndarray]) -> None:
    """The training stages' ``model_input_train`` and ``model_input_val``, checked before
    anything trains (:func:`validate_model_input`)."""
    validate_model_input(train, "model_input_train")
    validate_model_input(val, "model_input_val")


def _unique_strings(values: Iterable[str]) -> set[str]:
    """Distinct strings of ``values`` (a per-sample (N,) array or any iterable)."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=str)
    return {str(v) for v in np.unique(arr)}


def validate_splits(
    splits: dict[str, list[str]],
    subjects: Iterable[str],
    name: str,
    required: tuple[str, ...] = ("train", "test"),
) -> None:
    """Raise unless ``splits`` (split -> subject list) are non-empty, known and leak no test
    subject.

    ``subjects`` are the subjects present in the data (e.g. the per-sample ``subject`` field);
    a 'val' split is optional (``required`` names the others), and any split present must be
    non-empty. 'train' and 'val' may
    share subjects (the Human3.6M protocol trains on all five training subjects, and model
    selection uses unsupervised losses only); 'test' shares none with any other split.
    """
    missing = [split for split in required if split not in splits]
    if missing:
        raise DatasetValidationError(
            f"dataset {name!r}: splits must include {' and '.join(map(repr, required))}; "
            f"missing {missing}, got {sorted(splits)}"
        )
    for split, members in splits.items():
        if isinstance(members, str):
            # A bare string would be iterated character by character as subject names.
            raise DatasetValidationError(
                f"dataset {name!r}: split {split!r} must be a list of subjects, got {members!r}"
            )
        if len(members) == 0:
            raise DatasetValidationError(f"dataset {name!r}: split {split!r} is empty")
    owner: dict[str, str] = {}
    for split, members in splits.items():
        for subject in members:
            shared_ok = {owner.get(subject), split} == {"train", "val"}
            if subject in owner and owner[subject] != split and not shared_ok:
                raise DatasetValidationError(
                    f"dataset {name!r}: subject {subject!r} is in both split {owner[subject]!r} "
                    f"and split {split!r}"
                )
            owner[subject] = split
    available = _unique_strings(subjects)
    for split, members in splits.items():
        unknown = [s for s in members if s not in available]
        if unknown:
            raise DatasetValidationError(
                f"dataset {name!r}: split {split!r} lists subject(s) {unknown} absent from the "
                f"data; available subjects: {sorted(available)}"
            )
