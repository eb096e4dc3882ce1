"""epoch_kedro: EPOCH monocular 3D human pose and perspective camera estimation, with Kedro."""

__version__ = "0.1.0"
