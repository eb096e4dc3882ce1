"""Render synthetic samples as camera images: capsule bodies on a textured floor.

An image is either the *full camera frame* downscaled to ``size`` x ``size``
(:func:`render_dataset`, what the localiser reads) or a square *person crop* drawn with the
crop's exact intrinsics (:func:`render_crops`, what RegNet reads). The body: capsules for
limbs and trunk, a head with hair at the back and shoes pointing forward (front and back must
look different, or left and right are ambiguous), with per-subject build, skin and hair and an
outfit per video, shaded by a per-image light; a checkered floor seen in perspective (a cue for
the camera's elevation and focal length); a sky/wall gradient; sensor noise and a mild blur.

Everything is vectorised over a batch of images with torch; a z-buffer resolves occlusions.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from epoch_kedro.data.schema import join_keys
from epoch_kedro.geometry import crop_intrinsics, resize_intrinsics
from epoch_kedro.skeleton import JOINT_INDEX
from epoch_kedro.utils.progress import progress

J = JOINT_INDEX

#: Indices of the extra points appended after the 17 joints.
_HAIR, _LTOE, _RTOE = 17, 18, 19

#: Body parts as (joint a, joint b, radius at the reference height in metres, colour slot).
#: Colour slots: 0 skin, 1 shirt, 2 trousers, 3 hair, 4 shoes.
PARTS: tuple[tuple[int, int, float, int], ...] = (
    (J["Hip"], J["Thorax"], 0.13, 1),
    (J["LHip"], J["RHip"], 0.09, 2),
    (J["LShoulder"], J["RShoulder"], 0.06, 1),
    (J["RHip"], J["RKnee"], 0.075, 2),
    (J["RKnee"], J["RFoot"], 0.055, 2),
    (J["LHip"], J["LKnee"], 0.075, 2),
    (J["LKnee"], J["LFoot"], 0.055, 2),
    (J["LShoulder"], J["LElbow"], 0.048, 1),
    (J["LElbow"], J["LWrist"], 0.038, 0),
    (J["RShoulder"], J["RElbow"], 0.048, 1),
    (J["RElbow"], J["RWrist"], 0.038, 0),
    (J["Thorax"], J["Neck"], 0.05, 0),
    (J["Neck"], J["Head"], 0.1, 0),  # the head: a fat short capsule, face forward (Neck)
    # Points beyond the 17 joints (see _front_cues): they tell front from back, as a face and
    # feet do. A body of symmetric capsules looks the same from the front and from behind,
    # which leaves left and right (and so every limb's 2D label) ambiguous.
    (_HAIR, _HAIR, 0.098, 3),
    (J["LFoot"], _LTOE, 0.045, 4),
    (J["RFoot"], _RTOE, 0.045, 4),
)


@dataclass(frozen=True)
class RendererConfig:
    """Image size and appearance randomness."""

    size: int = 128
    noise_std: float = 4.0  # sensor noise, in 0..255 grey levels
    blur: bool = True
    batch_size: int = 256
    seed: int = 0


def scale_intrinsics(K: np.ndarray, image_size: np.ndarray, size: int) -> np.ndarray:
    """Intrinsics of the full frame ``image_size (N, 2)`` resized to ``size`` x ``size``."""
    return resize_intrinsics(np.asarray(K, np.float64), size / np.asarray(image_size, np.float64))


def _stream(seed: int, key: object) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(str(key).encode())])


def _person_look(
    subjects: np.ndarray, outfits: np.ndarray, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample colours ``(B, 5 slots, 3)`` and a radius factor ``(B,)``.

    Skin, hair and build belong to the subject; clothes and shoes to the outfit (one per
    video). With a handful of training subjects, outfits fixed per subject would let a network
    learn "this shirt is a torso" five times over and fail on the test subjects' clothes.
    """
    # Looks depend on (subject, outfit) only: draw each pair once, then index.
    pairs = np.stack([np.asarray(subjects).astype(str), np.asarray(outfits).astype(str)], 1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    colours, radius = [], []
    for subject, outfit in unique:
        body, wear = _stream(seed, subject), _stream(seed, f"outfit|{outfit}")
        skin = body.uniform([0.45, 0.3, 0.2], [0.95, 0.75, 0.6])
        hair = body.uniform(0.02, 0.5) * np.array([1.0, 0.8, 0.6])
        radius.append(body.uniform(0.85, 1.2))
        clothes = [wear.uniform(0.05, 0.95, 3), wear.uniform(0.05, 0.7, 3)]
        shoes = wear.uniform(0.05, 0.9, 3) * wear.uniform(0.2, 1.0)
        colours.append(np.stack([skin, *clothes, hair, shoes]))
    inverse = np.asarray(inverse).reshape(-1)
    colours_t = torch.as_tensor(np.array(colours).reshape(-1, 5, 3)[inverse], dtype=torch.float32)
    return colours_t, torch.as_tensor(np.array(radius)[inverse], dtype=torch.float32)


def outfit_keys(data: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """One outfit per video (subject, action, sequence): what a person wears in it."""
    fields = {k: data[k][rows] for k in ("subject", "action", "sequence") if k in data}
    return join_keys(fields, ("subject", "action", "sequence"))


def _scene_look(sample_ids: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
    """Per-image floor colours, tile size, sky colours and light direction."""
    # One stream per sample id keeps an image's scene identical whatever batch renders it.
    draws = [np.random.default_rng([seed, int(i)]).uniform(0, 1, 12) for i in sample_ids]
    t = torch.as_tensor(np.array(draws).reshape(-1, 12), dtype=torch.float32)
    floor_a = 0.25 + 0.6 * t[:, 0:3]
    floor_b = floor_a * (0.45 + 0.3 * t[:, 3:4])
    sky_top = 0.3 + 0.7 * t[:, 4:7]
    sky_low = sky_top * (0.5 + 0.5 * t[:, 7:8])
    tile = 0.3 + 0.7 * t[:, 8]
    azimuth = 2 * math.pi * t[:, 9]
    light = torch.stack([torch.cos(azimuth), torch.sin(azimuth), 0.6 + t[:, 10]], -1)
    return {
        "floor_a": floor_a,
        "floor_b": floor_b,
        "sky_top": sky_top,
        "sky_low": sky_low,
        "tile": tile,
        "light": light / light.norm(dim=-1, keepdim=True),
        "exposure": 0.8 + 0.4 * t[:, 11],
    }


def _background(K, R, t, look, size):
    """Floor (checkered, z = 0) and sky: colours ``(B, H, W, 3)`` and depth ``(B, H, W)``.

    Rays are separable in u and v (``K^-1`` is affine), so every world-ray component is built
    from a row and a column vector instead of a per-pixel matrix product.
    """
    grid = torch.arange(size, dtype=torch.float32)
    rx = ((grid[None] - K[:, 0, 2, None]) / K[:, 0, 0, None])[:, None, :]  # (B, 1, W)
    ry = ((grid[None] - K[:, 1, 2, None]) / K[:, 1, 1, None])[:, :, None]  # (B, H, 1)
    # World direction of the camera ray (rx, ry, 1): R^T r, one component at a time.
    d = [
        R[:, 0, k, None, None] * rx + R[:, 1, k, None, None] * ry + R[:, 2, k, None, None]
        for k in range(3)
    ]
    centre = -(R.transpose(-1, -2) @ t[..., None])[..., 0]  # (B, 3)
    down = d[2] < -1e-6
    lam = -centre[:, 2, None, None] / torch.where(down, d[2], torch.full_like(d[2], -1e-6))
    floor = down & (lam < 60.0)
    tile = look["tile"][:, None, None]
    cell = (
        torch.floor((centre[:, 0, None, None] + lam * d[0]) / tile)
        + torch.floor((centre[:, 1, None, None] + lam * d[1]) / tile)
    ) % 2
    fog = torch.exp(-lam / 25.0)[..., None]
    tiles = torch.where(
        cell[..., None] > 0, look["floor_a"][:, None, None], look["floor_b"][:, None, None]
    )
    floor_rgb = tiles * fog + (1 - fog) * look["sky_low"][:, None, None]
    norm = torch.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    height = (d[2] / norm).clamp(0, 1)[..., None]
    sky_rgb = (
        look["sky_low"][:, None, None] + height * (look["sky_top"] - look["sky_low"])[:, None, None]
    )
    rgb = torch.where(floor[..., None], floor_rgb, sky_rgb)
    depth = torch.where(floor, lam, torch.full_like(lam, 1e9))
    return rgb, depth


def _smooth_background(K, R, t, look, size):
    """The background at half resolution, upsampled: it is smooth and blurred anyway (nearest:
    bilinear cost as much as computing the half-resolution background)."""
    if size < 96:
        return _background(K, R, t, look, size)
    half = size // 2
    K_half = resize_intrinsics(K, torch.full((len(K), 2), half / size))
    rgb, depth = _background(K_half, R, t, look, half)
    rgb = F.interpolate(rgb.permute(0, 3, 1, 2), size=(size, size), mode="nearest")
    depth = F.interpolate(depth[:, None], size=(size, size), mode="nearest")[:, 0]
    return rgb.permute(0, 2, 3, 1).contiguous(), depth


def _person_window(px, py, focal, z, size):
    """A window (same size for the batch) around each person: origins ``(B,)`` and its size.

    Capsules are only evaluated inside it, which on a CPU is most of the rendering time saved.
    """
    margin = (0.14 * focal[:, None] / z).amax(1) + 2  # the widest part's radius, in pixels
    lo_x = (px.amin(1) - margin).floor().clamp(0, size)
    hi_x = (px.amax(1) + margin).ceil().clamp(0, size)
    lo_y = (py.amin(1) - margin).floor().clamp(0, size)
    hi_y = (py.amax(1) + margin).ceil().clamp(0, size)
    width = int(max((hi_x - lo_x).max().item(), 1))
    height = int(max((hi_y - lo_y).max().item(), 1))
    # Shift windows that would stick out of the frame back inside: they still cover the person.
    x0 = lo_x.clamp(max=size - width).long()
    y0 = lo_y.clamp(max=size - height).long()
    return x0, y0, width, height


def _part_window(ends_x, ends_y, reach, x0, y0, width, height):
    """Window-relative rows ``(B, h')`` and columns ``(B, w')`` that can hold one capsule.

    ``ends_x``/``ends_y (B, 2)`` are its end points in image pixels and ``reach (B,)`` its
    largest on-screen radius: a pixel farther than that from the segment is never covered.
    """

    def span(ends, origin, limit):
        lo = (ends.amin(1) - reach).floor() - origin
        hi = (ends.amax(1) + reach).ceil() - origin
        lo, hi = lo.clamp(0, limit - 1), hi.clamp(0, limit - 1)
        extent = int(max((hi - lo).max().item(), 0)) + 1
        start = lo.clamp(max=limit - extent).long()
        return start[:, None] + torch.arange(extent)[None]

    return span(ends_y, y0, height), span(ends_x, x0, width)


def _window_views(rgb, depth, x0, y0, width, height):
    """The person window as ``(B, h, w, 3)`` / ``(B, h, w)`` tensors, and a function that
    writes them back. A window that covers most of the image (always, for a person crop) is
    the image itself: no copies either way."""
    size = rgb.shape[1]
    if width * height >= size * size // 2:
        zero = torch.zeros_like(x0)
        return rgb, depth, zero, zero, size, size, lambda: None
    cols = x0[:, None] + torch.arange(width)[None]  # (B, w) image columns of the window
    rows = y0[:, None] + torch.arange(height)[None]  # (B, h)
    batch = torch.arange(len(rgb))[:, None, None]
    index = (batch, rows[:, :, None], cols[:, None, :])
    win_rgb, win_depth = rgb[index], depth[index]  # copies

    def write_back():
        rgb[index] = win_rgb
        depth[index] = win_depth

    return win_rgb, win_depth, x0, y0, width, height, write_back


def _draw_capsules(rgb, depth, joints_cam, K, colours, radius, light_cam, size):
    """Z-buffered shaded capsules for every body part, in place on ``rgb``/``depth``.

    Coordinates stay in separate u/v planes, each part is only evaluated inside its own box
    (within a window around the person), shading only for covered pixels, and pixels are
    addressed by flat indices: all of it matters for speed on a CPU.
    """
    z = joints_cam[..., 2].clamp_min(1e-3)
    px = joints_cam[..., 0] / z * K[:, None, 0, 0] + K[:, None, 0, 2]
    py = joints_cam[..., 1] / z * K[:, None, 1, 1] + K[:, None, 1, 2]
    focal = K[:, 0, 0] * radius
    win_rgb, win_depth, x0, y0, width, height, write_back = _window_views(
        rgb, depth, *_person_window(px, py, focal, z, size)
    )
    flat_rgb, flat_depth = win_rgb.view(-1, 3), win_depth.view(-1)
    first = torch.arange(len(K)) * (height * width)  # each image's offset in the flat views
    for a, b, r3d, slot in PARTS:
        ends = [a, b]
        reach = r3d * focal / z[:, ends].amin(1).clamp_min(0.05)
        sub_r, sub_c = _part_window(px[:, ends], py[:, ends], reach, x0, y0, width, height)
        gu = (x0[:, None] + sub_c).float()[:, None, :]  # (B, 1, w') image columns
        gv = (y0[:, None] + sub_r).float()[:, :, None]  # (B, h', 1)
        ax, ay = px[:, a, None, None], py[:, a, None, None]
        abx, aby = px[:, b, None, None] - ax, py[:, b, None, None] - ay
        inv_len2 = 1.0 / (abx * abx + aby * aby).clamp_min(1e-6)
        dx, dy = gu - ax, gv - ay  # (B, h', w') by broadcasting
        s = ((dx * abx + dy * aby) * inv_len2).clamp_(0, 1)
        ox, oy = torch.addcmul(dx, s, abx, value=-1), torch.addcmul(dy, s, aby, value=-1)
        za = z[:, a, None, None]
        zz = torch.addcmul(za, s, z[:, b, None, None] - za)
        reach2 = ((r3d * focal) ** 2)[:, None, None]
        # Coverage first (|o| < radius / depth, squared and multiplied out), then the depth
        # test and shading only where the capsule covers.
        hit = (ox.square().addcmul_(oy, oy).mul_(zz.square()) < reach2).view(-1).nonzero()
        hit = hit.squeeze(1)
        cells = sub_r.shape[1] * sub_c.shape[1]  # pixels per image of the part's window
        owner, i, j = hit // cells, hit % cells // sub_c.shape[1], hit % sub_c.shape[1]
        target = first[owner] + sub_r[owner, i] * width + sub_c[owner, j]
        zz_hit = zz.view(-1)[hit]
        keep = ((zz_hit > 0.05) & (zz_hit < flat_depth[target])).nonzero().squeeze(1)
        if len(keep) == 0:
            continue
        hit, owner, target, zz_hit = hit[keep], owner[keep], target[keep], zz_hit[keep]
        r_in = (r3d * focal)[owner] / zz_hit
        nx, ny = ox.view(-1)[hit] / r_in, oy.view(-1)[hit] / r_in
        nz = (1 - nx * nx - ny * ny).clamp_min(0).sqrt()
        light = light_cam[owner]
        shade = 0.35 + 0.65 * (nx * light[:, 0] + ny * light[:, 1] - nz * light[:, 2]).clamp_min(0)
        flat_rgb[target] = colours[owner, slot] * shade[:, None]
        flat_depth[target] = zz_hit
    write_back()


def _front_cues(pose_world: torch.Tensor) -> torch.Tensor:
    """Back-of-head (hair) and toe points ``(B, 3, 3)``: where the person faces.

    Forward is ``up x right`` of the body (up along the spine, right from the left to the
    right hip), as in the body frame of :mod:`epoch_kedro.skeleton`; toes point forward
    along the floor.
    """
    right = pose_world[:, J["RHip"]] - pose_world[:, J["LHip"]]
    up = pose_world[:, J["Thorax"]] - pose_world[:, J["Hip"]]
    forward = torch.linalg.cross(up, right)
    forward = forward / forward.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    flat = forward * torch.tensor([1.0, 1.0, 0.0])
    flat = flat / flat.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    down = torch.tensor([0.0, 0.0, -0.03])
    hair = pose_world[:, J["Head"]] - 0.045 * forward
    toes = [pose_world[:, J[foot]] + 0.14 * flat + down for foot in ("LFoot", "RFoot")]
    return torch.stack([hair, *toes], 1)


def _blur(img: torch.Tensor) -> torch.Tensor:
    """A 3x3 binomial blur of ``(B, H, W, 3)`` images (zero padding)."""
    kernel = torch.tensor([0.25, 0.5, 0.25])
    kernel = (kernel[:, None] * kernel[None]).expand(3, 1, 3, 3)
    # The permuted view is channels-last in memory, which conv2d keeps: no copies.
    return F.conv2d(img.permute(0, 3, 1, 2), kernel, padding=1, groups=3).permute(0, 2, 3, 1)


def render_batch(
    pose_world: np.ndarray,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    subjects: np.ndarray,
    sample_ids: np.ndarray,
    config: RendererConfig,
    outfits: np.ndarray | None = None,
) -> np.ndarray:
    """Render ``B`` images ``(B, S, S, 3)`` uint8 from world poses and *already scaled* K."""
    Kt = torch.as_tensor(K, dtype=torch.float32)
    Rt = torch.as_tensor(R, dtype=torch.float32)
    tt = torch.as_tensor(t, dtype=torch.float32)
    look = _scene_look(sample_ids, config.seed)
    outfits = subjects if outfits is None else outfits
    colours, radius = _person_look(subjects, outfits, config.seed)
    rgb, depth = _smooth_background(Kt, Rt, tt, look, config.size)
    world = torch.as_tensor(pose_world, dtype=torch.float32)
    world = torch.cat([world, _front_cues(world)], 1)
    joints = world @ Rt.transpose(-1, -2) + tt[:, None]
    light_cam = torch.einsum("bij,bj->bi", Rt, look["light"])  # towards the light, camera frame
    _draw_capsules(rgb, depth, joints, Kt, colours, radius, light_cam, config.size)
    img = _blur(rgb) if config.blur else rgb
    generator = torch.Generator().manual_seed(int(sample_ids[0]) if len(sample_ids) else 0)
    # Luminance noise, one draw per pixel for all channels: a third of the random numbers,
    # which were a fifth of the rendering time.
    noise = torch.randn((*img.shape[:-1], 1), generator=generator).mul_(config.noise_std)
    # In place: a 128 px batch is 50 MB a copy, and the values are those of the plain formula.
    # Exposure after the blur (both linear), in place with the 8-bit scale: one pass fewer.
    gain = 255 * look["exposure"][:, None, None, None]
    return img.mul_(gain).add_(noise).clamp_(0, 255).round_().to(torch.uint8).numpy()


def select_frames(data: dict[str, np.ndarray], frame_stride: int) -> np.ndarray:
    """Row indices of the samples to render: every ``frame_stride``-th frame of each sequence."""
    if frame_stride < 1:
        raise ValueError(f"render.frame_stride must be >= 1, got {frame_stride}")
    return np.flatnonzero(data["frame"] % frame_stride == 0)


def _person_extent(data: dict[str, np.ndarray], rows: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Area of each person's 2D bounding box in the resized image (for batching alike sizes)."""
    X = data["pose3d_world"][rows] @ np.swapaxes(data["R"][rows], -1, -2) + data["t"][rows, None]
    u = X[..., :2] / np.maximum(X[..., 2:], 1e-3) * K[:, None, [0, 1], [0, 1]]
    return np.ptp(u[..., 0], axis=1) * np.ptp(u[..., 1], axis=1)


def render_dataset(
    data: dict[str, np.ndarray], rows: np.ndarray, config: RendererConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Full frames ``(M, S, S, 3)`` uint8 of the given sample rows and their scaled K ``(M, 3, 3)``.

    Samples are rendered in order of on-screen person size so that each batch's evaluation
    window fits its members tightly; images return in the order of ``rows``.
    """
    K = scale_intrinsics(data["K"][rows], data["image_size"][rows], config.size)
    order = np.argsort(_person_extent(data, rows, K), kind="stable")
    return _render_rows(data, rows, K, order, config, "render"), K.astype(np.float32)


def render_crops(
    data: dict[str, np.ndarray], rows: np.ndarray, boxes: np.ndarray, config: RendererConfig
) -> np.ndarray:
    """Square person crops ``(M, S, S, 3)`` uint8 of the given rows at ``boxes (M, 3)``.

    A crop is drawn directly with the crop's exact intrinsics (:func:`crop_intrinsics`): the
    same picture as cutting the box out of a full-resolution frame, at the cost of an
    ``S``-pixel image.
    """
    K = crop_intrinsics(np.asarray(data["K"][rows], np.float64), boxes, config.size)
    return _render_rows(data, rows, K, np.arange(len(rows)), config, "crops")


def _render_rows(data, rows, K, order, config, desc) -> np.ndarray:
    """Images of ``rows`` seen by ``K``, rendered in batches taken in ``order``."""
    images = np.empty((len(rows), config.size, config.size, 3), dtype=np.uint8)
    starts = range(0, len(rows), config.batch_size)
    for start in progress(starts, desc=f"{desc} {config.size}px", total=len(starts), unit="batch"):
        pick = order[start : start + config.batch_size]
        r = rows[pick]
        images[pick] = render_batch(
            data["pose3d_world"][r],
            K[pick],
            data["R"][r],
            data["t"][r],
            data["subject"][r],
            r,
            config,
            outfit_keys(data, r),
        )
    return images
