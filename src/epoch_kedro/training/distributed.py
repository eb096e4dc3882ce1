"""Data-parallel training on PyTorch's own engine (``torch.distributed``: NCCL on GPUs, gloo on
CPUs), entered two ways:

- ``loop.devices: N`` in a Kedro run: :func:`launch` starts N worker processes on this machine
  (one per GPU, or CPU processes) that run the same training function, and hands rank 0's
  result back to the node;
- ``torchrun ... -m epoch_kedro.train <stage>``: the processes exist already, with the process
  group set up from torchrun's environment (:func:`init_from_env`); :func:`launch` then runs the
  function in place.

Inside :func:`epoch_kedro.training.loop.fit` every rank trains on its share of each global batch
(the global batch and learning rate stay those of a single-process run), the gradients are
averaged across ranks after each backward pass (:func:`average_gradients`), batch-norm layers
use the statistics of the whole global batch (:func:`sync_batch_norm`), and only rank 0 writes
checkpoints, logs and progress bars.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from epoch_kedro.errors import EpochError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes checkpoints, logs and artifacts."""
        return self.rank == 0


def world() -> World:
    """The current process group's shape; a single process when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return World(dist.get_rank(), dist.get_world_size(), local)


def backend() -> str:
    """NCCL where there is a GPU, gloo on CPUs."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def init_from_env() -> World:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1 in the environment)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        _bind_gpu(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend())
        _share_cores(dist.get_world_size())
    return world()


def _bind_gpu(local_rank: int) -> None:
    """One GPU per process, chosen before NCCL starts (so it does not pile on GPU 0)."""
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)


def _share_cores(size: int) -> None:
    """Each of ``size`` CPU processes takes its share of the cores (no oversubscription)."""
    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // size))


# ---- launching N processes from a Kedro node ----------------------------------------------


def launch(fn: Callable[..., Any], *args: Any, devices: int = 1, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` trained on ``devices`` processes; rank 0's return value.

    With one device, or inside a process group already (torchrun), ``fn`` runs here. Otherwise
    N processes are spawned; NumPy arguments reach them without a copy per worker (:func:`share`).
    """
    if devices <= 1 or world().size > 1:
        return fn(*args, **kwargs)
    if torch.cuda.is_available() and devices > torch.cuda.device_count():
        raise EpochError(
            f"loop.devices={devices}: this machine has {torch.cuda.device_count()} GPU(s)"
        )
    logger.info("Training on %d %s processes (%s)", devices,
                "GPU" if torch.cuda.is_available() else "CPU", backend())  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="epoch-ddp-") as tmp:
        result = Path(tmp) / "result.pt"
        job = (fn, share((args, kwargs), Path(tmp)), _free_port(), str(result))
        try:
            torch.multiprocessing.start_processes(
                _worker, args=(devices, job), nprocs=devices, start_method="spawn"
            )
        except torch.multiprocessing.ProcessRaisedException:
            _raise_project_error(Path(tmp))
            raise
        return torch.load(result, weights_only=False)  # written by our own rank 0, just now


def _worker(rank: int, size: int, job: tuple) -> None:
    fn, shared, port, result = job
    if rank == 0:  # a spawned process starts without the run's logging: rank 0 reports
        logging.basicConfig(level=logging.INFO, format="%(levelname)-8s %(message)s")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_RANK=str(rank))
    _bind_gpu(rank)
    dist.init_process_group(backend(), rank=rank, world_size=size)
    _share_cores(size)
    try:
        args, kwargs = unshare(shared)
        out = fn(*args, **kwargs)
        if rank == 0:
            torch.save(out, result)
    except EpochError as err:
        # The project's own errors cross back whole, so the run still ends in one line.
        (Path(result).parent / f"error{rank}.pkl").write_bytes(pickle.dumps(err))
        raise
    finally:
        dist.destroy_process_group()


# ---- independent trainings side by side ---------------------------------------------------

#: ``(fn, args, kwargs)``: one call of :func:`run_concurrently`.
Job = tuple[Callable[..., Any], tuple, dict]


def run_concurrently(jobs: list[Job], concurrent: bool = True) -> list[Any]:
    """The results of independent calls ``fn(*args, **kwargs)``, each in its own process.

    Small models do not keep several CPU cores busy from one process (many of their operations
    are too small to split across threads), so two trainings side by side, each on its share of
    the cores, finish sooner than one after the other. With ``concurrent=False``, one job, or
    inside a process group, the calls run here, in order. NumPy arguments reach the workers
    without a copy each (:func:`share`); a worker's project error is raised here whole.
    """
    if not concurrent or len(jobs) <= 1 or world().size > 1:
        return [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    logger.info("Training %d models side by side, one process each", len(jobs))
    with tempfile.TemporaryDirectory(prefix="epoch-jobs-") as tmp:
        shared = share(list(jobs), Path(tmp))
        try:
            torch.multiprocessing.start_processes(
                _job_worker, args=(len(jobs), shared, tmp), nprocs=len(jobs), start_method="spawn"
            )
        except torch.multiprocessing.ProcessRaisedException:
            _raise_project_error(Path(tmp))
            raise
        results = [Path(tmp) / f"result{i}.pt" for i in range(len(jobs))]
        return [torch.load(path, weights_only=False) for path in results]  # our workers' own


def _job_worker(index: int, count: int, shared: list, folder: str) -> None:
    # Each worker logs its epochs; interleaved progress bars would be unreadable.
    logging.basicConfig(level=logging.INFO, format="%(levelname)-8s %(message)s")
    os.environ["EPOCH_PROGRESS"] = "0"
    _share_cores(count)
    fn, args, kwargs = unshare(shared[index])
    try:
        out = fn(*args, **kwargs)
    except EpochError as err:
        (Path(folder) / f"error{index}.pkl").write_bytes(pickle.dumps(err))
        raise
    torch.save(out, Path(folder) / f"result{index}.pt")


def _raise_project_error(folder: Path) -> None:
    for path in sorted(folder.glob("error*.pkl")):
        raise pickle.loads(path.read_bytes())  # written by our own workers, just now


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- arguments shared with the workers, not copied --------------------------------------


#: Arrays from this size on are handed to the workers as memory-mapped files.
SHARE_BYTES = 1 << 16


@dataclass(frozen=True)
class _Mapped:
    """A ``.npy`` file the worker maps (copy-on-write: the training code may write to its
    arrays without touching the file or the other workers' pages)."""

    path: str

    def open(self) -> np.ndarray:
        return np.load(self.path, mmap_mode="c")  # numpy refuses pickles by default


def share(obj: Any, folder: Path) -> Any:
    """``obj`` with its large NumPy arrays replaced by files the workers map: a memory-mapped
    array by its own file, any other by a ``.npy`` written once to ``folder``. The page cache
    holds one copy for all workers, and, unlike shared memory, it is not bounded by the size
    of ``/dev/shm`` (64 MB in a default Docker container)."""
    if isinstance(obj, np.memmap) and _whole_file(obj):
        return _Mapped(str(obj.filename))
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf" and obj.nbytes >= SHARE_BYTES:
        path = folder / f"array{len(list(folder.glob('array*.npy')))}.npy"
        np.save(path, obj)  # numbers only (dtype kind checked above): no pickle
        return _Mapped(str(path))
    return _map(obj, lambda item: share(item, folder))


def unshare(obj: Any) -> Any:
    """The inverse of :func:`share`, in the worker."""
    if isinstance(obj, _Mapped):
        return obj.open()
    return _map(obj, unshare)


def _map(obj: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(obj, dict):
        return {k: fn(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(fn(v) for v in obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: fn(getattr(obj, f.name)) for f in fields(obj)})
    return obj


def _whole_file(array: np.memmap) -> bool:
    """Whether ``array`` is the whole ``.npy`` file it maps (not a view of part of it)."""
    try:
        whole = np.load(array.filename, mmap_mode="r")
    except (OSError, TypeError, ValueError):
        return False
    same = whole.shape == array.shape and whole.dtype == array.dtype
    return same and array.flags.c_contiguous


# ---- inside the training loop ---------------------------------------------------------------


def average_gradients(model: nn.Module, size: int) -> None:
    """Average the gradients of ``model`` over the ranks, as one flat all-reduce."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if size <= 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_mean(values: dict[str, float], size: int) -> dict[str, float]:
    """Per-key mean of ``values`` over the ranks (the same keys on every rank)."""
    if size <= 1 or not values:
        return values
    keys = sorted(values)  # the same order on every rank
    flat = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=exchange_device())
    dist.all_reduce(flat)
    mean = {k: float(v) / size for k, v in zip(keys, flat, strict=True)}
    return {k: mean[k] for k in values}


def all_true(flag: bool, size: int) -> bool:
    """Whether ``flag`` holds on every rank."""
    if size <= 1:
        return flag
    value = torch.tensor([float(flag)], device=exchange_device())
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def exchange_device() -> torch.device:
    """Where tensors for a collective must live: this rank's GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def broadcast_model(model: nn.Module) -> None:
    """Every rank starts from rank 0's weights and buffers."""
    for tensor in [*model.parameters(), *model.buffers()]:
        dist.broadcast(tensor.data, src=0)


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks, differentiable: each rank's output depends on every rank's input,
    so the gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class GlobalBatchNorm(nn.BatchNorm2d):
    """Batch norm over the whole global batch on CPU ranks (gloo), where PyTorch's
    ``SyncBatchNorm`` runs on GPUs only: per-channel sums are all-reduced (differentiably), so
    the statistics and gradients are those of one process seeing the whole batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = world().size
        if not self.training or size <= 1:
            return super().forward(x)
        dims = (0, 2, 3)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count])
        stats = _AllReduceSum.apply(stats)
        n = stats[-1]
        mean = stats[: x.shape[1]] / n
        var = stats[x.shape[1] : -1] / n - mean * mean
        self._track(mean.detach(), var.detach() * n / (n - 1).clamp_min(1))
        shape = (1, -1, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y

    def _track(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        if not self.track_running_stats:
            return
        self.num_batches_tracked += 1
        momentum = (
            self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
        )
        with torch.no_grad():
            self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
            self.running_var.lerp_(var.to(self.running_var.dtype), momentum)


def sync_batch_norm(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with its batch norms computed over the global batch: PyTorch's SyncBatchNorm on
    GPUs, :class:`GlobalBatchNorm` on CPUs. The state dict keeps its keys and shapes."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            setattr(model, name, _global(child))
        else:
            sync_batch_norm(child, device)
    return model


def _global(bn: nn.BatchNorm2d) -> GlobalBatchNorm:
    out = GlobalBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine,
                          bn.track_running_stats, device=bn.weight.device)  # fmt: skip
    out.load_state_dict(bn.state_dict())
    return out
