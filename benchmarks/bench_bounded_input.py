"""Time the refusals of hostile YAML (budget: each well under a second; tests/hostile/test_bounded_input.py
checks that they are refused and why, not how fast).

    .venv/bin/python benchmarks/bench_bounded_input.py [--budget SECONDS]     (default 1.0)

Prints the seconds each refusal took and exits 1 if any took longer than the budget. Not part of the
test suite: wall-clock limits there fail on a loaded CI machine and prove nothing the messages do not.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alexnet_audit.core.inputs import MAX_YAML_BYTES, read_yaml
from alexnet_audit.spec.load import SpecError, load_spec
from alexnet_audit.spec.waivers import WaiverError, load_waivers
from alexnet_audit.target.manifest.load import load_manifest
from alexnet_audit.target.record import TargetError
from alexnet_audit.target.refs import default_name

ITEM = ("id: lrn.k\n    group: normalisation\n    claim: k = 2\n    section: §3.3\n    severity: minor\n"
        "    probe: lrn_params\n    params: {param: k}\n    fix: use k=2\n")


def bomb(levels: int = 6, width: int = 9) -> str:
    """A flow sequence whose last element expands to width**levels leaves through aliases."""
    parts = ["&l0 [" + ", ".join(["x"] * width) + "]"]
    parts += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def spec_text(expected: str) -> str:
    return ("format: alexnet-audit/spec\nversion: '0.0-bench'\n"
            "paper: {title: t, authors: a, venue: v, url: 'http://example.invalid'}\n"
            f"items:\n  - {ITEM}    expected: {expected}\n")


def cases(root: Path) -> dict[str, Callable[[], object]]:
    def write(name: str, text: str | bytes) -> Path:
        path = root / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    laughs = write("laughs.yaml", f"value: {bomb(levels=9)}\n")
    spec_bomb = write("spec_bomb.yaml", spec_text(bomb()))
    spec_recursive = write("spec_recursive.yaml", spec_text("&r [1, *r]"))
    manifest = write("manifest.yaml", f"model: model.py:build\ninput_size: {bomb()}\n")
    waivers = write("waivers.yaml", f"lrn.k: {{reason: {bomb()}}}\n")
    big = write("big.yaml", b"#" * (MAX_YAML_BYTES + 1))
    named = write("named_bomb.yaml", f"name: x\nmodel: torch.nn:Identity\ninput_size: {bomb(levels=9)}\n")
    spec = load_spec()

    def refused(fn: Callable[[], object], *errors: type[Exception]) -> Callable[[], object]:
        def run() -> object:
            try:
                fn()
            except errors as exc:
                return str(exc)
            raise SystemExit(f"not refused: {fn}")
        return run

    return {
        "read_yaml, a billion laughs": refused(lambda: read_yaml(laughs, "spec", SpecError), SpecError),
        "load_spec, alias bomb": refused(lambda: load_spec(spec_bomb), SpecError),
        "load_spec, recursive alias": refused(lambda: load_spec(spec_recursive), SpecError),
        "load_spec, over the size cap": refused(lambda: load_spec(big), SpecError),
        "load_manifest, alias bomb": refused(lambda: load_manifest(manifest), TargetError),
        "load_waivers, alias bomb": refused(lambda: load_waivers(waivers, spec), WaiverError),
        "default_name, a billion laughs": lambda: default_name(str(named)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds each refusal may take (default 1.0)")
    args = parser.parse_args(argv)
    over = []
    with tempfile.TemporaryDirectory(prefix="bench-bounded-") as tmp:
        for name, run in cases(Path(tmp)).items():
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            flag = "" if seconds <= args.budget else f"  OVER the {args.budget:g} s budget"
            print(f"{name:34} {seconds:7.3f} s{flag}")
            if flag:
                over.append(name)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
