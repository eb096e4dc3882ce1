"""Run the project as ``python -m epoch_kedro`` (same options as ``kedro run``), or
``python -m epoch_kedro predict ...`` (``epoch-kedro predict``) on your own keypoint files."""

import sys
from pathlib import Path
from typing import Any


def main(*args: Any, **kwargs: Any) -> Any:
    """``predict ...``: 3D poses from your keypoint files (:mod:`epoch_kedro.predict`);
    anything else: configure the project and invoke its ``run`` command."""
    if not args and sys.argv[1:2] == ["predict"]:
        from epoch_kedro.predict import main as predict

        sys.exit(predict(sys.argv[2:]))
    # Kedro is imported here: importing it sets up its logging, which predict does not want.
    from kedro.framework.cli.utils import find_run_command
    from kedro.framework.project import configure_project

    package_name = Path(__file__).parent.name
    configure_project(package_name)
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    return find_run_command(package_name)(*args, **kwargs)


if __name__ == "__main__":
    main()
