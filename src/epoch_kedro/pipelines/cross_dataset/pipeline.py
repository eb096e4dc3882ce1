"""The ``cross_dataset`` pipeline: the ingestion, normalization and evaluation nodes again,
under the namespace ``cross_dataset``, for a dataset the models were not trained on.

It has no nodes of its own. The namespace gives the other dataset's data its own names
(``cross_dataset.raw_dataset``, ``cross_dataset.model_input_test``, held in memory) and its own
parameters (``cross_dataset.dataset``), and writes its metrics and report beside, not over, the
training run's (``cross_dataset.metrics`` and the rest: see ``conf/base/catalog.yml``). The
trained models, the training run's parameters and its histories are read under their own names.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, pipeline

from epoch_kedro.pipelines import evaluation, ingestion, normalization

NAMESPACE = "cross_dataset"
#: The dataset tested: the keys of ``dataset`` (``evaluate_only`` loads its test set alone).
TESTED = f"params:{NAMESPACE}.dataset"
#: Parameters shared with the training run: the tested data is generated, normalised and
#: evaluated with this profile's settings.
SHARED_PARAMETERS = ("synthetic", "splits", "normalization", "evaluation", "report", "render")


def create_pipeline(adapted: bool = False, **kwargs) -> Pipeline:
    """The other dataset's test split (ingest, normalise) -> the evaluation of this run's models
    on it, with its own metrics, tables and report. ``adapted``: the evaluation also scores the
    LiftNets adapted to it (``cross_dataset.liftnet_adapted_model`` and the others, made by
    the ``adapt`` pipeline)."""
    loaded = ingestion.create_pipeline().only_nodes(
        "ingest_dataset"
    ) + normalization.create_pipeline().only_nodes("build_model_inputs")
    data = pipeline(
        loaded,
        namespace=NAMESPACE,
        parameters={**_shared(loaded), "params:dataset": TESTED},
    )
    evaluated = evaluation.create_pipeline(tested=TESTED, adapted=adapted)
    trained = {
        name
        for name in evaluated.inputs()
        if not name.startswith("params:")
        and name not in ("model_input_test", *evaluation.ADAPTED_MODELS)
    }
    scored = pipeline(
        evaluated,
        namespace=NAMESPACE,
        inputs={name: name for name in trained},
        parameters={**_shared(evaluated), "params:dataset": "params:dataset", TESTED: TESTED},
    )
    return data + scored


def _shared(pipe: Pipeline) -> dict[str, str]:
    """The shared parameters ``pipe`` reads, each kept under its own name."""
    names = {f"params:{name}" for name in SHARED_PARAMETERS} & pipe.inputs()
    return {name: name for name in names}
