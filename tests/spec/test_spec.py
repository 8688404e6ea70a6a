"""The spec loader and the spec itself: every required id present, values self-consistent, and
every kind of bad spec rejected with one line naming the file, the item and the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alexnet_audit.core.findings import Severity
from alexnet_audit.spec.load import SpecError, default_spec_path, load_spec

ROOT = Path(__file__).resolve().parents[2]

# The required ids of shared/paper_items.md (the stable join keys), expanded.
REQUIRED_IDS = (
    ["arch.input_size", "arch.layer_sequence"]
    + [f"arch.conv{i}.{a}" for i in range(1, 6) for a in ("out_channels", "kernel_size", "stride", "groups")]
    + ["arch.feature_maps", "arch.fc6.out_features", "arch.fc7.out_features", "arch.fc8.out_features",
       "arch.activation", "arch.relu_placement", "arch.params_total", "arch.params_per_layer", "arch.neurons",
       "lrn.placement", "lrn.size", "lrn.k", "lrn.alpha", "lrn.beta",
       "pool.type", "pool.kernel_size", "pool.stride", "pool.placement",
       "dropout.p", "dropout.placement", "dropout.eval", "init.weights", "init.biases",
       "train.loss", "train.optimizer", "train.momentum", "train.weight_decay", "train.lr", "train.lr_schedule",
       "train.batch_size", "train.epochs", "train.update_rule",
       "data.resize", "data.mean_subtraction", "data.random_crop", "data.hflip", "data.pca_lighting",
       "eval.ten_crop", "info.hardware", "info.results"]
)
SEVERITIES = {
    "arch.input_size": "minor", "arch.layer_sequence": "major", "arch.feature_maps": "major",
    "arch.fc8.out_features": "minor", "arch.params_total": "minor", "arch.neurons": "info",
    "lrn.size": "major", "lrn.k": "minor", "lrn.alpha": "minor", "lrn.beta": "minor",
    "init.biases": "minor", "train.lr_schedule": "minor", "train.batch_size": "minor", "train.epochs": "info",
    "train.update_rule": "info", "data.random_crop": "major", "data.pca_lighting": "minor",
    "eval.ten_crop": "minor", "info.hardware": "info", "info.results": "info",
}


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def test_packaged_spec_is_the_top_level_file(spec) -> None:
    assert default_spec_path().read_bytes() == (ROOT / "paper_spec.yaml").read_bytes()
    assert len(spec.sha256) == 64


def test_every_required_id_is_present_once(spec) -> None:
    assert sorted(set(REQUIRED_IDS) - set(spec.ids)) == []
    assert len(spec.ids) == len(set(spec.ids))


@pytest.mark.parametrize("item_id,severity", sorted(SEVERITIES.items()))
def test_severities_follow_paper_items(spec, item_id: str, severity: str) -> None:
    assert spec.item(item_id).severity is Severity(severity)


def test_conv_and_groups_values(spec) -> None:
    expected = {1: (96, 11, 4, 1), 2: (256, 5, 1, 2), 3: (384, 3, 1, 1), 4: (384, 3, 1, 2), 5: (256, 3, 1, 2)}
    for i, values in expected.items():
        names = ("out_channels", "kernel_size", "stride", "groups")
        got = tuple(spec.item(f"arch.conv{i}.{a}").expected for a in names)
        assert got == values, f"conv{i}"
    for i in (2, 4, 5):
        assert [v.value for v in spec.item(f"arch.conv{i}.groups").variants] == [1]


def test_parameter_counts_are_self_consistent(spec) -> None:
    """Per-layer counts sum to the totals, and follow from the layer shapes (paper notes §1.5)."""
    per_layer = spec.item("arch.params_per_layer")
    total = spec.item("arch.params_total")
    assert sum(per_layer.expected.values()) == total.expected == 60_965_224
    assert sum(per_layer.variants[0].value.values()) == total.variants[0].value == 62_378_344
    shapes = {"conv1": (96, 3, 11), "conv2": (256, 48, 5), "conv3": (384, 256, 3), "conv4": (384, 192, 3),
              "conv5": (256, 192, 3)}
    for name, (out_c, in_c, k) in shapes.items():
        assert per_layer.expected[name] == out_c * in_c * k * k + out_c
    assert per_layer.expected["fc6"] == 9216 * 4096 + 4096


def test_neurons_follow_feature_maps(spec) -> None:
    maps = spec.item("arch.feature_maps").expected
    neurons = spec.item("arch.neurons").expected
    channels = {f"conv{i}": spec.item(f"arch.conv{i}.out_channels").expected for i in range(1, 6)}
    for name, c in channels.items():
        assert neurons[name] == maps[name] ** 2 * c


def test_lrn_alpha_variant_is_alpha_over_n(spec) -> None:
    alpha = spec.item("lrn.alpha")
    n = spec.item("lrn.size").expected
    assert alpha.variants[0].value == pytest.approx(alpha.expected / n)


def test_every_item_has_fix_and_variants_have_reasons(spec) -> None:
    for it in spec.items:
        assert it.fix.strip(), it.id
        for v in it.variants:
            assert v.why.strip() and v.name.strip(), it.id


# ---------------------------------------------------------------- bad specs -------------------

def _write(tmp_path: Path, data) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def _raw() -> dict:
    return yaml.safe_load((ROOT / "paper_spec.yaml").read_text())


def _error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_typo_key_names_item_and_suggests(tmp_path: Path) -> None:
    raw = _raw()
    item = raw["items"][3]
    item["tolerence"] = {"abs": 1}
    msg = _error(_write(tmp_path, raw))
    assert item["id"] in msg and "'tolerence'" in msg and "did you mean 'tolerance'" in msg


def test_misspelt_required_key_is_reported_as_the_typo(tmp_path: Path) -> None:
    raw = _raw()
    raw["items"][0]["clam"] = raw["items"][0].pop("claim")
    msg = _error(_write(tmp_path, raw))
    assert "arch.input_size" in msg and "did you mean 'claim'" in msg


def test_missing_field(tmp_path: Path) -> None:
    raw = _raw()
    del raw["items"][5]["severity"]
    msg = _error(_write(tmp_path, raw))
    assert raw["items"][5]["id"] in msg and "missing required key 'severity'" in msg


def test_duplicate_id(tmp_path: Path) -> None:
    raw = _raw()
    raw["items"].append(dict(raw["items"][0]))
    assert "duplicate id 'arch.input_size'" in _error(_write(tmp_path, raw))


@pytest.mark.parametrize("key,value", [("severity", "critical"), ("group", "optimiser"), ("claim", 3),
                                       ("params", [1, 2]), ("tolerance", {"abs": "small"})])
def test_badly_typed_value(tmp_path: Path, key: str, value) -> None:
    raw = _raw()
    raw["items"][2][key] = value
    msg = _error(_write(tmp_path, raw))
    assert raw["items"][2]["id"] in msg and f"'{key}" in msg


def test_unknown_top_level_key(tmp_path: Path) -> None:
    raw = _raw()
    raw["itmes"] = raw["items"]
    assert "did you mean 'items'" in _error(_write(tmp_path, raw))


def test_not_yaml_not_mapping_missing_file(tmp_path: Path) -> None:
    assert "not valid YAML" in _error(_write(tmp_path, "items: [\n  - id: x\n  bad"))
    assert "must be a mapping" in _error(_write(tmp_path, "- 1\n- 2\n"))
    assert "cannot read spec" in _error(tmp_path / "nope.yaml")


def test_variant_without_reason(tmp_path: Path) -> None:
    raw = _raw()
    item = next(i for i in raw["items"] if i.get("variants"))
    del item["variants"][0]["why"]
    msg = _error(_write(tmp_path, raw))
    assert item["id"] in msg and "variants.0.why" in msg
