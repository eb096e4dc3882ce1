"""Datasets: the embedded synthetic generator, real-format loaders, export and validation."""
