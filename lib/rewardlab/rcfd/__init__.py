"""Rita et al. 2024: reward calibration from demonstrations (RCfD)."""
