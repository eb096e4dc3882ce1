"""The one training loop: device, mixed precision, progress, validation, checkpoint and resume.

A model-specific ``loss_fn(model, batch, generator) -> {name: tensor}`` (with a ``"total"`` key)
and ``validate_fn(model) -> {name: float}`` plug into :func:`fit`.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from epoch_kedro.errors import CheckpointError
from epoch_kedro.training import distributed
from epoch_kedro.training.distributed import World
from epoch_kedro.utils.checkpoint import content_hash, load_checkpoint, save_checkpoint
from epoch_kedro.utils.config import flatten
from epoch_kedro.utils.precision import autocast, check_precision, decide
from epoch_kedro.utils.progress import progress
from epoch_kedro.utils.runtime import pick_device, seed_everything

logger = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]
LossFn = Callable[[nn.Module, Batch, torch.Generator], dict[str, torch.Tensor]]
ValidateFn = Callable[[nn.Module], dict[str, float]]


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings shared by every model (ElePose defaults)."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-4
    weight_decay: float = 1e-5
    lr_decay: float = 0.95  # multiplicative, per epoch
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # or "auto" (bf16 where it pays: utils.precision), "bf16"
    monitor: str = "loss"  # validation key whose minimum selects the best weights
    max_steps_per_epoch: int = 0  # 0 = the whole training set each epoch
    warmup_steps: int = 0  # linear learning-rate ramp over the first optimiser steps
    schedule: str = "exponential"  # per epoch: x lr_decay, or "cosine" (half cosine to ~0)
    devices: int = 1  # data-parallel processes (GPUs, or CPU processes): training.distributed

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"loop.schedule={self.schedule!r}; choose one of {list(SCHEDULES)}")
        check_precision(self.precision)

    def to_dict(self) -> dict:
        return asdict(self)


def check_device(device: str) -> None:
    """``loop.device`` must be ``auto``, ``cpu`` or a CUDA device this machine has; one line
    otherwise, before anything trains."""
    if device in ("auto", "cpu"):
        return
    if not device.startswith("cuda"):
        raise ValueError(f"loop.device={device!r}: expected auto, cpu or cuda[:N]")
    if not torch.cuda.is_available():
        raise ValueError(f"loop.device={device!r}: this machine has no CUDA device; use auto "
                         "(CUDA when available, else the CPU) or cpu")  # fmt: skip


#: ``loop.schedule`` values.
SCHEDULES = ("exponential", "cosine")


def _scheduler(optimizer: torch.optim.Optimizer, config: LoopConfig):
    """The per-epoch learning-rate schedule; a cosine ends near zero, so the last epochs
    settle into a minimum instead of stopping at a still-large rate."""
    if config.schedule == "cosine":
        epochs = max(config.epochs, 1)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
        )
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)


@dataclass(frozen=True)
class Gather:
    """Per-sample rows of a large table (images), read batch by batch.

    ``table`` is typically a zero-copy tensor over a memory-mapped ``.npy``: the training set's
    images are never copied whole into a process's memory, and every process of a
    data-parallel run shares the one copy in the page cache. ``gather[idx]`` is the tensor of
    samples ``idx``, as indexing a tensor of all the rows would give.
    """

    table: torch.Tensor  # (M, ...)
    rows: torch.Tensor  # (N,) int64: the table row of each sample

    @classmethod
    def of(cls, table: np.ndarray, rows: np.ndarray) -> Gather:
        with warnings.catch_warnings():
            # A read-only memory map: the table is only ever read (batches are gathered copies).
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(np.ascontiguousarray(table))
        return cls(tensor, torch.as_tensor(rows, dtype=torch.int64))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.table[self.rows[idx]]

    @property
    def dtype(self) -> torch.dtype:
        return self.table.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.table.shape[1:])

    def tensor_chunks(self, rows: int = 1024):
        """The gathered rows, a chunk at a time (for hashing without a whole copy)."""
        for start in range(0, len(self.rows), rows):
            yield self[start : start + rows]


@dataclass
class FitResult:
    """Best weights and the per-epoch history."""

    best_state: dict[str, torch.Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    precision: str = "fp32"  # what the training steps ran in (utils.precision)
    training: dict[str, Any] = field(default_factory=dict)  # settings, for the model artifact


def _batches(data: Batch, config: LoopConfig, generator: torch.Generator, rank: World, device):
    """Shuffled global batches of ``config.batch_size``; each rank yields its share of each
    (every ``rank.size``-th sample), so the ranks together see exactly one process's batch.
    :class:`Gather` inputs are read here, batch by batch, and moved to ``device``."""
    order = torch.randperm(len(next(iter(data.values()))), generator=generator)
    for i in range(_steps(data, config)):
        idx = order[i * config.batch_size : (i + 1) * config.batch_size]
        if len(idx) < rank.size:  # a last global batch too small to give every rank a sample
            continue
        idx = idx[rank.rank :: rank.size]
        yield {
            key: value[idx].to(device) if isinstance(value, Gather) else value[idx]
            for key, value in data.items()
        }


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights (the best epoch's, kept while training goes on)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _changes(old: dict, new: dict) -> list[str]:
    """What differs between a checkpoint's meta and this run's, in words."""
    before, after = flatten(old), flatten(new)
    changes = []
    if before.get("data") != after.get("data"):
        changes.append("the training data changed")
    for key in sorted((set(before) | set(after)) - {"data"}):
        if before.get(key) == after.get(key):
            continue
        if key.startswith("inputs."):  # a fingerprint: its value says nothing to a reader
            changes.append(f"the {key.removeprefix('inputs.')} it trains with changed")
        else:
            changes.append(f"{key} {before.get(key)!r} -> {after.get(key)!r}")
    return changes


def _resume(path: Path | None, meta: dict, model, optimizer, scheduler, generator) -> tuple:
    """Restore a compatible interrupted run: (start epoch, history, best state, best score)."""
    if path is None or not path.is_file():
        return 0, [], None, math.inf
    state = load_checkpoint(path)
    changed = _changes(state.get("meta") or {}, meta)
    if changed:
        raise CheckpointError(
            f"{path}: refusing to resume, {'; '.join(changed[:4])} since it was written; "
            "delete it or set resume: false"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    logger.info("Resuming from '%s' after epoch %d", path, state["epoch"] + 1)
    return state["epoch"] + 1, state["history"], state["best_state"], state["best_score"]


def fit(  # noqa: PLR0913 - the model, its data and losses, and what makes a run resumable
    model: nn.Module,
    train: Batch,
    loss_fn: LossFn,
    validate_fn: ValidateFn,
    config: LoopConfig,
    *,
    checkpoint: Path | None = None,
    resume: bool = False,
    meta: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` on the tensors of ``train`` (moved to the device), keeping the best epoch.

    After each epoch the full state (model, optimizer, scheduler, shuffling generator, history,
    best weights) goes to ``checkpoint``; with ``resume`` a compatible checkpoint continues.
    ``meta`` (plain values; its ``"name"`` labels progress and logs) must match to resume, and
    so must the training data and ``inputs``: the other artifacts the run trains with (e.g.
    ``{"prior": flow.state_dict()}``), fingerprinted.
    """
    fingerprint = content_hash(train)  # a resumed run must train on the data it started on
    generator = seed_everything(config.seed)
    ranks = distributed.world()
    device = _device(config, ranks)
    model.to(device)
    if ranks.size > 1:
        distributed.sync_batch_norm(model, device)
        distributed.broadcast_model(model)
    train = {k: v if isinstance(v, Gather) else v.to(device) for k, v in train.items()}
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = _scheduler(optimizer, config)
    # The epoch count may grow between an interrupted run and its resumption, and a run may go
    # on with another number of processes; nothing else may change.
    loop = {k: v for k, v in config.to_dict().items() if k not in ("epochs", "devices")}
    meta = {"name": "model", "loop": loop, **(meta or {}), "data": fingerprint}
    if inputs:
        meta["inputs"] = {name: content_hash({name: value}) for name, value in inputs.items()}
    name = meta["name"]
    bf16 = _bf16_steps(model, train, loss_fn, config, device, ranks)
    start, history, best_state, best_score = 0, [], None, math.inf
    if resume:
        start, history, best_state, best_score = _resume(
            checkpoint, meta, model, optimizer, scheduler, generator
        )
    for epoch in range(start, config.epochs):
        train_stats = _train_epoch(
            model,
            train,
            loss_fn,
            optimizer,
            config,
            _Generators(generator, _rank_generator(config.seed, epoch, ranks)),
            device,
            _Epoch(
                f"{name} {epoch + 1}/{config.epochs}",
                epoch * _steps(train, config),
                scheduler.get_last_lr(),
                ranks,
                bf16,
            ),
        )
        scheduler.step()
        model.eval()
        with torch.no_grad():
            val_stats = validate_fn(model)
        record = {
            "epoch": epoch + 1,
            **train_stats,
            **{f"val_{k}": v for k, v in val_stats.items()},
        }
        history.append(record)
        score = val_stats.get(config.monitor, train_stats["loss"])
        if score < best_score or best_state is None:
            best_score = score
            best_state = _snapshot(model)
        if not ranks.main:  # one process writes the log and the checkpoint
            continue
        logger.info(
            "%s epoch %d: %s",
            name,
            epoch + 1,
            ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"),
        )
        if checkpoint is not None:
            save_checkpoint(
                {
                    "meta": meta,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(),
                    "history": history,
                    "best_state": best_state,
                    "best_score": best_score,
                },
                checkpoint,
            )
    if best_state is None:  # zero epochs requested
        best_state = _snapshot(model)
    precision = "bf16" if bf16 else "fp32"
    training = {k: v for k, v in meta.items() if k not in ("name", "data", "inputs")}
    training.update(loop=config.to_dict(), precision=precision)
    return FitResult(best_state, history, precision, training)


def _bf16_steps(model, train: Batch, loss_fn: LossFn, config: LoopConfig, device, ranks) -> bool:
    """Whether the training steps autocast to bf16 (:func:`utils.precision.decide`).

    The probe, when one runs, times the model's own step on a copy of it and a batch of a
    separate shuffle, so the run's weights and random streams are those of a run without it.
    Every process of a data-parallel run takes bf16 only if all of them do.
    """
    probe: dict[str, Any] = {}

    def step(_bf16: bool) -> None:
        if not probe:  # built on the first call: most decisions need no probe at all
            shuffle = torch.Generator().manual_seed(config.seed)
            probe["model"] = copy.deepcopy(model).train()
            probe["batch"] = next(_batches(train, config, shuffle, ranks, device))
            probe["generator"] = torch.Generator().manual_seed(config.seed)
        terms = loss_fn(probe["model"], probe["batch"], probe["generator"])
        probe["model"].zero_grad(set_to_none=True)
        terms["total"].backward()

    size = sum(p.numel() for p in model.parameters())
    shapes = ", ".join(f"{k} {tuple(v.shape[1:])}" for k, v in sorted(train.items()))
    key = f"training {type(model).__name__} ({size:,} weights, batch {config.batch_size}: {shapes})"
    bf16 = decide(device, config.precision, key, step).bf16
    probe.clear()
    return distributed.all_true(bf16, ranks.size)


def _device(config: LoopConfig, ranks: World) -> torch.device:
    """The configured device; with several GPU processes, this rank's GPU."""
    device = pick_device(config.device)
    if device.type == "cuda" and ranks.size > 1:
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    return device


def _rank_generator(seed: int, epoch: int, ranks: World) -> torch.Generator | None:
    """With several processes, each rank's own random stream for its share of the batch (the
    shuffling stream is shared): drawn anew from (seed, epoch, rank), so a run resumes on any
    number of processes. A single process keeps one stream for both, as it always did."""
    if ranks.size <= 1:
        return None
    return torch.Generator().manual_seed(hash((seed, epoch, ranks.rank)) & 0x7FFF_FFFF)


@dataclass(frozen=True)
class _Generators:
    """The shuffling stream (the same on every rank) and, with several processes, the stream
    the loss draws its augmentations from (one per rank)."""

    shuffle: torch.Generator
    rank: torch.Generator | None

    @property
    def loss(self) -> torch.Generator:
        return self.rank if self.rank is not None else self.shuffle


@dataclass(frozen=True)
class _Epoch:
    """Where an epoch stands: its progress label, first global step, scheduled rates and the
    processes training together."""

    desc: str
    first_step: int
    lrs: list[float]
    ranks: World = field(default_factory=World)
    bf16: bool = False


def _warm_up(optimizer, epoch: _Epoch, step: int, warmup_steps: int) -> None:
    """Ramp the learning rate linearly over the first ``warmup_steps`` optimiser steps.

    Early steps move a fresh network's features fast; without a ramp they kicked RegNet's
    camera head into a collapsed state in some runs (focal length 3x off after an epoch).
    """
    factor = min(1.0, (epoch.first_step + step + 1) / warmup_steps)
    for group, lr in zip(optimizer.param_groups, epoch.lrs, strict=True):
        group["lr"] = lr * factor


def _train_epoch(model, train, loss_fn, optimizer, config, generators, device, epoch) -> dict:
    """One pass over the shuffled training tensors; returns mean loss terms (over all ranks)."""
    desc, ranks = epoch.desc, epoch.ranks
    model.train()
    totals: dict[str, float] = {}
    count = skipped = 0
    bar = progress(
        _batches(train, config, generators.shuffle, ranks, device),
        desc=desc,
        total=_steps(train, config),
        unit="batch",
        enabled=ranks.main,
    )
    for batch in bar:
        with autocast(device, epoch.bf16):
            terms = loss_fn(model, batch, generators.loss)
        # All ranks skip a step together, or their gradient exchange would wait forever.
        if not distributed.all_true(bool(torch.isfinite(terms["total"])), ranks.size):
            # One poisoned step would turn every weight into NaN: skip it, and say so.
            skipped += 1
            logger.warning(
                "%s: non-finite loss (%s), batch skipped",
                desc,
                {k: float(v.detach()) for k, v in terms.items() if not torch.isfinite(v)},
            )
            continue
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        distributed.average_gradients(model, ranks.size)
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if config.warmup_steps:
            _warm_up(optimizer, epoch, count + skipped, config.warmup_steps)
        optimizer.step()
        count += 1
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + float(value.detach())
        if count % 10 == 0:
            bar.set_postfix(loss=f"{totals['total'] / count:.4g}")
    for group, lr in zip(optimizer.param_groups, epoch.lrs, strict=True):
        group["lr"] = lr  # the scheduler decays from the scheduled rate, not a ramped one
    totals = distributed.all_mean(totals, ranks.size)
    stats = {("loss" if k == "total" else k): v / max(count, 1) for k, v in totals.items()}
    stats["lr"] = optimizer.param_groups[0]["lr"]
    stats["skipped_batches"] = skipped
    return stats


def _steps(train: Batch, config: LoopConfig) -> int:
    n = len(next(iter(train.values())))
    steps = math.ceil(n / config.batch_size)
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps
