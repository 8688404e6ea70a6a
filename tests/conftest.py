"""Shared pytest hooks: tests marked `@pytest.mark.cuda` skip, with the reason, where CUDA is absent.

Kept import-light: torch is imported only when a collected test carries the `cuda` marker.
"""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("cuda") is not None]
    if not marked:
        return
    import torch

    if torch.cuda.is_available():
        return
    build = f"torch {torch.__version__}, built with CUDA {torch.version.cuda}" if torch.version.cuda else \
        f"torch {torch.__version__}, a CPU-only build"
    skip = pytest.mark.skip(reason=f"needs an NVIDIA GPU: torch.cuda.is_available() is False ({build})")
    for item in marked:
        item.add_marker(skip)
