"""``--plot``: a picture per pose (2D on the image, 3D from two viewpoints) and, for sequences,
an animated GIF per input file or image folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from epoch_kedro.data.image_files import open_rgb
from epoch_kedro.predict.outputs import Lifted
from epoch_kedro.reporting.figures import prediction_figure
from epoch_kedro.utils.progress import progress

#: Images are shown at most this many pixels wide in the pictures.
SHOWN_WIDTH = 800
GIF_FRAME_MS = 100
#: Pictures are saved at this resolution: 1,600 px wide (``PREDICTION_FIGSIZE``).
PLOT_DPI = 100
#: GIF frames are this many pixels wide (half the pictures: playback, not inspection).
GIF_WIDTH = 800
#: Longer sequences are subsampled to at most this many GIF frames (memory stays bounded).
GIF_MAX_FRAMES = 400


def _name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "pose"


def _stems(paths: list[str], files: bool = True) -> dict[str, str]:
    """A name per distinct path: its path below the deepest folder the paths' parents share
    (for ``files``, without the file's extension), so that equal names in two folders
    (camA/0001.png, camB/0001.png) stay apart."""
    full = {p: os.path.abspath(p) for p in set(paths)}
    root = os.path.commonpath([os.path.dirname(f) for f in full.values()]) if full else ""
    names = {}
    for path, absolute in full.items():
        below = Path(os.path.relpath(absolute, root))
        parts = below.with_suffix("").parts if files and below.suffix else below.parts
        names[path] = _name("_".join(parts))
    return names


def _picture(lifted: Lifted, i: int, images: bool) -> tuple[np.ndarray | None, float]:
    if not images:
        return None, 1.0
    image = open_rgb(lifted.source[i])
    scale = min(1.0, SHOWN_WIDTH / image.width)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.BILINEAR)), scale


def write_plots(lifted: Lifted, folder: Path, images: bool) -> list[Path]:
    """``plots/<source>_<frame>[_<person>].png`` per lifted pose, and ``plots/<group>.gif``
    for each input file or image folder with two or more of them."""
    plots = folder / "plots"
    plots.mkdir()
    groups: dict[str, list[Path]] = {}
    lifted_rows = np.flatnonzero(lifted.usable)
    stems = _stems([lifted.source[i] for i in lifted_rows])
    for i in progress(lifted_rows, "Plotting poses", unit="pose"):
        source = Path(lifted.source[i])
        stem = stems[lifted.source[i]]
        person = f"_{lifted.person[i]}" if lifted.person[i] else ""
        path = plots / f"{stem}_{_name(str(lifted.frame[i]))}{person}.png"
        if images:
            path = plots / f"{stem}{person}.png"
        image, scale = _picture(lifted, i, images)
        title = f"{source.name} frame {lifted.frame[i]}" + (
            f" person {person[1:]}" if person else ""
        )
        figure = prediction_figure(lifted.pose3d[i], lifted.keypoints2d[i], image, scale, title)
        figure.savefig(path, dpi=PLOT_DPI)
        group = str(source.parent) if images else str(source.with_suffix(""))
        groups.setdefault(group, []).append(path)
    written = [p for paths in groups.values() for p in paths]
    names = _stems(list(groups), files=False)
    for group, paths in groups.items():
        if len(paths) > 1:
            written.append(_gif(paths, plots / f"{names[group]}.gif"))
    return written


def _gif_frame(picture: Path) -> Image.Image:
    """A picture at :data:`GIF_WIDTH`, paletted: 400 frames stay under 100 MB."""
    with Image.open(picture) as image:
        height = max(1, round(image.height * GIF_WIDTH / image.width))
        small = image.convert("RGB").resize((GIF_WIDTH, height), Image.BILINEAR)
    return small.convert("P", palette=Image.ADAPTIVE)


def _gif(pictures: list[Path], target: Path) -> Path:
    """The pictures as an animated GIF (Pillow; no video writer needed), real-time at 10 fps
    unless subsampled."""
    step = -(-len(pictures) // GIF_MAX_FRAMES)
    frames = [_gif_frame(p) for p in pictures[::step]]
    frames[0].save(target, save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0)
    return target
