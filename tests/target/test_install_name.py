"""The installed package imports as `alexnet_audit`, so a user's own `checks` package coexists with it.

The repository keeps its folder `checks/`; pyproject maps it to the import name `alexnet_audit`.
A project with a top-level `checks` package (a common name) must keep importing its own, and the
pytest plugin, the CLI and the packaged spec must still be ours.
"""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

USER_CHECKS = '''\
"""The user's own package named `checks`."""
OWNER = "user"
'''

USER_TEST = '''\
import checks


def test_own_checks_package_is_imported():
    assert checks.OWNER == "user"
'''


def test_user_checks_package_and_paper_target_coexist(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("checks").joinpath("__init__.py").write_text(USER_CHECKS, encoding="utf-8")
    pytester.makepyfile(test_mine=USER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly",
                                           "--paper-target=reference", "-k", "mine or lrn.k or lrn.size", "-rA")
    out = result.stdout.str() + result.stderr.str()
    assert "cannot read spec" not in out
    result.assert_outcomes(passed=3)
    assert "test_own_checks_package_is_imported PASSED" in out or "PASSED test_mine.py" in out


def test_cli_runs_beside_a_user_checks_package(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "__init__.py").write_text(USER_CHECKS, encoding="utf-8")
    exe = Path(sys.executable).with_name("alexnet-audit")
    proc = subprocess.run([str(exe), "list", "items"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "lrn.k" in proc.stdout


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    """pyproject lists the packages explicitly (the folder and import names differ): none may be missing."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = {v: k for k, v in config["package-dir"].items()}
    found = set()
    for init in sorted((REPO / "checks").rglob("__init__.py")) + sorted((REPO / "alexnet_ref").rglob("__init__.py")):
        rel = init.parent.relative_to(REPO).parts
        found.add(".".join((mapping[rel[0]], *rel[1:])))
    assert found <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"


@pytest.mark.slow
def test_wheel_ships_the_spec_as_a_real_file(tmp_path: Path) -> None:
    """A wheel holds alexnet_audit/paper_spec.yaml, a copy of the top-level spec (not a link)."""
    import zipfile

    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("alexnet_audit-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "alexnet_audit/paper_spec.yaml" in names
        assert not any(n.startswith("checks/") for n in names)
        assert zf.read("alexnet_audit/paper_spec.yaml") == (REPO / "paper_spec.yaml").read_bytes()
