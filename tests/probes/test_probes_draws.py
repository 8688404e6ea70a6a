"""The shared seeded sweep of the train transform (alexnet_audit.probes.draws): the colour, lighting,
augmentation and flip probes read one set of draws, each image is transformed once per seed, and
what the sweep keeps is what a separate seeded call gives."""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import alexnet_ref
from alexnet_audit.probes import colour, draws, geometry, techniques
from alexnet_audit.probes.context import Context
from alexnet_audit.probes.imaging import Adapted, _chw, _rng_guard, _seeded
from alexnet_audit.target.record import from_object
from tests.probes.test_probes_recipe import SPEC, audit, tiny_model

DATA_IDS = ["data.resize", "data.random_crop", "data.mean_subtraction", "data.hflip", "data.pca_lighting",
            "data.extra_augmentation"]


class Counted:
    """A train transform that records every call: the image (size and bytes) and the seed it ran under."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[tuple[Any, ...]] = Counter()

    def __call__(self, img: Image.Image) -> Any:
        self.calls[(img.size, hashlib.sha1(img.tobytes()).hexdigest(), torch.initial_seed())] += 1
        return self.inner(img)


def test_the_data_probes_transform_each_image_once_per_seed() -> None:
    tf = Counted(alexnet_ref.train_transform())
    found = audit({"model": tiny_model, "train_transform": tf}, DATA_IDS)
    assert all(f.status.value in ("pass", "variant") for f in found.values()), {i: f.message for i, f in found.items()}
    assert max(tf.calls.values()) == 1, "an image was transformed twice under one seed"
    by_size = Counter(size for size, _, _ in tf.calls.elements())
    # the geometry's 2:1 source (two slope calls, then coord, black, fine per seed); everything else is
    # the sweep's 300x256 images (two colours, coord, palette per seed, the ramps in the first
    # RAMP_SEEDS) and the flip draws past it
    assert by_size == {(geometry.SRC_W, geometry.SRC_H): 2 + 3 * geometry.GEOMETRY_SEEDS,
                       (draws.SRC_W, draws.SRC_H): 4 * draws.SEEDS + 2 * draws.RAMP_SEEDS
                       + geometry.HFLIP_DRAWS - draws.SEEDS}
    assert techniques.SEEDS == draws.RAMP_SEEDS <= draws.SEEDS == colour.COLOUR_SEEDS


def test_the_sweep_keeps_what_a_separate_seeded_call_gives() -> None:
    tf = alexnet_ref.train_transform()
    ctx = Context(from_object("t", {"model": tiny_model, "train_transform": tf}, "test"), SPEC)
    got = draws.sweep(ctx)
    assert len(got) == draws.SEEDS and set(got[0]) == {*draws.COLOUR_IMAGES, *draws.LIGHTING_IMAGES,
                                                        *draws.RAMP_IMAGES}
    assert set(got[-1]) == {*draws.COLOUR_IMAGES, *draws.LIGHTING_IMAGES}
    imgs = draws.images()
    with _rng_guard():
        for i in (0, draws.RAMP_SEEDS - 1, draws.SEEDS - 1):
            for name in got[i]:
                alone = _chw(_seeded(Adapted(tf), imgs[name], draws.SEED + i))[:, ::8, ::8]
                assert torch.equal(got[i][name], alone), (i, name)
    assert got[0]["c1"].shape == (3, 28, 28)  # every 8th pixel of 224


@pytest.mark.parametrize("kind", ["tensor", "pil", "hwc array", "chw array"])
def test_grid_reads_every_kind_of_output_alike(kind: str) -> None:
    t = torch.rand(3, 60, 90)
    out: Any = {"tensor": t, "pil": Image.fromarray((t * 255).round().byte().permute(1, 2, 0).numpy()),
                "hwc array": t.permute(1, 2, 0).numpy(), "chw array": t.numpy()}[kind]
    full = _chw(out)
    g = draws.grid(out)
    assert g.dtype == torch.float64 and g.is_contiguous()
    assert torch.equal(g, full[:, ::2, ::2])  # 60 // 28 = 2
    assert torch.equal(draws.grid(t.unsqueeze(0)[0][:1]), _chw(t[:1])[:, ::2, ::2])


def test_the_ramps_are_constant_across_their_axis() -> None:
    x, y = np.asarray(draws.ramp("x")), np.asarray(draws.ramp("y"))
    assert x.shape == y.shape == (draws.SRC_H, draws.SRC_W, 3)
    assert (x == x[:1]).all() and (np.diff(x[0, :, 0].astype(int)) >= 0).all() and x[0, -1, 0] > x[0, 0, 0]
    assert (y == y[:, :1]).all() and (np.diff(y[:, 0, 0].astype(int)) >= 0).all() and y[-1, 0, 0] > y[0, 0, 0]


def test_affine_reads_each_pixels_map_from_the_two_colours_without_clipping() -> None:
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])

    def darker(img: Image.Image) -> Any:  # a PIL-level shift of -10 levels: a black image would clip at 0
        arr = np.asarray(img).astype(np.int16) - 10
        t = torch.from_numpy(arr.clip(0, 255).astype(np.uint8)).permute(2, 0, 1).double() / 255
        return (t - mean.view(3, 1, 1).double()) / std.view(3, 1, 1).double()

    imgs = draws.images()
    slope, zero = draws.affine({k: draws.grid(darker(imgs[k])) for k in draws.COLOUR_IMAGES})
    assert torch.allclose(slope, (1 / std).double().view(3, 1, 1).expand_as(slope))
    assert torch.allclose(zero, ((-10 / 255 - mean) / std).double().view(3, 1, 1).expand_as(zero))
    with pytest.raises(ValueError, match="1 channels, not 3"):
        draws.affine({"c1": torch.zeros(1, 4, 4), "c2": torch.ones(1, 4, 4)})
