"""Adaptation: the trained LiftNets fine-tuned on another dataset's 2D, without its 3D."""

from epoch_kedro.pipelines.adapt.pipeline import create_pipeline

__all__ = ["create_pipeline"]
