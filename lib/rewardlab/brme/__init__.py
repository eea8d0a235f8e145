"""Yan et al. 2024: Bayesian reward-model ensembles (BRME) and reward-robust RLHF."""
