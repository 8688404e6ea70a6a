"""Measure a layer's grouping from channel connectivity (§3.2: the two-GPU layers connect each
output channel to only half of the input channels)."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch


class Groups(NamedTuple):
    groups: int | str  # g equal diagonal blocks, or "irregular"
    blocks: list[list[int]]  # irregular only: per distinct input pattern, [first_in, last_in, first_out, last_out]


class _Block(NamedTuple):
    first_in: int
    last_in: int
    first_out: int
    last_out: int


def measure_groups(fn: Callable[[torch.Tensor], torch.Tensor], c_in: int, spatial: tuple[int, ...],
                   dtype: torch.dtype = torch.float32) -> Groups:
    """Which input channels influence which output channels: perturb one input channel per sample.

    Returns (groups, blocks): groups is g when the connectivity is g equal diagonal blocks, else
    'irregular'; blocks lists, per distinct input pattern, [first_in, last_in, first_out, last_out].
    """
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        x = torch.zeros((c_in, c_in, *spatial), dtype=dtype)
        pattern = 1e3 * torch.randn((c_in, *spatial), generator=gen, dtype=dtype)
        x[torch.arange(c_in), torch.arange(c_in)] = pattern
        y = fn(x)
        y0 = fn(torch.zeros((1, c_in, *spatial), dtype=dtype))
    d = (y - y0).abs().flatten(2).amax(2)  # (c_in, c_out)
    # unconnected pairs give exactly 0 (the computation never touches them); the large input keeps
    # every connected product far above the rounding of the bias
    conn = (d > 0).T  # (c_out, c_in)
    c_out = conn.shape[0]
    # the largest g whose block-diagonal holds every connection (pairs outside the blocks are exactly
    # unconnected) and is itself densely connected (an exactly-zero weight may leave a hole)
    o_idx, i_idx = torch.arange(c_out), torch.arange(c_in)
    for g in sorted((g for g in range(1, math.gcd(c_in, c_out) + 1) if c_in % g == 0 and c_out % g == 0),
                    reverse=True):
        mask = (o_idx // (c_out // g))[:, None] == (i_idx // (c_in // g))[None, :]
        if not bool((conn & ~mask).any()) and float(conn[mask].float().mean()) >= 0.9:
            return Groups(g, [])
    uniq, inverse = torch.unique(conn, dim=0, return_inverse=True)
    blocks: list[_Block] = []
    for j in range(min(len(uniq), 16)):
        ins = torch.nonzero(uniq[j]).flatten()
        outs = torch.nonzero(inverse == j).flatten()
        blocks.append(_Block(int(ins[0]) if len(ins) else -1, int(ins[-1]) if len(ins) else -1,
                             int(outs[0]), int(outs[-1])))
    return Groups("irregular", [list(b) for b in sorted(blocks, key=lambda b: b.first_out)])
