"""Training smoke run: does the target train, and how fast, on synthetic data.

One fixed synthetic batch lives on the device (fixed seed, unit-variance N(0, 1) input of the
target's input_size, labels uniform over num_classes). The model is trained on it in train mode for
`steps` steps with the target's optimizer, scheduler and loss where it gives them (else the paper's
§5 recipe, read from the Spec the caller passes: SGD lr 0.01, momentum 0.9, weight decay 5e-4,
cross-entropy; `recipe="paper"` always uses the paper's). Nothing is downloaded.

How each JSON field is measured (`FIELDS` is the exact set of top-level keys):

- `initial_loss`: loss of the first step, before any update (train mode, so dropout is active).
  With the §5 init on unit-variance input a 1000-way AlexNet gives about 7.7-8.4 (logits std ~1.4
  because of the constant-1 biases); more than `INIT_LOSS_MARGIN` away from `ln_num_classes`
  (the loss of a uniform prediction), or NaN, says the init or the input scaling is broken.
- `loss_curve`: the loss of every step (before that step's update); `final_loss` is its last value.
- `loss_falls`: the mean of the last quarter of the curve (1 to 5 steps) is below
  `FALL_RATIO` (0.75) x min(initial_loss, ln_num_classes).
- `params_without_grad`: parameters whose .grad is None, non-finite or all zero after the first
  backward (names in `problems`).
- `nonfinite`: NaN/Inf in any step's loss or outputs, or in the gradients of the first and last
  steps (a NaN gradient anywhere else makes the next step's outputs NaN, so it is caught too).
- `images_per_second`: images of the timed steps / their wall time; the first `warmup` steps
  (default min(3, steps // 4), at least 1) are excluded. CUDA: `torch.cuda.Event` pair around
  the timed steps; CPU: `time.perf_counter`. Under DDP: global images (batch x world) / the
  slowest rank's time.
- `peak_memory_bytes`: CUDA: `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`
  at the start of the run (model, optimizer state, data, activations; not the caching allocator's
  reserve). CPU: growth of the process's peak RSS over its RSS at the start of the run.
- `flops_per_image`: `torch.utils.flop_counter.FlopCounterMode` on ONE forward pass at batch 1
  (eval mode, no grad; a multiply-add counts 2). Forward only: a training step costs about 3x
  (backward ~2x forward), which `achieved_tflops` = 3 x flops_per_image x images_per_second / 1e12
  assumes.
- `peak_share`: achieved_tflops / the device's dense peak (`PEAK_TFLOPS`; bf16 with `amp="bf16"`,
  else TF32 when cuDNN may use it for convolutions, PyTorch's default, else FP32); null on CPU and
  on GPUs not in the table.
- `device`, `dtype`, `steps`, `batch_size` (per process), `versions` (torch, torchvision, cuda).
- Also: `target`, `recipe` (what was built, the lr scaling), `options`, `notes`, `problems`
  (one line each) and `verdict` ("ok" or "fail").

The default batch is the recipe's (paper: 128) on CUDA and 8 on CPU; the lr follows the global
batch (`recipe` module). The scheduler is stepped once per step (one step = one "epoch" of the
one-batch data set).

Modules: `options` (the one definition of the options), `recipe`, `loop`, `judge`, `devices`,
`result`, `output`, `ddp`, `command`. Importing the package imports neither torch nor the spec.
"""
from __future__ import annotations

from .command import smoke_command
from .ddp import run_ddp
from .devices import PEAK_TFLOPS, CpuMemory, device_name, peak_basis, peak_tflops, resolve_device, versions
from .failure import SmokeFailure
from .fallback import CPU_DEFAULT_BATCH, PaperRecipe, RecipeInfo
from .loop import run_smoke
from .options import CommandOptions, SmokeOptions, add_arguments, add_command_arguments, default_warmup
from .output import markdown, plot_curve, slug, summary_line, write_json, write_markdown
from .result import FIELDS, Measurement, build_result
from .verdict import FALL_RATIO, INIT_LOSS_MARGIN, MAX_TAIL, judge, loss_falls, tail_mean

__all__ = [
    "CPU_DEFAULT_BATCH",
    "FALL_RATIO",
    "FIELDS",
    "INIT_LOSS_MARGIN",
    "MAX_TAIL",
    "PEAK_TFLOPS",
    "CommandOptions",
    "CpuMemory",
    "Measurement",
    "PaperRecipe",
    "RecipeInfo",
    "SmokeFailure",
    "SmokeOptions",
    "add_arguments",
    "add_command_arguments",
    "build_result",
    "default_warmup",
    "device_name",
    "judge",
    "loss_falls",
    "markdown",
    "peak_basis",
    "peak_tflops",
    "plot_curve",
    "resolve_device",
    "run_ddp",
    "run_smoke",
    "slug",
    "smoke_command",
    "summary_line",
    "tail_mean",
    "versions",
    "write_json",
    "write_markdown",
]
