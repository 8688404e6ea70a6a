"""Re-run recorded calls on new inputs: every measurement feeds crafted tensors through the very
calls the model made, so what is measured is what executed."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .record import Rec, flat


def _sub(obj: Any, env: dict[int, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        return env.get(id(obj), obj)
    if isinstance(obj, torch.Size):
        return obj
    if isinstance(obj, list):
        return [_sub(o, env) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_sub(o, env) for o in obj)
    if isinstance(obj, dict):
        return {k: _sub(v, env) for k, v in obj.items()}
    return obj


def replay(recs: list[Rec], env: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    """Run recs again with the tensors whose ids are in env replaced; returns the extended env
    (recorded tensor id -> its new value)."""
    env = dict(env)
    for r in recs:
        out = r.func(*_sub(r.args, env), **_sub(r.kwargs, env))
        for old, new in zip(flat(r.out), flat(out), strict=False):
            env[id(old)] = new
    return env


def replayer(recs: list[Rec], in_id: int, out_id: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """recs as a function of one tensor: the one with id in_id in, the one with id out_id out."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return replay(recs, {in_id: x.clone()})[out_id]
    return fn
