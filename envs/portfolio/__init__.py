"""Portfolio selection: a non-grid constrained optimization family (minimum-variance, factor model)."""
