"""Inference: the trained networks run on new data, with no training code and no losses.

- :mod:`~epoch_kedro.inference.lifting`: LiftNet's input tensors (from
  :mod:`epoch_kedro.liftnet_inputs`) and its batched forward pass;
- :mod:`~epoch_kedro.inference.regnet`: the localiser and RegNet on frames and person crops
  (box, crop, flip test, refinement);
- :mod:`~epoch_kedro.inference.images`: image files through the localiser and RegNet, the whole
  image -> 2D + camera -> 3D path used by ``epoch-kedro predict``.
"""
