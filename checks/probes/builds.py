"""PCA lighting drawn once per run: an offset fixed across calls that changes from build to build (§4.1).

A lighting step whose alpha is drawn in its constructor and never again gives every image of a run
the same colour shift: across the calls of one transform it is a constant, indistinguishable from
a mean subtraction. Built again (under another seed) it draws another. So the steps of a copy of
the transform are built again, each with the arguments it keeps as attributes of the same names
(`self.std = std`), under one seed per build: a step whose construction draws random numbers (the
global torch, numpy or random state moves) is rebuilt that way, and the block image is read once
per build. Offsets that move from build to build and are shared by every pixel and colour are
lighting drawn once per run; nothing else of the transform changes between the builds.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any

from .imaging import Adapted, _rng_guard
from .lighting import IMAGES, _draw, _reseed, images, transform_steps

BUILDS = 16  # builds read (one seeded draw each)


def _arguments(obj: Any) -> dict[str, Any] | None:
    """The constructor arguments obj keeps as attributes of the same names (None when a required one is not kept)."""
    try:
        params = list(inspect.signature(type(obj).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    out: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in getattr(obj, "__dict__", {}):
            out[p.name] = obj.__dict__[p.name]
        elif p.default is p.empty:
            return None
    return out


def _states() -> tuple[Any, ...]:
    import random

    import numpy as np
    import torch

    state = np.random.get_state(legacy=False)["state"]
    return bytes(torch.get_rng_state().numpy()), random.getstate(), state["key"].tobytes(), state["pos"]


def _drawing_steps(tf: Any, seed: int) -> list[tuple[Any, dict[str, Any]]]:
    """Steps of tf (a copy) whose construction draws random numbers, with their arguments."""
    found = []
    for obj in transform_steps(tf):
        if isinstance(obj, type) or type(obj).__init__ is object.__init__ or inspect.isroutine(obj):
            continue
        args = _arguments(obj)
        if args is None:
            continue
        _reseed(seed)
        before = _states()
        try:
            type(obj).__init__(obj, **args)
        except Exception:  # a constructor that cannot run again: not rebuilt, the step keeps its state
            continue
        if _states() != before:
            found.append((obj, args))
    return found


def per_run(tf: Any, colour: dict[str, Any], seed: int, size: tuple[int, int]) -> tuple[list[dict], str]:
    """One draw per build of the steps that draw random numbers when built (each rebuilt under its own seed),
    and what was rebuilt; ([], "") when no step draws at construction."""
    from .draws import seeded_grids

    try:
        mine = copy.deepcopy(tf)
    except (TypeError, copy.Error, RuntimeError):
        return [], ""
    run = mine if isinstance(mine, Adapted) else tf
    out: list[dict] = []
    with _rng_guard():
        steps = _drawing_steps(mine, seed)
        if not steps:
            return [], ""
        imgs = images(*size)
        for b in range(BUILDS):
            _reseed(seed * 104729 + b)
            for obj, args in steps:
                type(obj).__init__(obj, **args)
            try:
                out.append(_draw(seeded_grids(run, imgs, IMAGES, seed), colour, size))
            except ValueError:
                return [], ""
    return out, ", ".join(dict.fromkeys(type(obj).__name__ for obj, _ in steps))
