"""Optimization runs: asking for suggestions and following their progress."""
