"""Training: one generic loop, checkpoints, and the losses of each model."""
