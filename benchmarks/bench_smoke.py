"""Training throughput of the reference AlexNet against torchvision's, in one process.

Both models run through `alexnet_audit.smoke.run_smoke` on the same device with the same settings: the
same synthetic fixed batch, the paper's optimizer (torch SGD 0.01 / 0.9 / 5e-4, so the optimizer
is identical and only the model differs), the same steps and warm-up. Two modes:

- fp32: float32, contiguous (NCHW) tensors, eager;
- the fastest GPU mode: bf16 autocast + channels_last (+ torch.compile with --compile). On a CPU
  without native bf16 (AVX2) this mode is slower than fp32; it is measured all the same.

A third row per mode, "reference without LRN", is the reference with its two response
normalisation layers replaced by nn.Identity (an ablation, not a model anyone should train): the
LRN share of the reference's step time is 1 - ips(reference) / ips(without LRN).

    python benchmarks/bench_smoke.py --device cpu --batch-size 16 --steps 6 --markdown reports/smoke-cpu.md
    python benchmarks/bench_smoke.py --device cuda --compile --markdown reports/smoke-h100.md

Defaults: batch 256 and 50 steps (5 warm-up) on CUDA; batch 16 and 6 steps (1 warm-up) on CPU.
Goals (GPU only): reference >= 0.8 x torchvision in the fastest mode, and >= 20,000
images/s on an H100 in the fastest mode.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RATIO_GOAL = 0.8
H100_GOAL = 20_000


def _targets() -> dict[str, Any]:
    import torch.nn as nn

    import alexnet_ref
    from alexnet_audit.target.record import from_object

    def no_lrn() -> nn.Module:
        m = alexnet_ref.alexnet(num_classes=1000)
        m.features.lrn1 = nn.Identity()
        m.features.lrn2 = nn.Identity()
        return m

    def tv() -> nn.Module:
        import torchvision

        return torchvision.models.alexnet(weights=None)  # never download weights

    return {
        "reference": from_object("reference", lambda: alexnet_ref.alexnet(num_classes=1000), "alexnet_ref.alexnet"),
        "torchvision": from_object("torchvision", tv, "torchvision.models.alexnet"),
        "reference without LRN": from_object("reference-no-lrn", no_lrn, "ablation"),
    }


def _loadavg() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--batch-size", type=int, default=None, help="default 256 on CUDA, 16 on CPU")
    p.add_argument("--steps", type=int, default=None, help="default 50 on CUDA, 6 on CPU")
    p.add_argument("--warmup", type=int, default=None, help="default 5 on CUDA, 1 on CPU")
    p.add_argument("--compile", action="store_true", help="add torch.compile to the fastest mode")
    p.add_argument("--no-ablation", action="store_true", help="skip the reference-without-LRN rows")
    p.add_argument("--markdown", type=Path, default=None, help="write the table here (reports/smoke-<device>.md)")
    args = p.parse_args(argv)

    from alexnet_audit.core.errors import UsageError
    from alexnet_audit.smoke import SmokeOptions, resolve_device, run_smoke, versions
    from alexnet_audit.spec.load import load_spec

    try:
        dev = resolve_device(args.device)
    except UsageError as exc:
        print(f"bench_smoke: error: {exc}", file=sys.stderr)
        return 2
    cuda = dev.type == "cuda"
    batch = args.batch_size or (256 if cuda else 16)
    steps = args.steps or (50 if cuda else 6)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    try:
        base = SmokeOptions(device=str(dev), steps=steps, batch_size=batch, recipe="paper", warmup=warmup)
    except UsageError as exc:
        print(f"bench_smoke: error: {exc}", file=sys.stderr)
        return 2
    spec = load_spec()  # the paper's optimizer, the same for both models
    modes = [
        ("fp32", dict(amp="off", channels_last=False, compile=False)),
        ("bf16 autocast + channels_last" + (" + compile" if args.compile else ""),
         dict(amp="bf16", channels_last=True, compile=args.compile)),
    ]
    targets = _targets()
    names = [n for n in targets if not (args.no_ablation and "without" in n)]

    load_before = _loadavg()
    rows: list[dict[str, Any]] = []
    device = ""
    for mode, opts in modes:
        ips: dict[str, float | None] = {}
        for name in names:
            r = run_smoke(targets[name], dataclasses.replace(base, **opts), spec=spec)
            device = r["device"]
            ips[name] = r["images_per_second"]
            rows.append({"mode": mode, "model": name, "ips": r["images_per_second"], "tflops": r["achieved_tflops"],
                         "share": r["peak_share"], "mem": r["peak_memory_bytes"], "gflop": r["flops_per_image"] / 1e9,
                         "verdict": r["verdict"], "notes": r["notes"], "compiled": r["options"]["compile"]})
            print(f"{mode:45} {name:24} {r['images_per_second']} images/s", flush=True)
        ref, tv, nolrn = ips.get("reference"), ips.get("torchvision"), ips.get("reference without LRN")
        for row in rows:
            if row["mode"] == mode:
                row["ratio"] = ref / tv if ref and tv else None
                row["lrn_share"] = 1 - ref / nolrn if ref and nolrn else None

    def fmt(v: Any, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    header = ("| mode | model | images/s | ref / torchvision | TFLOP/s (3x fwd) | share of peak | peak memory MiB "
              "| GFLOP/image fwd |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        ratio = fmt(row["ratio"], ".3f") if row["model"] == "reference" else ""
        lines.append(f"| {row['mode']} | {row['model']} | {fmt(row['ips'], '.2f')} | {ratio} "
                     f"| {fmt(row['tflops'], '.4g')} "
                     f"| {fmt(row['share'], '.3f')} | {fmt(row['mem'] and row['mem'] / 2**20, '.0f')} "
                     f"| {row['gflop']:.3f} |")
    summary: list[str] = []
    for mode, _ in modes:
        ref_row = next(r for r in rows if r["mode"] == mode and r["model"] == "reference")
        if ref_row.get("lrn_share") is not None:
            summary.append(f"- {mode}: LRN share of the reference's step time (ablation) = {ref_row['lrn_share']:.1%}")
        if ref_row["ratio"] is not None:
            summary.append(f"- {mode}: reference / torchvision throughput = {ref_row['ratio']:.3f}")
        for r in rows:
            for n in r["notes"] if r["mode"] == mode else []:
                summary.append(f"- {mode}, {r['model']}: {n}")
    fast_ref = next(r for r in rows if r["mode"] == modes[-1][0] and r["model"] == "reference")
    if cuda:
        summary.append(f"- goal ratio >= {RATIO_GOAL} in the fastest mode: "
                       f"{'met' if (fast_ref['ratio'] or 0) >= RATIO_GOAL else 'NOT met'}")
        if "H100" in device:
            summary.append(f"- goal >= {H100_GOAL} images/s on an H100 (fastest mode): "
                           f"{'met' if (fast_ref['ips'] or 0) >= H100_GOAL else 'NOT met'}")
    else:
        summary.append("- the throughput goals are for NVIDIA GPUs; these are CPU figures.")
    v = versions()
    given = argv if argv is not None else sys.argv[1:]
    cmd = "python benchmarks/bench_smoke.py " + " ".join(shlex.quote(a) for a in given)
    head = [
        f"# Training throughput: reference vs torchvision AlexNet on {device}",
        "",
        f"Generated by `{cmd}`.",
        "",
        f"- device: {device}; torch {v['torch']}, torchvision {v['torchvision']}, CUDA {v['cuda']}"
        + ("" if cuda else " (no GPU used)"),
        f"- batch {batch}, {steps} steps of which {warmup} warm-up (excluded from the timing); one fixed synthetic "
        "batch; paper optimizer (torch SGD) for both models; train mode (dropout on)",
        f"- load average (1 min) of the machine before / after the run: {load_before} / {_loadavg()}"
        + ("" if cuda else " on a CPU shared with other jobs: compare rows of one run only"),
        "- images/s: " + ("CUDA events around the timed steps" if cuda else "time.perf_counter around the timed steps")
        + "; TFLOP/s = 3 x forward FLOPs (torch.utils.flop_counter, batch 1) x images/s",
        "",
    ]
    text = "\n".join(head + lines + [""] + summary) + "\n"
    print()
    print("\n".join(lines + [""] + summary))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
