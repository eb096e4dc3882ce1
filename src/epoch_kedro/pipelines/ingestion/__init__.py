"""Ingestion: produce the ingested dataset (the embedded synthetic default or a real source)."""

from epoch_kedro.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
