"""Koo et al. 2025: explainable dense reward shaping (SHAP, LIME, attention) tuned by Bayesian optimisation."""
