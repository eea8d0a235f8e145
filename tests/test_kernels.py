"""The CPU kernels are pinned before torch loads, recorded with every run, and part of every cache key."""
import subprocess
import sys

import pytest

from rewardlab.core import artifacts, kernels


def _capability(*imports: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = "; ".join([*imports, "import torch", "print(torch.backends.cpu.get_cpu_capability())"])
    clean = {k: v for k, v in __import__("os").environ.items() if k not in kernels.PINNED}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **(env or {})},
                          check=True, timeout=120)


def test_import_rewardlab_pins_the_kernels_and_an_explicit_choice_wins():
    assert _capability("import rewardlab").stdout.strip() in ("AVX2", "DEFAULT")  # DEFAULT on a CPU without AVX2
    assert _capability("import rewardlab", env={"ATEN_CPU_CAPABILITY": "default"}).stdout.strip() == "DEFAULT"


def test_pinning_only_fills_what_is_unset_and_warns_when_torch_came_first(monkeypatch):
    environ = {"MKL_CBWR": "COMPATIBLE"}
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    assert kernels.pin_cpu_kernels(environ) == {**kernels.PINNED, "MKL_CBWR": "COMPATIBLE"}
    monkeypatch.setitem(sys.modules, "torch", object())
    with pytest.warns(UserWarning, match="torch imported before rewardlab"):
        kernels.pin_cpu_kernels({})
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.setitem(sys.modules, "numpy", object())
    with pytest.warns(UserWarning, match="numpy imported before rewardlab"):
        kernels.pin_cpu_kernels({})
    kernels.pin_cpu_kernels(dict(kernels.PINNED))  # all set by the caller: nothing to warn about


def test_the_kernels_and_the_thread_count_enter_the_cache_key(monkeypatch):
    key = artifacts.entry_key({"a": 1}, 1)
    monkeypatch.setattr(artifacts, "cpu_capability", lambda: "AVX512")
    assert artifacts.entry_key({"a": 1}, 1) != key
    monkeypatch.setattr(artifacts, "cpu_capability", lambda: "AVX2")
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    assert artifacts.entry_key({"a": 1}, 1) != key


def test_import_rewardlab_pins_two_torch_threads_whatever_the_cores_and_an_explicit_count_wins():
    code = "import rewardlab, torch; from rewardlab.core.kernels import cpu_threads; print(torch.get_num_threads(), cpu_threads())"
    clean = {k: v for k, v in __import__("os").environ.items() if k not in kernels.PINNED}

    def threads(env: dict) -> list[str]:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env},
                              check=True, timeout=120).stdout.split()
    assert threads({}) == ["2", "2"]
    assert threads({"OMP_NUM_THREADS": "1"}) == ["1", "1"]


def test_import_rewardlab_pins_numpy_and_openblas_and_a_run_records_them():
    code = ("import rewardlab, numpy, scipy.linalg; from rewardlab.core.kernels import library_kernels; "
            "print(library_kernels())")
    clean = {k: v for k, v in __import__("os").environ.items() if k not in kernels.PINNED}
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean, check=True,
                          timeout=120).stdout.strip()
    assert said.startswith("numpy ") and "X86_V4" not in said and "AVX512" not in said
    assert "openblas Haswell" in said and "SkylakeX" not in said, said


def test_numpy_or_blas_kernels_that_differ_are_named_in_the_reproduction_report():
    from rewardlab.reporting.reproduction import provenance_differences
    said = provenance_differences({"library_kernels": "numpy X86_V4; openblas SkylakeX"},
                                  {"library_kernels": "numpy X86_V3; openblas Haswell"})
    assert said == ["numpy/BLAS kernels numpy X86_V4; openblas SkylakeX → numpy X86_V3; openblas Haswell"]
