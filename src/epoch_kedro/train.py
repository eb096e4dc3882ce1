"""``python -m epoch_kedro.train STAGE [kedro run options]``: one Kedro stage in each process
that ``torchrun`` starts, trained data-parallel across all of them (several GPUs or machines)::

    torchrun --nproc-per-node 4 -m epoch_kedro.train regnet
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m epoch_kedro.train liftnet --env paper

Every process reads the same Kedro configuration and data (on each machine: ``dvc pull``);
rank 0 alone writes the stage's outputs, checkpoints and logs. Without torchrun it is a plain
single-process ``kedro run --pipelines STAGE``.
"""

from __future__ import annotations

import sys

#: The stages that train models (and so gain from several processes).
TRAINING_STAGES = ("normalization", "regnet", "liftnet")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") or argv[0] not in TRAINING_STAGES:
        sys.exit(f"usage: python -m epoch_kedro.train {{{','.join(TRAINING_STAGES)}}} "
                 "[kedro run options]")  # fmt: skip
    from epoch_kedro.__main__ import main as run
    from epoch_kedro.training.distributed import init_from_env

    init_from_env()
    run(["run", "--pipelines", argv[0], *argv[1:]])


if __name__ == "__main__":
    main()
