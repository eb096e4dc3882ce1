"""Evaluation: metrics of every setting on the test subjects, written to metrics.json."""

from epoch_kedro.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
