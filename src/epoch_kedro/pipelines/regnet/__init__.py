"""RegNet: image -> 3D pose + perspective camera, trained with 2D keypoints only."""

from epoch_kedro.pipelines.regnet.pipeline import create_pipeline

__all__ = ["create_pipeline"]
