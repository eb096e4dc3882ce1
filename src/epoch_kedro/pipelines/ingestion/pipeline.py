"""The ``ingestion`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.ingestion.nodes import ingest_dataset


def create_pipeline(**kwargs) -> Pipeline:
    """Dataset source -> validated ingested dataset."""
    return pipeline(
        [
            node(
                ingest_dataset,
                inputs=["params:dataset", "params:synthetic"],
                outputs="raw_dataset",
                name="ingest_dataset",
                tags=["data"],
            ),
        ]
    )
