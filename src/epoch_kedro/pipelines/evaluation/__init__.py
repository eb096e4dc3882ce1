"""Evaluation: metrics of every setting on the test subjects, written to metrics.json."""

from epoch_kedro.pipelines.evaluation.pipeline import ADAPTED_MODELS, create_pipeline

__all__ = ["ADAPTED_MODELS", "create_pipeline"]
