"""Metrics and evaluation of 3D poses and cameras."""
