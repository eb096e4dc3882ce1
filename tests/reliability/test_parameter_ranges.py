"""Every numeric parameter of every group has a range: a new field without one would accept any
number (``weak_depth=0`` once crashed a run after its first model was written)."""

from __future__ import annotations

import dataclasses

from epoch_kedro import parameters as P
from tests.reliability.cases import ROOT, case

CONF = ROOT / "conf"


def _numeric_fields(config, prefix: str):
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            yield from _numeric_fields(value, f"{prefix}.{field.name}")
        elif any(isinstance(v, int | float) and not isinstance(v, bool)
                 for v in (value if isinstance(value, tuple) else (value,))):  # fmt: skip
            yield prefix, field.name


def test_every_numeric_parameter_of_every_group_has_a_range():
    """Each is ruled, free on purpose (``FREE``), or a loss weight (>= 0)."""
    from kedro.config import OmegaConfigLoader

    case("param-every-number-ruled")
    ruled = P.AT_LEAST_ONE | P.NON_NEGATIVE | P.POSITIVE | P.SHARE | P.DECAY | P.FREE
    params = OmegaConfigLoader(str(CONF), base_env="base", default_run_env="local")["parameters"]
    unruled = set()
    for group, build in P._builders().items():
        for prefix, config in build(params.get(group) or {}, params):
            unruled |= {
                f"{p}.{name}" for p, name in _numeric_fields(config, prefix)
                if name not in ruled and not p.endswith(".losses") and not p.startswith("adapt")
            }  # fmt: skip
    assert not unruled  # adapt's fields are held by AdaptConfig.validate
