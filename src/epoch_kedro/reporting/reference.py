"""Published reference points quoted by the method spec (docs/METHOD.md, Evaluation).

They come from papers evaluated on Human3.6M / MPI-INF-3DHP with ground-truth 2D, unsupervised:
a different dataset from the embedded synthetic one, so they orient the reader, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedResult:
    """One published number set; missing metrics are None (the spec does not quote them)."""

    method: str
    dataset: str
    mpjpe: float | None = None
    pa_mpjpe: float | None = None
    pck150: float | None = None


PUBLISHED: tuple[PublishedResult, ...] = (
    PublishedResult("ElePose", "Human3.6M", mpjpe=64.0, pa_mpjpe=36.7),
    PublishedResult("CanonPose", "Human3.6M", mpjpe=74.3),
    PublishedResult("CanonPose", "MPI-INF-3DHP", mpjpe=104.0, pck150=77.0),
)
