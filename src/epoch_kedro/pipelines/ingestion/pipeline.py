"""The ``ingestion`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.ingestion.nodes import cut_training_crops, ingest_dataset, render_images


def create_pipeline(**kwargs) -> Pipeline:
    """Dataset source -> validated ingested dataset -> camera images and person crops."""
    return pipeline(
        [
            node(
                ingest_dataset,
                inputs=["params:dataset", "params:synthetic", "params:splits"],
                outputs="raw_dataset",
                name="ingest_dataset",
                tags=["data"],
            ),
            node(
                render_images,
                inputs=["raw_dataset", "params:dataset", "params:render"],
                outputs=["images", "image_index"],
                name="render_images",
                tags=["data"],
            ),
            node(
                cut_training_crops,
                inputs=["raw_dataset", "image_index", "params:dataset", "params:render"],
                outputs=["crops", "crop_index"],
                name="cut_training_crops",
                tags=["data"],
            ),
        ]
    )
