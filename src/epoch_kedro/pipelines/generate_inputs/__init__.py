"""Generate inputs: RegNet's 2D pose, K and gravity for every split, as LiftNet inputs."""

from epoch_kedro.pipelines.generate_inputs.pipeline import create_pipeline

__all__ = ["create_pipeline"]
