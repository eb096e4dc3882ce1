"""The evaluation report: per-sample predictions, tables, figures and a self-contained HTML page.

Figures are pure functions returning :class:`matplotlib.figure.Figure` (no pyplot state, so they
work headless and in notebooks alike); tables are :class:`pandas.DataFrame`; :mod:`.html` turns
both into one page with the images embedded.
"""
