"""The ``regnet`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.liftnet.nodes import train_elevation_teacher
from epoch_kedro.pipelines.regnet.nodes import train_localizer_model, train_regnet_model


def create_pipeline(**kwargs) -> Pipeline:
    """Full frames -> a localiser (person boxes); 2D labels -> the elevation teacher (a
    LiftNet); person crops + 2D labels + the teacher's elevations -> RegNet."""
    return pipeline(
        [
            node(
                train_elevation_teacher,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "crop_index",
                    "dataset_statistics",
                    "flow_model",
                    "params:liftnet",
                    "params:liftnet_teacher",
                    "params:regnet",
                ],
                outputs=["elevation_teacher_model", "elevation_teacher_history"],
                name="train_elevation_teacher",
                tags=["training"],
            ),
            node(
                train_localizer_model,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "images",
                    "image_index",
                    "params:localizer",
                ],
                outputs=["localizer_model", "localizer_history"],
                name="train_localizer",
                tags=["training"],
            ),
            node(
                train_regnet_model,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "images",
                    "image_index",
                    "crops",
                    "crop_index",
                    "dataset_statistics",
                    "flow_model",
                    "elevation_teacher_model",
                    "params:regnet",
                ],
                outputs=["regnet_model", "regnet_history"],
                name="train_regnet",
                tags=["training"],
            ),
        ]
    )
