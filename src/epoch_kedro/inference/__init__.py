"""Inference: the trained networks run on new data, with no training code and no losses.

- :mod:`~epoch_kedro.inference.lifting`: LiftNet's inputs from (2D, K, gravity) and its
  batched forward pass;
- :mod:`~epoch_kedro.inference.regnet`: the localiser and RegNet on frames and person crops
  (box, crop, flip test, refinement);
- :mod:`~epoch_kedro.inference.images`: image files to frames and crops, and the whole
  image -> 2D + camera -> 3D path used by ``epoch-kedro predict``.
"""
