"""Hostile YAML and arguments: alias bombs, huge files and values, impossible dates, unknown probes,
nonsensical numbers. Each is refused at once with one short line naming the file and the key.

Alias bombs here have six levels (9**6 leaves): enough to be far past the loader's bound, while the
unbounded loader still fails in about a second rather than the minutes and gigabytes of nine.
The messages prove the bound (they name the alias or size limit that refused the file); how long a
refusal takes is a benchmark, not a test: benchmarks/bench_bounded_input.py.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from alexnet_audit.cli import main as cli
from alexnet_audit.core.errors import UsageError
from alexnet_audit.core.inputs import MAX_YAML_BYTES, parse_memory_limit, read_yaml, short_repr
from alexnet_audit.probes import check_probe_names
from alexnet_audit.spec.load import SpecError, default_spec_path, load_spec
from alexnet_audit.spec.waivers import WaiverError, load_waivers
from alexnet_audit.target.manifest.load import load_manifest
from alexnet_audit.target.record import TargetError

ITEM = {
    "id": "lrn.k", "group": "normalisation", "claim": "k = 2", "section": "§3.3", "severity": "minor",
    "probe": "lrn_params", "params": "{param: k}", "expected": "2.0", "fix": "use k=2",
}


def bomb(levels: int = 6, width: int = 9) -> str:
    """A flow sequence whose last element expands to width**levels leaves through aliases."""
    parts = ["&l0 [" + ", ".join(["x"] * width) + "]"]
    parts += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def spec_file(tmp_path: Path, **fields: str) -> Path:
    """A one-item spec; each field is raw YAML (so it can carry anchors, dates, bombs)."""
    item = ITEM | fields
    body = "\n".join(f"    {k}: {v}" for k, v in item.items())
    text = ("format: alexnet-audit/spec\nversion: '0.0-test'\n"
            "paper: {title: t, authors: a, venue: v, url: 'http://example.invalid'}\n"
            f"items:\n  - {body.lstrip()}\n")
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_short_line(message: str, *needles: str) -> None:
    """One line, under 300 characters besides the (long, temporary) file path it names."""
    path = next((n for n in needles if n.startswith("/")), "")
    assert "\n" not in message and len(message) - len(path) < 300, message[:400]
    for needle in needles:
        assert needle in message, message


def refused(fn: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The message of the one-line error fn raises."""
    with pytest.raises((SpecError, TargetError)) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------------- alias bombs ---

def test_read_yaml_refuses_a_billion_laughs(tmp_path: Path) -> None:
    """Nine levels: a billion leaves, which the spec validation would try to copy and print."""
    path = tmp_path / "laughs.yaml"
    path.write_text(f"value: {bomb(levels=9)}\n", encoding="utf-8")
    message = refused(read_yaml, path, "spec", SpecError)
    assert_one_short_line(message, str(path), "aliases", "100,000")


@pytest.mark.parametrize("key", ["tolerance", "variants", "expected"])
def test_alias_bomb_in_a_spec_item(tmp_path: Path, key: str) -> None:
    path = spec_file(tmp_path, **{key: bomb()})
    assert_one_short_line(refused(load_spec, path), str(path), "aliases")


def test_alias_bomb_in_a_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"model: model.py:build\ninput_size: {bomb()}\n", encoding="utf-8")
    assert_one_short_line(refused(load_manifest, path), str(path), "aliases")


def test_alias_bomb_in_waivers(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(f"lrn.k: {{reason: {bomb()}}}\n", encoding="utf-8")
    spec = load_spec()
    with pytest.raises(WaiverError) as info:
        load_waivers(path, spec)
    assert_one_short_line(str(info.value), str(path), "aliases")


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path, expected="&r [1, *r]")
    assert_one_short_line(refused(load_spec, path), str(path), "recursive")


def test_the_packaged_spec_and_its_own_aliases_still_load() -> None:
    assert load_spec().item("init.weights").expected  # uses &w / *w


# --------------------------------------------------------------------- size and length ---

def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_YAML_BYTES + 1))
    assert_one_short_line(refused(load_spec, path), str(path), "larger than 1 MiB")


def test_short_repr_is_one_bounded_line() -> None:
    assert short_repr([3, 224]) == "[3, 224]" and short_repr("fast") == "'fast'"
    for value in ["x" * 10_000, list(range(10_000)), {"a\nb": ["c\nd"] * 1000}]:
        text = short_repr(value)
        assert len(text) <= 80 and "\n" not in text and text.endswith(("…", "'"))


@pytest.mark.parametrize("key", ["severity", "group", "id"])
def test_a_long_value_in_a_spec_is_quoted_short(tmp_path: Path, key: str) -> None:
    path = spec_file(tmp_path, **{key: "'" + "a b " * 5_000 + "'"})
    assert_one_short_line(refused(load_spec, path), str(path))


def test_long_values_in_a_manifest_are_quoted_short(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    long = "x" * 10_000
    path.write_text(f"model: {long}\nname: [{long}]\n? {long}\n: 1\nepochs: {long}\n", encoding="utf-8")
    with pytest.raises(TargetError) as info:
        load_manifest(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    for line in lines:
        assert_one_short_line(line, str(path))


def test_a_long_waiver_key_is_quoted_short(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(f"? {'k' * 10_000}\n: because\n", encoding="utf-8")  # an explicit key: no 1024 limit
    with pytest.raises(WaiverError) as info:
        load_waivers(path, load_spec())
    assert_one_short_line(str(info.value), str(path), "unknown item id")


# ---------------------------------------------------------------------- impossible dates ---

def bad_waivers(directory: Path) -> Path:
    path = directory / "bad.yaml"
    path.write_text("lrn.k: {reason: k=1 on purpose, until: 2026-02-30}\n", encoding="utf-8")
    return path


def test_impossible_date_in_waivers(tmp_path: Path) -> None:
    path = bad_waivers(tmp_path)
    with pytest.raises(WaiverError) as info:
        load_waivers(path, load_spec())
    assert_one_short_line(str(info.value), str(path), "lrn.k", "'until' must be a date YYYY-MM-DD (got '2026-02-30')")


def test_impossible_date_in_a_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("model: model.py:build\nepochs: 2026-02-30\n", encoding="utf-8")
    with pytest.raises(TargetError) as info:
        load_manifest(path)
    assert_one_short_line(str(info.value), str(path), "epochs", "'2026-02-30'")


def test_impossible_date_in_a_spec(tmp_path: Path) -> None:
    path = spec_file(tmp_path, severity="2026-02-30")
    assert_one_short_line(refused(load_spec, path), str(path), "severity", "'2026-02-30'")


def test_a_valid_date_is_still_a_date(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("lrn.k: {reason: k=1 on purpose, until: 2026-02-28}\n", encoding="utf-8")
    until = load_waivers(path, load_spec())["lrn.k"].until
    assert until is not None and until.isoformat() == "2026-02-28"


def test_cli_impossible_date_is_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bad_waivers(tmp_path)
    code = cli.main(["audit", "reference", "--waivers", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert_one_short_line(err.strip(), "lrn.k", "'until'", "2026-02-30")
    assert not (tmp_path / "out").exists()


def test_pytest_impossible_date_is_a_usage_error(pytester: pytest.Pytester) -> None:
    bad_waivers(pytester.path)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--paper-target=reference",
                                           "--paper-waivers=bad.yaml", "-k", "lrn.k")
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "INTERNALERROR" not in text and "Traceback" not in text, text
    lines = [line for line in text.splitlines() if "2026-02-30" in line]
    assert len(lines) == 1, text
    assert_one_short_line(lines[0], "bad.yaml", "lrn.k", "'until'")


# ------------------------------------------------------------------------ unknown probes ---

@pytest.fixture
def typo_probe_spec(tmp_path: Path) -> Path:
    """The real spec with one probe name misspelt."""
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    for it in data["items"]:
        if it["id"] == "lrn.k":
            it["probe"] = "lrn_parms"
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_unknown_probe_is_a_spec_error(typo_probe_spec: Path) -> None:
    with pytest.raises(SpecError) as info:
        check_probe_names(load_spec(typo_probe_spec))
    assert_one_short_line(str(info.value), str(typo_probe_spec),
                          "item lrn.k: unknown probe 'lrn_parms' (did you mean 'lrn_params'?)")
    assert load_spec(typo_probe_spec).item("lrn.k").probe == "lrn_parms"  # unchecked unless asked


def test_cli_unknown_probe_is_exit_2_before_the_audit(typo_probe_spec: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["audit", "reference", "--spec", str(typo_probe_spec), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert_one_short_line(err.strip(), "unknown probe 'lrn_parms'")
    assert not (tmp_path / "out").exists()


def test_load_spec_stays_importable_without_torch() -> None:
    code = ("import sys; from alexnet_audit.spec.load import load_spec; load_spec(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -------------------------------------------------------------------- numbers and limits ---

@pytest.mark.parametrize("tolerance", ["{abs: -0.1}", "{rel: -1}", "{abs: .nan}"])
def test_negative_or_nan_tolerance_is_a_spec_error(tmp_path: Path, tolerance: str) -> None:
    path = spec_file(tmp_path, tolerance=tolerance)
    assert_one_short_line(refused(load_spec, path), str(path), "lrn.k", "'tolerance.")


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--timeout", "-5"], ["--timeout", "nan"],
                                  ["--timeout", "inf"], ["--timeout", "soon"], ["-j", "0"], ["-j", "-2"],
                                  ["-j", "1.5"]])
def test_compare_rejects_nonsense_timeout_and_jobs(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli._parser().parse_args(["compare", "reference", *args])
    assert info.value.code == cli.EXIT_USAGE
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert_one_short_line(last, args[0], repr(args[1]))


def test_compare_accepts_sensible_timeout_and_jobs() -> None:
    ns = cli._parser().parse_args(["compare", "reference", "--timeout", "2.5", "-j", "3"])
    assert (ns.timeout, ns.jobs) == (2.5, 3)


@pytest.mark.parametrize(("text", "expected"), [("4000000000", 4_000_000_000), ("4e9", 4_000_000_000),
                                                ("512M", 512 << 20), ("4G", 4 << 30), ("4GiB", 4 << 30),
                                                (" 2k ", 2048), ("0", 0)])
def test_memory_limit_forms(text: str, expected: int) -> None:
    assert parse_memory_limit(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1", "nan", "inf", "4X", "1e400", ""])
def test_memory_limit_garbage_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_memory_limit(text)
    assert_one_short_line(str(info.value), "ALEXNET_AUDIT_MEMORY_LIMIT", repr(text))


def test_naming_a_manifest_reads_it_bounded(tmp_path: Path) -> None:
    """compare names targets before any worker starts: an alias bomb must not swamp the parent there."""
    from alexnet_audit.target.refs import default_name

    path = tmp_path / "bomb.yaml"
    path.write_text(f"name: x\nmodel: torch.nn:Identity\ninput_size: {bomb(levels=9)}\n", encoding="utf-8")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["name"] == "x"  # what an unbounded read names it
    assert default_name(str(path)) == "bomb"  # refused by the bounded reader: the stem; the worker reports why


@pytest.mark.parametrize("kind", ["spec", "manifest", "waivers"])
def test_non_utf8_bytes_are_one_line_with_their_place(tmp_path: Path, kind: str) -> None:
    """A Latin-1 byte used to raise a two-part yaml.reader traceback with no line number."""
    from alexnet_audit.core.inputs import read_yaml

    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(b"name: x\nnotes: \"caf\xe9\"\n")
    with pytest.raises(ValueError) as exc:
        read_yaml(path, kind, ValueError)
    assert str(exc.value) == f"{path}: line 2, column 12: not UTF-8 text (byte 0xe9); save the file as UTF-8."


def test_cli_non_utf8_waivers_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alexnet_audit.cli.main import EXIT_USAGE, main

    (tmp_path / "w.yaml").write_bytes(b"lrn.k: \"caf\xe9\"\n")
    assert main(["audit", "reference", "--waivers", str(tmp_path / "w.yaml"), "--out", str(tmp_path / "o")]) \
        == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 1, column 12: not UTF-8 text" in err[0]
