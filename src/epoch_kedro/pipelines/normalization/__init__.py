"""Normalization: camera-frame poses, undistorted 2D, rays, splits and dataset statistics."""

from epoch_kedro.pipelines.normalization.pipeline import create_pipeline

__all__ = ["create_pipeline"]
