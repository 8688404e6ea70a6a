"""Build hook: ship the top-level paper_spec.yaml inside the package as a real file.

The spec has one source of truth, the repository's `paper_spec.yaml`; a wheel gets a copy at
build time, and a checkout (editable install) reads the top-level file directly.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithSpec(build_py):
    def run(self) -> None:
        super().run()
        dest = Path(self.build_lib) / "alexnet_audit" / "paper_spec.yaml"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(__file__).parent / "paper_spec.yaml", dest)


setup(cmdclass={"build_py": BuildPyWithSpec})
