"""Custom Kedro datasets for what kedro-datasets does not cover."""

from epoch_kedro.datasets.npz_dataset import NpzDataset

__all__ = ["NpzDataset"]
