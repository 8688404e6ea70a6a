"""Where a smoke run happens: the device, its name and dense peak, the versions, CPU memory.

torch is imported inside the functions, so that importing the package stays cheap.
"""
from __future__ import annotations

import contextlib
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import UsageError

if TYPE_CHECKING:
    import torch

# Dense (no sparsity) peak TFLOP/s from NVIDIA's data sheets. First match of the substring in
# torch.cuda.get_device_name() wins; None means "not known" (peak_share is then null).
PEAK_TFLOPS: list[tuple[str, dict[str, float] | None]] = [
    ("H100 NVL", None),
    ("H100 PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),  # SXM5
    ("H200", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),  # same SMs and clocks as H100 SXM
    ("A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
]


def peak_tflops(device_name: str, basis: str) -> float | None:
    """The device's dense peak for `basis` (bf16, tf32, fp32), or None when unknown."""
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return None if peaks is None else peaks.get(basis)
    return None


def peak_basis(amp: str, is_cuda: bool) -> str:
    """The number format a peak is quoted in: bf16 under autocast, TF32 when cuDNN may use it, else FP32."""
    import torch

    if amp == "bf16":
        return "bf16"
    if is_cuda and torch.backends.cudnn.allow_tf32:
        return "tf32"
    return "fp32"


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without CUDA is a usage error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("CUDA is not available on this machine (use --device cpu or auto)")
        dev = torch.device(device)
        return torch.device("cuda", torch.cuda.current_device() if dev.index is None else dev.index)
    if device == "cpu":
        return torch.device("cpu")
    raise UsageError(f"unknown device {device!r} (auto, cuda or cpu)")


def device_name(dev: torch.device) -> str:
    """The GPU's marketing name, or the CPU model and the threads torch uses."""
    import torch

    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"cpu: {cpu} ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str | None]:
    """torch, torchvision and CUDA versions: throughput means little without them."""
    import torch

    try:
        import torchvision

        tv: str | None = torchvision.__version__
    except Exception:
        tv = None
    return {"torch": torch.__version__, "torchvision": tv, "cuda": torch.version.cuda}


class CpuMemory:
    """Peak RSS growth of this process from construction on.

    Linux: VmHWM after resetting it through /proc/self/clear_refs. Elsewhere getrusage's
    ru_maxrss, which cannot be reset, so an earlier, higher peak of the process hides this run's.
    """

    def __init__(self) -> None:
        self.start = self._status("VmRSS")
        self.resettable = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.resettable = True
        except OSError:
            pass
        if self.start is None:
            self.start = self._maxrss()

    @staticmethod
    def _status(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return None

    @staticmethod
    def _maxrss() -> int | None:
        try:
            import resource

            v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return v if sys.platform == "darwin" else v * 1024
        except Exception:
            return None

    def peak_growth(self) -> int | None:
        peak = self._status("VmHWM") if self.resettable else None
        if peak is None:
            peak = self._maxrss()
        if peak is None or self.start is None:
            return None
        return max(0, peak - self.start)
