"""Cross-dataset evaluation: this profile's trained models on the test set of another dataset."""

from epoch_kedro.pipelines.cross_dataset.pipeline import create_pipeline

__all__ = ["create_pipeline"]
