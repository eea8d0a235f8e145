"""Gao et al. 2022's over-optimisation harness: gold and proxy against sqrt(KL) for best-of-n and PPO,
for proxies trained on more or less preference data; their functional forms fitted with bootstrap
intervals (fits), the runs (study) and the declared claims (claims)."""
