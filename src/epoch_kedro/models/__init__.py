"""Neural networks (``nn.Module``s, no I/O): the 2D pose flow prior and LiftNet."""
