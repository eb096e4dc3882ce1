"""Kedro project settings.

Profiles are Kedro environments: ``conf/base`` is the default run, ``conf/smoke`` a tiny profile
for tests and CI (``kedro run --env smoke``). Parameters merge *softly* so that a profile only
states the keys it changes instead of restating whole parameter groups.
"""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}

from epoch_kedro.hooks import RunHooks  # noqa: E402 - settings are read top to bottom

# Every parameter group is range-checked before the first node runs (epoch_kedro.parameters);
# the report gets the run's provenance; the run ends with the report's headline and path.
HOOKS = (RunHooks(),)
