"""A block computed by one function, split into its stages by measurement (issue 22): small models whose
ReLU, §3.3 normalisation and pooling run inside one module (or a TorchScript function), and regions no chain
of those steps reproduces, which stay `other` with the reason."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.trace import build_trace, one_thread
from alexnet_audit.trace.fused import decompose, pool_geometries
from alexnet_audit.trace.rebuild import explain_model

SIZE = (3, 24, 24)


def lrn(x, k=2.0):
    """The §3.3 normalisation by a cumulative sum over channels (n = 5, alpha 1e-4 on the plain sum)."""
    cs = F.pad(x * x, (0, 0, 0, 0, 3, 2)).cumsum(dim=1)
    return x / (k + 1e-4 * (cs[:, 5:] - cs[:, :-5])) ** 0.75


def pool(x, k=3, kind="max"):
    w = x.unfold(2, k, 2).unfold(3, k, 2)
    return w.amax(dim=(-2, -1)) if kind == "max" else w.mean(dim=(-2, -1))


class Block(nn.Module):
    """Steps of `order` in one forward: r = clamp, l = the LRN, p = pooling by unfold, t = tanh."""

    def __init__(self, order="rlp", k=3, kind="max"):
        super().__init__()
        self.order, self.k, self.kind = order, k, kind

    def forward(self, x):
        for s in self.order:
            x = {"r": lambda t: t.clamp(min=0), "l": lrn, "t": torch.tanh,
                 "p": lambda t: pool(t, self.k, self.kind)}[s](x)
        return x


class Net(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.c1, self.block, self.c2 = nn.Conv2d(3, 16, 3, padding=1), block, nn.Conv2d(16, 8, 3)

    def forward(self, x):
        return self.c2(self.block(self.c1(x))).flatten(1)


def _trace(model):
    torch.manual_seed(0)
    with one_thread():
        tr = build_trace(model.eval(), SIZE)
        return tr, explain_model(model, tr, SIZE)


def _between(tr):
    return [op.kind for op in tr.ops if not op.name and op.kind not in ("flatten", "reshape")]


@pytest.mark.parametrize("order, kinds", [("rlp", ["relu", "lrn", "maxpool"]), ("rl", ["relu", "lrn"]),
                                          ("rp", ["relu", "maxpool"]), ("lp", ["lrn", "maxpool"]),
                                          ("rpl", ["relu", "maxpool", "lrn"]), ("p", ["maxpool"])])
def test_a_block_in_one_module_is_split_into_its_measured_stages(order, kinds):
    tr, e = _trace(Net(Block(order)))
    assert _between(tr) == kinds
    assert e.ok and e.opaque == [], e
    ops = [op for op in tr.ops if op.kind in ("lrn", "maxpool")]
    for op in ops:
        assert "one function" in op.attrs["fused"] and op.module_path == "block"
    if "l" in order:
        n = next(op for op in ops if op.kind == "lrn").attrs
        assert (n["n"], n["k"], n["alpha"], n["beta"]) == (5, 2.0, 1e-4, 0.75)
    if "p" in order:
        p = next(op for op in ops if op.kind == "maxpool")
        assert (p.attrs["kernel_size"], p.attrs["stride"], p.attrs["type"]) == (3, 2, "max")
        assert p.in_shape[1:] == (16, 24, 24) and p.out_shape[1:] == (16, 11, 11)


def test_a_fused_block_reports_what_it_computes_not_the_paper():
    tr, e = _trace(Net(Block("rlp", k=2, kind="avg")))
    assert _between(tr) == ["relu", "lrn", "avgpool"] and e.ok
    p = tr.ops[3]
    assert (p.attrs["kernel_size"], p.attrs["stride"], p.attrs["type"]) == (2, 2, "avg")


def test_relu_and_lrn_in_one_module_keep_the_relu():
    """The LRN fit sees only non-negative inputs, where a ReLU is the identity: the sign response finds it."""
    tr, e = _trace(Net(Block("rl")))
    assert _between(tr) == ["relu", "lrn"] and e.ok


def test_no_chain_reproduces_it_then_it_stays_other_with_the_reason():
    tr, e = _trace(Net(Block("tlp")))  # tanh before the normalisation: not measurable through the tanh
    other = [op for op in tr.ops if op.kind == "other"]
    assert len(other) == 1 and "signature" in other[0].attrs
    assert "no §3.3 normalisation" in other[0].attrs["unsplit"] or "reproduces" in other[0].attrs["unsplit"]
    assert not e.ok and e.opaque


def test_decompose_says_why_not():
    def shuffle(x):  # mixes channels, but no normalisation: a channel roll, max-pooled
        return F.max_pool2d(x.roll(1, dims=1), 3, 2)
    why = decompose(shuffle, (1, 8, 12, 12), (1, 8, 5, 5), torch.float32)
    assert isinstance(why, str) and "normalisation" in why


def test_pool_geometries_are_those_that_give_the_sizes():
    geos = pool_geometries((55, 55), (27, 27))
    assert {"kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": False} in geos
    assert {"kernel_size": 2, "stride": 2, "padding": 0, "ceil_mode": False} in geos
    for g in geos:
        assert F.max_pool2d(torch.zeros(1, 1, 55, 55), g["kernel_size"], g["stride"], g["padding"],
                            ceil_mode=g["ceil_mode"]).shape[-1] == 27


def _block(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(F.local_response_norm(F.relu(x), 5, 5e-4, 0.75, 2.0), 3, 2)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* is deprecated in this torch
    _scripted = torch.jit.script(_block)


class ScriptedNet(Net):
    def __init__(self):
        super().__init__(nn.Identity())

    def forward(self, x):
        return self.c2(_scripted(self.c1(x))).flatten(1)


def test_a_torchscript_function_is_read_below_python():
    tr, e = _trace(ScriptedNet())
    assert [op.name for op in tr.ops if op.name] == ["conv1", "conv2"]
    assert _between(tr) == ["relu", "lrn", "maxpool"] and e.ok
