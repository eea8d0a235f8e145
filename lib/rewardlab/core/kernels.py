"""One set of CPU kernels on every x86 machine, so that the same seed gives the same numbers on any of them.

torch, MKL and oneDNN pick their kernels at start from the CPU they find: AVX-512 where it exists, AVX2
otherwise. The kernels round differently, and PPO turns a difference in the 6th digit into other runs.
Measured (issue 25): notebook 01 re-run on an AVX-512 machine trained an SFT policy whose final loss was
1.998050 against the committed run's 1.998047, and every later number moved with it. With the variables
below set before torch loads, the same AVX-512 machine reproduced all 17 of the committed notebook 01 metrics
exactly. (Notebook 08's BO proposals differed for another reason, found later in issue 25: the GP read a
batch's trials in the order the workers finished them; :mod:`rewardlab.shaping.bo` now reads them in index
order.) The pin has a price on AVX-512 machines: notebook 10 took 27.8 minutes pinned against 18.0, and a
reward model's epoch over 64,000 pairs 163-174 s.

The thread count is pinned too (``OMP_NUM_THREADS=2``, the 2-core reference machine's default). A matrix
product split over another number of threads adds its partial sums in another order: measured here, 30
reward-model training steps at one thread and at two ended with weights 2.6e-5 apart, so a 16-core machine
running 16 threads would not reproduce a 2-core machine's numbers even with the same kernels. PPO's forked
workers set their own count (one thread each, :func:`rewardlab.rl.runs.torch_threads`), which is fixed by the
preset, not by the machine.

numpy and scipy choose their kernels from the CPU as well: their OpenBLAS (SkylakeX kernels on AVX-512, Haswell on
AVX2) and numpy's own vector loops (exp, log, sums). Measured: a fresh clone on an AVX2-only machine reproduced
notebook 07's 470 metrics exactly, but notebook 08's first model-guided BO proposal, made from the same four
trials, moved by 3e-5 (SHAP weight 0.081421 against the committed 0.081391), and the study diverged from there;
replaying that proposal on one machine with ``OPENBLAS_CORETYPE`` Haswell, Sandybridge and Nehalem gives three
different proposals. ``OPENBLAS_CORETYPE=Haswell`` and numpy's AVX-512 groups switched off
(``NPY_DISABLE_CPU_FEATURES``) give every AVX2 machine the same kernels; both are read when numpy loads, so
``import rewardlab`` has to come before numpy too. Every run records them (``library_kernels``).

``import rewardlab`` sets them with ``setdefault``, so a value already in the environment wins: for example
``ATEN_CPU_CAPABILITY=avx512`` for speed, at the price of numbers that only the same kind of machine
reproduces. The capability in effect is recorded with every run (:mod:`rewardlab.core.provenance`) and
enters every artifact's cache key (:func:`rewardlab.core.artifacts.entry_key`), so artifacts built with
other kernels are never mixed in.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import MutableMapping

PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
          "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "2",
          # numpy's and scipy's OpenBLAS, and numpy's own vector loops (numpy >= 2.4 names its AVX-512 groups so)
          "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}


def pin_cpu_kernels(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set every :data:`PINNED` variable that is not set yet; returns the values in effect. Warns when torch
    was imported before, since then its kernels were already chosen."""
    early = [name for name in ("torch", "numpy") if name in sys.modules]
    if early and any(name not in environ for name in PINNED):
        warnings.warn(f"{' and '.join(early)} imported before rewardlab, so their CPU kernels are not pinned and "
                      "their numbers may differ from another machine's; import rewardlab first (or set the "
                      "variables in rewardlab.core.kernels.PINNED in the environment)", stacklevel=3)
    return {name: environ.setdefault(name, value) for name, value in PINNED.items()}


def library_kernels() -> str:
    """The kernels numpy and the loaded BLAS libraries use in this process, e.g. ``numpy X86_V3; openblas
    Haswell``: numpy's highest enabled dispatch target and each BLAS's architecture (threadpoolctl)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    from threadpoolctl import threadpool_info

    enabled = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    blas = sorted({f"{lib['internal_api']} {lib.get('architecture')}" for lib in threadpool_info()
                   if lib.get("user_api") == "blas"})
    return "; ".join([f"numpy {enabled[-1] if enabled else 'baseline'}", *blas])


def pinned_environment(environ: MutableMapping[str, str] = os.environ) -> dict[str, str | None]:
    """The :data:`PINNED` variables as ``environ`` holds them: what an artifact's cache key records."""
    return {name: environ.get(name) for name in PINNED}


def cpu_capability() -> str:
    """The kernel family torch uses in this process (``AVX2``, ``AVX512``, ``DEFAULT``, ...)."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def cpu_threads(environ: MutableMapping[str, str] = os.environ) -> str:
    """The torch thread count the run was started with (``OMP_NUM_THREADS``; the machine's cores where unset).

    Read from the environment, not from ``torch.get_num_threads()``, so that a forked one-thread PPO worker
    names the same count as the process that forked it."""
    return environ.get("OMP_NUM_THREADS") or str(os.cpu_count())
