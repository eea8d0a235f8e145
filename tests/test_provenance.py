"""Which code produced a run: module files, the source hash, the commit, and SUMMARY.md's use of them."""
import json
import re

import pytest

from rewardlab.core import provenance as P
from rewardlab.reporting import summary


def _library(tmp_path):
    library = tmp_path / "rewardlab"
    (library / "core").mkdir(parents=True)
    (library / "__init__.py").write_text("")
    (library / "core" / "__init__.py").write_text("")
    (library / "core" / "stats.py").write_text("x = 1\n")
    (library / "brme.py").write_text("y = 2\n")
    return library


def test_module_files_and_the_hash_follow_the_source(tmp_path):
    library = _library(tmp_path)
    assert P.module_file("rewardlab.core", library) == library / "core" / "__init__.py"
    assert P.module_file("rewardlab.core.stats", library) == library / "core" / "stats.py"
    with pytest.raises(ValueError, match="not a rewardlab module"):
        P.module_file("numpy.linalg", library)
    used = ["rewardlab.core.stats", "rewardlab"]
    before = P.source_hash(used, library)
    assert before == P.source_hash(list(reversed(used)), library)  # order does not matter
    (library / "brme.py").write_text("y = 3\n")  # a module the run never loaded
    assert P.source_hash(used, library) == before
    (library / "core" / "stats.py").write_text("x = 2\n")  # one it did
    assert P.source_hash(used, library) != before
    (library / "core" / "stats.py").unlink()
    assert P.source_hash(used, library) not in (before, P.source_hash(["rewardlab"], library))


def test_docstrings_and_comments_do_not_change_the_code_hash_and_older_byte_hashes_still_compare(tmp_path):
    library = _library(tmp_path)
    stats = library / "core" / "stats.py"
    stats.write_text('"""Statistics."""\n\n\ndef mean(x):\n    """The mean."""\n    return sum(x) / len(x)  # exact\n')
    used = ["rewardlab.core.stats"]
    code, old_style = P.source_hash(used, library), P.source_hash(used, library, kind="bytes")
    assert code.startswith("code1:") and ":" not in old_style
    stats.write_text('"""Statistics, corrected."""\n# a comment\n\ndef mean(x):\n    """The arithmetic mean."""\n'
                     '    return sum(x) / len(x)\n')
    assert P.source_hash(used, library) == code and P.same_code(code, used, library)
    assert not P.same_code(old_style, used, library)  # a byte hash sees every edit, as it always did
    stats.write_text('"""Statistics."""\n\n\ndef mean(x):\n    """The mean."""\n    return sum(x) / (len(x) + 1)\n')
    assert not P.same_code(code, used, library)  # the code changed
    text = 'x = "a string value"\nprint("also kept")\n'
    assert b"a string value" in P.code_tokens(text.encode()) and b"also kept" in P.code_tokens(text.encode())
    with pytest.raises(ValueError, match="unknown library hash kind"):
        P.source_hash(used, library, kind="ast")


def test_this_process_knows_its_modules_and_its_commit(tmp_path):
    modules = P.loaded_modules()
    assert "rewardlab.core.provenance" in modules and all(m.startswith("rewardlab") for m in modules)
    commit = P.git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(\+changes)?", commit)
    assert P.git_commit(tmp_path) is None  # not a git checkout
    record = P.provenance()
    assert record["library_hash"] == P.source_hash(record["library_modules"])


def test_summary_flags_a_run_whose_library_code_changed_and_lists_untraced_runs(tmp_path):
    from rewardlab.core.versions import current_versions

    modules = ["rewardlab.core.stats"]
    runs = {"03_tree_structured_preferences": P.source_hash(modules),  # the code it used is unchanged
            "04_bayesian_reward_ensembles": "0" * 64,  # the code changed since it ran
            "05_token_attribution": None}  # recorded before runs recorded their code
    for stem, code_hash in runs.items():
        payload = {"notebook": stem, "preset": "tiny", "seed": 0, "smoke": False, "metrics": {},
                   "versions": current_versions()}
        if code_hash:
            payload.update(commit="abcdef1234567890", library_modules=modules, library_hash=code_hash)
        (tmp_path / f"{stem}.metrics.json").write_text(json.dumps(payload))
    assert summary.outdated_runs(tmp_path) == [("04_bayesian_reward_ensembles",
                                                "library code changed since commit abcdef123456")]
    assert summary.untraced_runs(tmp_path) == ["05_token_attribution"]


def test_a_metrics_record_names_the_versions_of_the_packages_that_move_numbers():
    import torch

    from rewardlab.core.provenance import NUMBER_PACKAGES, package_versions, provenance

    packages = provenance()["packages"]
    assert set(packages) == set(NUMBER_PACKAGES) and packages["torch"] == torch.__version__
    assert package_versions(["no-such-package-here"]) == {"no-such-package-here": None}
