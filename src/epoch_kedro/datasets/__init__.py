"""Custom Kedro datasets for what kedro-datasets does not cover."""

from epoch_kedro.datasets.atomic import AtomicDataset
from epoch_kedro.datasets.npy_dataset import NpyDataset
from epoch_kedro.datasets.npz_dataset import NpzDataset
from epoch_kedro.datasets.torch_checkpoint import TorchCheckpointDataset

__all__ = ["AtomicDataset", "NpyDataset", "NpzDataset", "TorchCheckpointDataset"]
