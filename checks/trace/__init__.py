"""Run the model once on a concrete input and record what executes: probes measure behaviour, not
declarations.

One forward pass (batch 2, fixed seed, eval mode) runs under module forward hooks plus a
`torch.overrides.TorchFunctionMode` (`record`), so functional calls (`F.relu`, `F.conv2d`, ...),
tensor methods (`x.relu()`), hand-written modules and data-dependent control flow are all seen as
they run; nothing is traced symbolically and no class name is trusted.

Layers are what the learnable parameters do: a conv, linear, matmul/`@`/einsum/addmm or unfold +
matmul whose weight operand is one of the model's parameters is a weight layer; one whose operand is
a constant (made in forward, or a buffer) is arithmetic and belongs to the surrounding region. A
layer is classified by the linear map it computes: a convolution with one output position whose
kernel covers its whole input map (fc6 as a 6x6 conv over pool5, a 1x1 conv on a 1x1 map) is a
dense layer; grouping is which inputs reach which outputs; a bias is the parameter added right after
the product, however it is written (after a towers' concatenation, after layout steps, expanded
with `expand_as`; `bias`). A computation that draws random numbers and zeroes units with
one survivor scale is a dropout, however it is written. TorchScript modules are recorded at the
dispatcher level (`dispatch`); DataParallel, DDP, AveragedModel and torch.compile through the module
they wrap.

The raw op log is turned into a list of logical ops (`graph`, `towers`, `describe`):
- ops that do not contribute to the output (control-flow probes such as `if x.mean() > 0`) are
  dropped by backward reachability from the output;
- a module whose own `forward` does arithmetic (pow, sum, div, ...) and has no conv/linear inside
  (nor a pooling that changes the shape: a whole block in one module is read call by call),
  and a run of such arithmetic in a parent's forward, becomes one region that is classified by
  MEASURING its input/output relation: an elementwise activation (curve matched), a §3.3 response
  normalisation (fitted), or `other`;
- two conv (or linear) calls on slices of one tensor whose outputs are `torch.cat`ed become one
  logical layer (explicit two-tower form, §3.2) whose groups are measured from channel connectivity;
- where the units stop forming a chain (a region reads its input twice, or broadcasts a one-channel
  sum back over it), the smallest run reading one tensor and making one is joined into one region
  and measured as a function (`spans`); a region on a channels-last tensor is measured with its
  channels moved to axis 1 (`layout`); a region no measurement names carries its measured signature
  (`footprint`), unless it is a block computed by one function (a module or a TorchScript function doing
  ReLU, normalisation and pooling): that is split into its stages by measurement (`fused`);
- a `pad` right before a conv is folded into that conv's padding, its mode (zeros, reflect,
  replicate, circular) measured (`padding`);
- activations are classified by their measured response (`elementwise`), pools by their outputs
  (`pooling`), LRN parameters by a numerical fit of b = a / (k + alpha * sum a^2)^beta, alpha on the
  plain sum (`lrn_fit`), with the window of every channel measured by which channels move it
  (`window`), grouping by connectivity (`groups`).

Layers are named in execution order: conv1, conv2, ... and fc6, fc7, ... (extra ones continue).
"""
from __future__ import annotations

from .build import (
    build_trace,
    eval_mode,
    get_trace,
    get_train_trace,
    make_input,
    nonfinite_reason,
    one_thread,
    output_problem,
)
from .dispatch import unwrap
from .elementwise import classify_elementwise
from .groups import measure_groups
from .kinds import ACTIVATIONS, DROPOUTS, POOLS, Activation, OpKind, RawKind
from .lrn_fit import LrnFit, fit_lrn
from .ops import Detail, Op, Trace
from .replay import replay  # the function; it shadows the submodule of the same name on the package

__all__ = ["Op", "Trace", "Detail", "get_trace", "get_train_trace", "build_trace", "classify_elementwise", "fit_lrn",
           "measure_groups", "make_input", "unwrap", "nonfinite_reason", "output_problem", "replay", "one_thread",
           "eval_mode", "ACTIVATIONS", "POOLS",
           "DROPOUTS", "OpKind", "RawKind", "Activation", "LrnFit"]
