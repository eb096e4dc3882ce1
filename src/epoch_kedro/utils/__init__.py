"""Small shared utilities: atomic file writes, progress bars, devices and seeds."""
