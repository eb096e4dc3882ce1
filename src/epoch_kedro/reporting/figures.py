"""Report figures: pure functions from arrays to :class:`~matplotlib.figure.Figure`.

Figures are built with ``Figure()`` rather than pyplot so that they hold no global state, render
headless (Agg) and do not pile up in pyplot's registry during a Kedro run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from epoch_kedro.skeleton import BONES, LEFT_JOINTS, RIGHT_JOINTS, ROOT

#: (title, elevation, azimuth) of the 3D views, in plot axes where z is up (see ``_plot_axes``).
VIEWS: tuple[tuple[str, float, float], ...] = (
    ("from the camera", 5.0, -90.0),
    ("from the side", 5.0, 0.0),
    ("from above", 80.0, -90.0),
)
GT_COLOUR = "black"
COLOURS = ("tab:blue", "tab:orange", "tab:red", "tab:green", "tab:purple")
#: Which training curves to draw: panel title -> (history name, metric) lines, and the y label.
TRAINING_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...] = (
    ("2D flow prior", (("flow", "loss"), ("flow", "val_nll")), "negative log-likelihood"),
    (
        "LiftNet (unsupervised loss)",
        (
            ("liftnet", "loss"),
            ("liftnet", "val_loss"),
            ("liftnet_weak", "loss"),
            ("liftnet_weak", "val_loss"),
            ("liftnet_reference", "loss"),
            ("liftnet_reference", "val_loss"),
        ),
        "loss",
    ),
    (
        "LiftNet validation PA-MPJPE (monitoring only)",
        (
            ("liftnet", "val_pa_mpjpe"),
            ("liftnet_weak", "val_pa_mpjpe"),
            ("liftnet_reference", "val_pa_mpjpe"),
        ),
        "mm",
    ),
    ("RegNet (2D-supervised loss)", (("regnet", "loss"),), "loss"),
    (
        "Validation 2D error (localiser: full frame; RegNet: crops)",
        (
            ("localizer", "val_px_error"),
            ("regnet", "val_px_error"),
            ("regnet", "val_px_error_projected"),
        ),
        "px (full frame)",
    ),
    (
        "RegNet validation 3D (monitoring only)",
        (("regnet", "val_pa_mpjpe"),),
        "PA-MPJPE (mm)",
    ),
    ("RegNet validation focal length", (("regnet", "val_focal_rel_err"),), "relative error"),
    ("RegNet validation elevation", (("regnet", "val_elevation_err_deg"),), "degrees"),
)


def not_available(title: str, reason: str) -> Figure:
    """A placeholder figure that says why a section is missing (the file must still exist)."""
    fig = Figure(figsize=(6, 2))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, f"{title}\nnot available: {reason}", ha="center", va="center", wrap=True)
    return fig


def _plot_axes(pose: np.ndarray) -> np.ndarray:
    """Root-centred camera-frame pose (x right, y down, z forward) -> plot axes (x, depth, up)."""
    centred = pose - pose[ROOT]
    return np.stack([centred[:, 0], centred[:, 2], -centred[:, 1]], axis=-1)


def _draw_skeleton(ax, pose: np.ndarray, colour: str, label: str, style: str = "-") -> None:
    pts = _plot_axes(pose)
    for i, (parent, child) in enumerate(BONES):
        width = 2.2 if child in LEFT_JOINTS else 1.4  # left limbs thicker: handedness is visible
        seg = pts[[parent, child]]
        ax.plot(*seg.T, style, color=colour, lw=width, label=label if i == 0 else None)


def skeletons_3d(
    gt: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    titles: Sequence[str],
    views: Sequence[tuple[str, float, float]] = VIEWS,
) -> Figure:
    """Predicted vs ground-truth 3D skeletons: one row per sample, one column per view.

    ``gt (K, 17, 3)`` and each prediction ``(K, 17, 3)`` are camera-frame metres; all are
    root-centred, so the figure shows the pose, not the translation. Left limbs are thicker.
    """
    rows, cols = len(gt), len(views)
    fig = Figure(figsize=(3.2 * cols, 3.2 * rows))
    for r in range(rows):
        for c, (view, elev, azim) in enumerate(views):
            ax = fig.add_subplot(rows, cols, r * cols + c + 1, projection="3d")
            _draw_skeleton(ax, gt[r], GT_COLOUR, "ground truth", "--")
            for (name, pred), colour in zip(predictions.items(), COLOURS, strict=False):
                _draw_skeleton(ax, pred[r], colour, name)
            ax.view_init(elev=elev, azim=azim)
            ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1))
            ax.set(xticks=[-1, 0, 1], yticks=[-1, 0, 1], zticks=[-1, 0, 1])
            ax.set(xlabel="x (m)", ylabel="depth (m)", zlabel="up (m)")
            ax.tick_params(labelsize=6, pad=0)
            ax.xaxis.labelpad = ax.yaxis.labelpad = ax.zaxis.labelpad = -8
            ax.set_box_aspect((1, 1, 1), zoom=1.1)
            ax.set_title(f"{titles[r]}\n{view}" if c == 0 else view, fontsize=8)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.subplots_adjust(left=0, right=1, bottom=0.06, top=0.94, wspace=0, hspace=0.12)
    return fig


def _draw_2d(ax, kp2d: np.ndarray, image: np.ndarray | None, scale: float, sided: bool = False):
    """The 2D skeleton (full-frame px, drawn at ``scale``) on the image, or alone; ``sided``:
    coloured by body side (:data:`SIDE_COLOURS`), else in one colour with thicker left limbs."""
    if image is not None:
        ax.imshow(image)
    pts = (kp2d + 0.5) * scale - 0.5  # pixel centres, as the image was resized
    colour = "yellow" if image is not None else COLOURS[0]  # visible on floor and sky alike
    for parent, child in BONES:
        if sided:
            ax.plot(*pts[[parent, child]].T, "-", color=SIDE_COLOURS[_side(child)], lw=2.5)
        else:
            width = 2.2 if child in LEFT_JOINTS else 1.4
            ax.plot(*pts[[parent, child]].T, "-", color=colour, lw=width)
    ax.plot(*pts.T, ".", color="white" if image is not None else "black", ms=4)
    if image is None:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


#: ``prediction_figure``'s colours by body side: the viewer tells left from right at a glance.
SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", "centre": "0.3"}
#: ``prediction_figure``'s size in inches; saved at 100 dpi it is 1,600 px wide.
PREDICTION_FIGSIZE = (16.0, 5.6)


def _side(child: int) -> str:
    """The body side of the bone ending at joint ``child``."""
    return "left" if child in LEFT_JOINTS else "right" if child in RIGHT_JOINTS else "centre"


def _half_range(pts: np.ndarray) -> float:
    """Half the side of the cube that holds a root-centred pose, with a margin (metres)."""
    return max(0.5, 1.1 * float(np.nanmax(np.abs(pts)))) if np.isfinite(pts).any() else 1.0


def prediction_figure(
    pose3d: np.ndarray,
    kp2d: np.ndarray,
    image: np.ndarray | None = None,
    image_scale: float = 1.0,
    title: str = "",
) -> Figure:
    """One predicted pose: its 2D (on the image, shown at ``image_scale`` of full-frame pixels,
    when there is one) and its 3D from the camera and from the side, on metric axes (m,
    root-centred; the root's depth in the title). Left limbs blue, right red, the trunk grey;
    the 3D axes are fitted to the pose."""
    fig = Figure(figsize=PREDICTION_FIGSIZE)
    _draw_2d(fig.add_subplot(1, 3, 1), kp2d, image, image_scale, sided=True)
    pts = _plot_axes(pose3d)
    half = _half_range(pts)
    for c, (view, elev, azim) in enumerate(VIEWS[:2]):
        ax = fig.add_subplot(1, 3, c + 2, projection="3d")
        for parent, child in BONES:
            side = _side(child)
            ax.plot(*pts[[parent, child]].T, "-", color=SIDE_COLOURS[side], lw=2.5)
        ax.view_init(elev=elev, azim=azim)
        ax.set(xlim=(-half, half), ylim=(-half, half), zlim=(-half, half), title=view)
        ax.set(xlabel="x (m)", ylabel="depth (m)", zlabel="up (m)")
        ax.tick_params(labelsize=8, pad=0)
        ax.set_box_aspect((1, 1, 1), zoom=1.15)
    handles = [Line2D([], [], color=c, lw=2.5, label=side) for side, c in SIDE_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=10)
    fig.suptitle(f"{title}   root depth {pose3d[ROOT, 2]:.2f} m", fontsize=12)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.08, top=0.9, wspace=0.05)
    return fig


def box_and_crop_overlays(
    frames: np.ndarray,
    boxes: np.ndarray,
    crops: np.ndarray,
    kp2d: np.ndarray,
    kp2d_gt: np.ndarray,
    titles: Sequence[str],
) -> Figure:
    """Per sample, two panels: the full frame (as the localiser sees it) with the person box,
    and the box's crop with RegNet's 2D (red) and the truth (green, dashed)."""
    n = len(frames)
    pairs = min(n, 2)
    rows = -(-n // pairs)
    fig = Figure(figsize=(2 * 2.9 * pairs, 3.1 * rows))
    for i in range(n):
        ax = fig.add_subplot(rows, 2 * pairs, 2 * i + 1)
        ax.imshow(frames[i], interpolation="nearest")
        x0, y0, x1, y1 = boxes[i]
        ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="yellow", lw=1.2)
        size = frames.shape[1]
        ax.set(xlim=(-0.5, size - 0.5), ylim=(size - 0.5, -0.5), xticks=[], yticks=[])
        ax.set_title("full frame, found box", fontsize=8)
        ax = fig.add_subplot(rows, 2 * pairs, 2 * i + 2)
        ax.imshow(crops[i], interpolation="nearest")
        for pts, colour, style in ((kp2d_gt[i], "lime", "--"), (kp2d[i], "red", "-")):
            for parent, child in BONES:
                ax.plot(*pts[[parent, child]].T, style, color=colour, lw=1.2)
            ax.scatter(*pts.T, s=6, color=colour, zorder=3)
        size = crops.shape[1]
        ax.set(xlim=(-0.5, size - 0.5), ylim=(size - 0.5, -0.5), xticks=[], yticks=[])
        ax.set_title(titles[i], fontsize=8)
    fig.suptitle(
        "Box found from the image (yellow); RegNet 2D on its crop (red) vs ground truth "
        "(green, dashed)",
        fontsize=10,
    )
    return fig


def _binned(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean x, mean y and count per quantile bin of x (equal-count bins; ties merge)."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    label = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max(len(edges) - 2, 0))
    keep = [b for b in range(max(len(edges) - 1, 1)) if np.any(label == b)]
    xs = np.array([x[label == b].mean() for b in keep])
    ys = np.array([y[label == b].mean() for b in keep])
    return xs, ys, np.array([np.sum(label == b) for b in keep])


def error_vs_camera(
    x: np.ndarray,
    errors: Mapping[str, Mapping[str, np.ndarray]],
    xlabel: str,
    bins: int = 8,
) -> Figure:
    """Mean error per equal-count bin of a camera quantity, one panel per metric.

    ``errors`` maps metric name -> setting name -> per-sample error ``(N,)`` in mm; grey bars
    show how many test samples each bin holds.
    """
    fig = Figure(figsize=(5.2 * len(errors), 3.6))
    for i, (metric, settings) in enumerate(errors.items()):
        ax = fig.add_subplot(1, len(errors), i + 1)
        counts = ax.twinx()
        for (name, err), colour in zip(settings.items(), COLOURS, strict=False):
            xs, ys, n = _binned(x, err, bins)
            ax.plot(xs, ys, "o-", color=colour, label=name)
        counts.bar(xs, n, width=np.ptp(x) / (3 * max(len(xs), 1)), color="0.85", zorder=0)
        counts.set_ylabel("samples per bin", color="0.5")
        ax.set_zorder(counts.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.set(xlabel=xlabel, ylabel=f"{metric} (mm)", title=f"{metric} vs {xlabel}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def camera_error_histograms(
    focal_rel_err: np.ndarray,
    elevation_err_deg: np.ndarray,
    focal_baseline_median: float | None = None,
) -> Figure:
    """Signed focal-length relative error and elevation error of RegNet's camera."""
    fig = Figure(figsize=(10, 3.6))
    panels = (
        (focal_rel_err, "focal length: (f̂ − f) / f", focal_baseline_median),
        (elevation_err_deg, "elevation: θ̂ − θ (degrees)", None),
    )
    for i, (values, title, baseline) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        err = values[np.isfinite(values)]  # e.g. elevation is unknown without a gravity label
        if err.size == 0:
            ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes)
            ax.set(title=title)
            continue
        ax.hist(err, bins=40, color="tab:blue", alpha=0.8)
        ax.axvline(0, color="black", lw=1)
        med = float(np.median(np.abs(err)))
        ax.axvline(med, color="tab:red", ls="--", label=f"median |error| {med:.3g}")
        ax.axvline(-med, color="tab:red", ls="--")
        if baseline is not None:
            ax.axvline(
                baseline, color="tab:green", ls=":", label=f"mean-focal baseline {baseline:.3g}"
            )
        ax.set(title=title, ylabel="test frames")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def camera_distribution(
    distance_m: np.ndarray, focal_ratio: np.ndarray, elevation_deg: np.ndarray
) -> Figure:
    """The test cameras: focal length vs distance to the person, coloured by elevation."""
    fig = Figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    points = ax.scatter(distance_m, focal_ratio, c=elevation_deg, s=6, cmap="viridis", alpha=0.7)
    fig.colorbar(points, ax=ax, label="camera elevation (deg, + looks down)")
    ax.set(
        xlabel="camera-to-root distance (m)",
        ylabel="focal length / image width",
        title=f"test cameras ({len(distance_m)} samples)",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def training_curves(curves: pd.DataFrame) -> Figure:
    """Per-epoch training curves of the flow prior, LiftNet (both cameras) and RegNet.

    ``curves`` is the long table of :func:`epoch_kedro.reporting.tables.training_curves_table`;
    panels whose model has no history say so instead of staying blank.
    """
    cols = 4
    rows = -(-len(TRAINING_PANELS) // cols)
    fig = Figure(figsize=(4.4 * cols, 3.4 * rows))
    for i, (title, lines, ylabel) in enumerate(TRAINING_PANELS):
        ax = fig.add_subplot(rows, cols, i + 1)
        drawn = 0
        for model, metric in lines:
            sel = curves[(curves["model"] == model) & (curves["metric"] == metric)]
            if len(sel):
                ax.plot(sel["epoch"], sel["value"], "o-", ms=3, label=f"{model} {metric}")
                drawn += 1
        if drawn:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
