"""Adaptation: fine-tune a trained LiftNet on a user's own 2D poses, with no 3D labels.

LiftNet's objective needs only 2D poses and their cameras, so it can keep learning on the
footage it is asked to lift: its people, motions, lens and 2D detector. Two steps, both on a
mix of the user's poses and a replay of the synthetic training poses (so that nothing learnt
there is forgotten):

1. the 2D pose prior (the flow) is fitted again by maximum likelihood. Without this step the
   prior, fitted to synthetic 2D only, pulls the virtual views of real poses towards the
   synthetic skeleton and adaptation makes LiftNet worse (docs/ADAPTATION.md);
2. LiftNet is fine-tuned with its training objective
   (:func:`~epoch_kedro.training.liftnet.cycle_terms`)
   under the adapted prior.

Every user pose comes with its mirror image (``mirror``): a horizontal flip about the principal
ray is exact in ray coordinates, whatever K, so each pose gives a second valid one, seen as if
from the mirrored direction. Measured, it is the prior's refit that needs them
(docs/ADAPTATION.md): likely because they add views of the people from more directions, as the
cycle's random rotations draw them.

A share of the user's poses is held back; the LiftNet kept is the one with the lowest
objective on them (the un-adapted one included), a stopping rule that needs no 3D.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from epoch_kedro.geometry import normalize_2d, project_normalized
from epoch_kedro.inference.lifting import checked_inputs, every_field, lift, mirror_inputs
from epoch_kedro.models.artifacts import adaptation_data, flow_from_artifact, to_artifact
from epoch_kedro.models.flow import PoseFlow
from epoch_kedro.models.liftnet import LiftNet
from epoch_kedro.training.liftnet import LiftTrainingConfig, cycle_terms, training_config
from epoch_kedro.utils.progress import progress
from epoch_kedro.utils.runtime import pick_device, seed_everything

logger = logging.getLogger(__name__)

Tensors = dict[str, torch.Tensor]


@dataclass(frozen=True)
class AdaptConfig:
    """How a LiftNet adapts (the ``adapt`` parameter group; ``predict --adapt-steps``)."""

    steps: int = 400  # LiftNet optimiser steps at most (the best on the held-back poses is kept)
    flow_steps: int = 400  # optimiser steps of the 2D prior's refit (0: keep the prior)
    lr: float = 5.0e-5
    flow_lr: float = 1.0e-4
    batch_size: int = 256  # poses per step, user and replay together
    replay_share: float = 0.5  # share of each batch drawn from the synthetic training poses
    holdout: float = 0.2  # share of the user's poses held back for the stopping rule
    eval_every: int = 50  # steps between two looks at the held-back objective
    # Weight of the bone-proportion term while adapting: its proportions are the synthetic
    # population's, and other skeletons (a 2D detector's joints) are not wrong (measured:
    # docs/ADAPTATION.md). None: the training weight.
    bone_ratio: float | None = 0.0
    min_poses: int = 50  # fewer user poses than this: adaptation is refused
    # Adapt on the mirror image of every user pose too: on the development set the chain's
    # LiftNet went 91.7 -> 54.3 mm with them, 71.1 without (docs/ADAPTATION.md).
    mirror: bool = True
    seed: int = 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting out of range."""
        for name in ("replay_share", "holdout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"adapt.{name}={getattr(self, name)}: expected a share in [0, 1)")
        for name in ("steps", "flow_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"adapt.{name}={getattr(self, name)}: expected >= 0")
        for name in ("batch_size", "eval_every", "min_poses"):
            if getattr(self, name) < 1:
                raise ValueError(f"adapt.{name}={getattr(self, name)}: expected >= 1")
        for name in ("lr", "flow_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"adapt.{name}={getattr(self, name)}: expected > 0")


@dataclass
class Adapted:
    """An adapted LiftNet, its adapted prior and what happened (``record``)."""

    model: LiftNet
    flow: PoseFlow
    record: dict


def adapt_liftnet(
    model: LiftNet,
    flow: PoseFlow,
    user: Tensors,
    replay: Tensors,
    training: LiftTrainingConfig,
    config: AdaptConfig,
) -> Adapted:
    """Copies of ``model`` and ``flow`` adapted to the ``user`` poses (LiftNet input tensors,
    :func:`~epoch_kedro.inference.lifting.lift_tensors`), mixed with ``replay`` (the synthetic
    training inputs); ``training`` gives the objective's weights, cycle and joint dropout."""
    config.validate()
    n = len(user["pose2d"])
    if n < config.min_poses:
        raise ValueError(
            f"adaptation needs at least {config.min_poses} poses (adapt.min_poses), got {n}: "
            "with fewer, the held-back check is too small to tell a better model"
        )
    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed)  # on the CPU, as in training
    device = pick_device("auto")  # CUDA when available, else the CPU
    model, flow = copy.deepcopy(model).float().to(device), copy.deepcopy(flow).float().to(device)
    if config.bone_ratio is not None:
        training = replace(training, losses=replace(training.losses, bone_ratio=config.bone_ratio))
    user, replay = (_on(every_field(batch), device) for batch in (user, replay))
    fit_part, held = _split(user, config.holdout, generator)
    n_held = len(held["pose2d"])
    if config.mirror:  # after the split: a pose and its mirror stay on one side of it
        user, fit_part, held = (_with_mirrors(part) for part in (user, fit_part, held))
    flow_record = _refit_flow(flow, _complete(model, user), replay["pose2d"], config, generator)
    lift_record = _fine_tune(model, flow, fit_part, held, replay, training, config, generator)
    record = {
        "poses": n,
        "held_back": n_held,  # poses (with their mirror images when ``mirror``)
        "config": asdict(config),
        "flow": flow_record,
        **lift_record,
    }
    return Adapted(model.eval(), flow.eval(), record)


def _split(user: Tensors, holdout: float, generator: torch.Generator) -> tuple[Tensors, Tensors]:
    """The user's poses, shuffled, as (fitted, held back)."""
    n = len(user["pose2d"])
    order = torch.randperm(n, generator=generator)
    cut = n - max(1, round(holdout * n)) if holdout > 0 else n
    fit_idx, held_idx = order[:cut], order[cut:] if holdout > 0 else order
    return _rows(user, fit_idx), _rows(user, held_idx)


def _with_mirrors(batch: Tensors) -> Tensors:
    """The batch followed by its mirror images (:func:`mirror_inputs`)."""
    mirrored = mirror_inputs(batch)
    return {key: torch.cat([batch[key], mirrored[key]]) for key in batch}


def _rows(batch: Tensors, idx: torch.Tensor) -> Tensors:
    return {key: value[idx.to(value.device)] for key, value in batch.items()}


def _on(batch: Tensors, device: torch.device) -> Tensors:
    return {key: value.to(device) for key, value in batch.items()}


def _complete(model: LiftNet, user: Tensors) -> torch.Tensor:
    """The user's normalised 2D poses with every joint: a missing joint takes the projection
    of the un-adapted lift (the prior models complete poses only)."""
    with torch.no_grad():
        pose = lift(model.eval(), user).pose.float()
    ray_xy = user["pose2d"] * user["scale2d"][:, None, None] + user["root_ray"][:, None]
    filled = torch.where(user["present"][..., None], ray_xy, project_normalized(pose))
    return normalize_2d(filled)[0]


def _mixed(
    user: Tensors, replay: Tensors, size: int, share: float, generator: torch.Generator
) -> Tensors:
    """One batch: ``size`` poses, ``share`` of them from ``replay``, drawn with replacement."""
    n_replay = round(size * share)
    parts = [(user, size - n_replay), (replay, n_replay)]
    drawn = [
        _rows(source, torch.randint(len(source["pose2d"]), (count,), generator=generator))
        for source, count in parts
        if count
    ]
    return {key: torch.cat([d[key] for d in drawn]) for key in drawn[0]}


def _adam_steps(
    parameters: list[torch.nn.Parameter],
    lr: float,
    steps: int,
    loss_fn: Callable[[], torch.Tensor],
    desc: str,
    after: Callable[[int], None] | None = None,
) -> None:
    """``steps`` Adam steps on ``loss_fn`` (gradients clipped to norm 1), with a progress bar;
    ``after(step)`` runs after each."""
    optimizer = torch.optim.Adam(parameters, lr=lr)
    for step in progress(range(1, steps + 1), desc, total=steps, unit="step"):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        if after is not None:
            after(step)


def _refit_flow(
    flow: PoseFlow,
    user_pose2d: torch.Tensor,
    replay_pose2d: torch.Tensor,
    config: AdaptConfig,
    generator: torch.Generator,
    noise: float = 0.01,
) -> dict:
    """Refit the prior by maximum likelihood on the user's and the replayed 2D poses (in
    place); the per-dimension NLL of the user's poses before and after."""
    if config.flow_steps == 0:
        return {"steps": 0}
    sources = {"pose2d": user_pose2d}, {"pose2d": replay_pose2d}
    before = _nll(flow, user_pose2d)
    parameters = list(flow.parameters())
    for p in parameters:
        p.requires_grad_(True)
    flow.train()

    def loss_fn() -> torch.Tensor:
        x = _mixed(*sources, config.batch_size, config.replay_share, generator)["pose2d"]
        x = x + noise * torch.randn(x.shape, generator=generator).to(x)
        return -flow.log_prob(x).mean() / flow.config.n_components

    _adam_steps(parameters, config.flow_lr, config.flow_steps, loss_fn, "adapting the 2D prior")
    flow.eval()
    for p in parameters:
        p.requires_grad_(False)
    return {"steps": config.flow_steps, "nll_before": before, "nll_after": _nll(flow, user_pose2d)}


def _nll(flow: PoseFlow, pose2d: torch.Tensor) -> float:
    with torch.no_grad():
        return round(float(-flow.log_prob(pose2d).mean() / flow.config.n_components), 4)


def _fine_tune(
    model: LiftNet,
    flow: PoseFlow,
    fit_part: Tensors,
    held: Tensors,
    replay: Tensors,
    training: LiftTrainingConfig,
    config: AdaptConfig,
    generator: torch.Generator,
) -> dict:
    """Fine-tune ``model`` (in place) and leave it at its best step by the held-back
    objective; what was tried and kept."""
    curve = [{"step": 0, "held_back_loss": _held_loss(model, flow, held, training, config)}]
    best = {
        "step": 0,
        "loss": curve[0]["held_back_loss"],
        "state": copy.deepcopy(model.state_dict()),
    }

    def loss_fn() -> torch.Tensor:
        model.train()
        batch = _mixed(fit_part, replay, config.batch_size, config.replay_share, generator)
        terms = cycle_terms(
            model, flow, batch, generator, training.losses, training.cycle, None, training.dropout
        )
        return terms["total"]

    def after(step: int) -> None:
        if step % config.eval_every and step != config.steps:
            return
        loss = _held_loss(model, flow, held, training, config)
        curve.append({"step": step, "held_back_loss": loss})
        if loss < best["loss"]:
            best.update(step=step, loss=loss, state=copy.deepcopy(model.state_dict()))

    parameters = list(model.parameters())
    _adam_steps(parameters, config.lr, config.steps, loss_fn, "adapting LiftNet", after)
    model.load_state_dict(best["state"])
    logger.info(
        "Adaptation kept step %d of %d (held-back objective %.4f, un-adapted %.4f)",
        best["step"], config.steps, best["loss"], curve[0]["held_back_loss"],
    )  # fmt: skip
    return {"steps": config.steps, "kept_step": best["step"], "curve": curve}


def _held_loss(
    model: LiftNet, flow: PoseFlow, held: Tensors, training: LiftTrainingConfig, config: AdaptConfig
) -> float:
    """The objective on the held-back poses, in eval mode, with a fixed draw of virtual views
    (several, so that one unlucky draw does not decide)."""
    model.eval()
    total = 0.0
    draws = 4
    with torch.no_grad():
        for draw in range(draws):
            generator = torch.Generator().manual_seed(config.seed + 1000 + draw)
            terms = cycle_terms(model, flow, held, generator, training.losses, training.cycle)
            total += float(terms["total"])
    return round(total / draws, 5)


def adapt_model(model: LiftNet, user: Tensors, config: AdaptConfig, about: dict) -> LiftNet:
    """An adapted copy of a LiftNet loaded from its artifact
    (:func:`~epoch_kedro.models.artifacts.liftnet_from_artifact`), carrying its adapted prior,
    the same replay sample and the record of what it was adapted on (``about``: the inputs,
    as the caller names them), so that it can be saved, reused and adapted again."""
    data = getattr(model, "adaptation", None)
    if data is None:
        raise ValueError(
            "this LiftNet artifact carries no adaptation data (its 2D prior and a replay "
            "sample; artifacts trained before adaptation existed): retrain it with `make run`"
        )
    training = training_config({
        key: model.training_record[key]
        for key in ("model", "losses", "cycle", "noise", "dropout")
        if key in model.training_record
    })  # fmt: skip
    result = adapt_liftnet(
        model, flow_from_artifact(data["flow"]), user, data["replay"], training, config
    )
    adapted = result.model
    adapted.adaptation = adaptation_data(to_artifact(result.flow, "pose_flow"), data["replay"])
    earlier = getattr(model, "adapted", None)
    adapted.adapted = {**about, **result.record, **({"earlier": earlier} if earlier else {})}
    return adapted


def adapt_keypoints(
    model: LiftNet,
    keypoints_px: np.ndarray,
    K: np.ndarray,
    gravity: np.ndarray | None = None,
    present: np.ndarray | None = None,
    steps: int | None = None,
    config: AdaptConfig | None = None,
    about: dict | None = None,
) -> LiftNet:
    """A copy of ``model`` adapted to these 2D poses without 3D labels (docs/ADAPTATION.md);
    lift them with it afterwards (:func:`~epoch_kedro.api.lift`, whose inputs these are: one
    person's poses over a recording, every camera of it, as many as you have, at least
    ``config.min_poses``); ``steps`` overrides ``config.steps``; ``about`` is kept in the
    adapted model's record (say what the poses were). Save it with
    :func:`~epoch_kedro.models.artifacts.save_liftnet`.

    ``model`` must come from :func:`~epoch_kedro.models.artifacts.load_liftnet` of an artifact
    that carries adaptation data (``make run`` writes them); ``ValueError`` (one line)
    otherwise and on bad inputs.
    """
    config = config or AdaptConfig()
    if steps is not None:
        config = replace(config, steps=int(steps))
    inputs = checked_inputs(model, keypoints_px, K, gravity, present)
    about = {"poses": len(inputs["pose2d"]), **(about or {})}
    return adapt_model(model, inputs, config, about).to(next(model.parameters()).device)
