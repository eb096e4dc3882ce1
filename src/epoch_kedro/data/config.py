"""The ``dataset`` and ``render`` parameter groups, typed (conf/base/parameters_ingestion.yml).

Every stage reads these two groups; each setting has its default here and nowhere else, and an
unknown or mistyped key is refused in one line naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from epoch_kedro.data.boxes import BoxConfig
from epoch_kedro.data.synthetic.render import RendererConfig
from epoch_kedro.utils.config import from_params


@dataclass(frozen=True)
class DatasetConfig:
    """Which data feeds the pipelines (the ``dataset`` group; ``cross_dataset.dataset`` for
    the dataset a trained model is tested on)."""

    kind: str = "synthetic"  # synthetic | h36m | mpi_inf_3dhp | multiview
    root: str | None = None  # directory of a real dataset
    name: str | None = None  # as reported; None: the kind
    # every n-th frame: one int, or one per split ({train: 5, test: 1}); None: every frame
    frame_stride: int | Mapping[str, int] | None = None
    splits: Mapping[str, list[str]] | None = None  # None: the kind's protocol split
    evaluate_only: bool = False  # load the test subjects alone, as the test split
    test_subjects: list[str] | None = None  # None: the kind's test set
    h36m: Mapping[str, Any] | None = None  # Human3.6M file names (h36m.H36MConfig)
    multiview: Mapping[str, Any] | None = None  # multiview recording settings
    synthetic: Mapping[str, Any] | None = None  # over the ``synthetic`` group (another seed)


@dataclass(frozen=True)
class RenderConfig:
    """Camera images of the synthetic samples (the ``render`` group): low-resolution full
    frames for the localiser and person crops for RegNet."""

    enabled: bool = True
    size: int = 64  # px: full frames, resized to size x size (K scaled)
    crop_size: int = 128  # px: person crops, RegNet's input
    box: BoxConfig = field(default_factory=BoxConfig)  # boxes around the 2D pose
    frame_stride: int = 1  # every n-th frame of a clip gets an image
    batch_size: int = 256
    noise_std: float = 4.0  # sensor noise in grey levels
    blur: bool = True
    seed: int = 0

    def renderer(self, size: int | None = None) -> RendererConfig:
        """The renderer's settings for images of ``size`` px (default: the full frames)."""
        shared = {f.name: getattr(self, f.name) for f in fields(RendererConfig)}
        return RendererConfig(**{**shared, "size": self.size if size is None else size})

    def crops(self) -> RendererConfig:
        """The renderer's settings for person crops (``crop_size`` px)."""
        return self.renderer(self.crop_size)


def dataset_config(
    dataset: DatasetConfig | Mapping[str, Any], prefix: str = "dataset"
) -> DatasetConfig:
    """``dataset`` as a :class:`DatasetConfig` (parameter dicts are checked key by key)."""
    if isinstance(dataset, DatasetConfig):
        return dataset
    return from_params(DatasetConfig, dict(dataset), prefix)


def render_config(render: RenderConfig | Mapping[str, Any]) -> RenderConfig:
    """``render`` as a :class:`RenderConfig` (parameter dicts are checked key by key)."""
    if isinstance(render, RenderConfig):
        return render
    return from_params(RenderConfig, dict(render), "render")
