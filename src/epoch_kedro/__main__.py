"""``epoch-kedro COMMAND`` (also ``python -m epoch_kedro COMMAND``): the project's front door.

``run`` is ``kedro run`` of this project; ``predict`` lifts your own images or keypoint files;
``adapt`` is ``predict --adapt``. Without a command nothing runs: the usage is printed, before
Kedro (and its logging) is even imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

USAGE = """\
usage: epoch-kedro COMMAND [options]

EPOCH: monocular 3D human pose with a full perspective camera, as a Kedro project.

commands:
  run       run the pipelines, as `kedro run` (e.g. `epoch-kedro run --pipelines full`)
  predict   metric 3D poses from your images or 2D keypoint files (COCO, OpenPose,
            MediaPipe, CSV/npz)
  adapt     `predict --adapt`: first adapt LiftNet to these 2D poses (no 3D labels), then lift

`epoch-kedro COMMAND --help` shows a command's options. Also: `kedro viz`, `dvc repro`.
"""

COMMANDS = ("run", "predict", "adapt")


def main(*args: Any, **kwargs: Any) -> Any:
    """Dispatch ``sys.argv[1:]`` (or ``args``, Kedro's packaged-run convention) to a command;
    exit 2 with the usage when there is none or it is unknown."""
    argv = list(args[0]) if args and isinstance(args[0], list | tuple) else sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        sys.exit(0 if argv else 2)
    command, rest = argv[0], argv[1:]
    if command in ("predict", "adapt"):
        from epoch_kedro.predict import main as predict

        sys.exit(predict(rest if command == "predict" else ["--adapt", *rest]))
    if command != "run":
        print(f"epoch-kedro: unknown command {command!r}; choose one of {', '.join(COMMANDS)} "
              "(epoch-kedro --help)", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    return _run(rest, **kwargs)


def _run(argv: list[str], **kwargs: Any) -> Any:
    # Kedro is imported here: importing it sets up its logging, which the other commands and
    # the usage do not want.
    from kedro.framework.cli.utils import find_run_command
    from kedro.framework.project import configure_project

    package_name = Path(__file__).parent.name
    configure_project(package_name)
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    kwargs.setdefault("prog_name", "epoch-kedro run")
    return find_run_command(package_name)(argv, **kwargs)


if __name__ == "__main__":
    main()
