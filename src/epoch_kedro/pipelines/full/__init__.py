"""``full``: every stage, chained. Importable on its own so ``--pipeline=full`` resolves."""

from epoch_kedro.pipelines.full.pipeline import STAGES, create_pipeline

__all__ = ["STAGES", "create_pipeline"]
