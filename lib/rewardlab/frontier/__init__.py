"""One gold-against-KL frontier of every defence against over-optimisation (notebook 11).

Above the idea packages: it uses rcfd, brme, shaping, gao and rl, and none of them imports it. ``arms`` builds the
rewards of one proxy family per replicate, ``curves`` reads runs on the gold-against-√KL plane, ``study`` runs the
grid and records the metrics, ``claims`` declares the contrasts."""
