"""LiftNet: the 2D pose flow prior, then unsupervised lifting (perspective and weak ablation)."""

from epoch_kedro.pipelines.liftnet.pipeline import create_pipeline

__all__ = ["create_pipeline"]
