"""Procedural synthetic humans, motions and cameras: the embedded default dataset."""

from epoch_kedro.data.synthetic.generate import SyntheticConfig, generate_synthetic

__all__ = ["SyntheticConfig", "generate_synthetic"]
