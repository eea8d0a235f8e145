"""Qiu et al. 2024: tree-structured preference data."""
