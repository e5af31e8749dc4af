"""``data.cache``, ``data.augment_on``, ``data.render_on`` and the endless training stream.

Bad values fail in one line naming the key before the model is built; good ones train on the CPU; the
device renderer is wired through a stand-in module (the real one may not exist yet); and one DataLoader
iterator with the same workers serves every epoch with the batches of one loader pass per epoch.
"""

from __future__ import annotations

import importlib.machinery
import itertools
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from dbdzoo.engine import train
from dbdzoo.engine.builders import build_train_streams
from dbdzoo.engine.dist import DistContext
from dbdzoo.engine.loaders import BatchStream, DeviceAugmentStream, EpochSampler

RENDERER = "dbdzoo.data.synthetic.device_stream"


def cuhk_folder(root: Path, n: int = 5) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = (40, 52) if i % 2 else (52, 40)
        (root / "image").mkdir(parents=True, exist_ok=True)
        (root / "gt").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / "image" / f"out_of_focus{i + 1:04d}.jpg"
        )
        Image.fromarray(((rng.random((h, w)) > 0.5) * 255).astype(np.uint8)).save(
            root / "gt" / f"out_of_focus{i + 1:04d}.png"
        )
    return root


@pytest.fixture
def cuhk_cfg(compose_overrides, tmp_path):
    root = cuhk_folder(tmp_path / "CUHK")
    fast = ["data=cuhk", f"data.train.root={root}", "data.train.split=all", "data.train.transform.size=32",
            f"data.val.root={root}", "data.val.split=all", "model.backbone=tiny_vgg", "model.decoder_channels=8",
            "data.batch_size=2", "data.num_workers=0", "trainer.max_steps=2", "trainer.val_every=2",
            "trainer.ckpt_every=2", "trainer.val_batches=1", "logger.tensorboard=false", "logger.log_every=1"]  # fmt: skip
    return lambda *extra, out="run": compose_overrides([*fast, *extra], tmp_path / out)


@pytest.fixture
def nothing_built(monkeypatch):
    """Fail the test if a model is built: the refusals must come first."""

    def refuse(*a, **k):
        raise AssertionError("the model was built before the config was refused")

    monkeypatch.setattr("dbdzoo.engine.builders.build_model", refuse)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.cache=disk", r"^config data.cache='disk': expected one of none, ram$"),
        ("data.augment_on=gpu", r"^config data.augment_on='gpu': expected one of worker, device$"),
        ("data.render_on=cuda", r"^config data.render_on='cuda': expected one of worker, device$"),
        ("data.augment_on=device", r"^config data.augment_on=device: no training set has a transform .* use data.augment_on=worker$"),
        ("data.cache=ram", r"^config data.cache=ram: data.train.name='synthetic' decodes no files .* use data.cache=none$"),
    ],
)  # fmt: skip
def test_synthetic_refuses_what_cannot_apply(fast_cfg, nothing_built, override, message) -> None:
    with pytest.raises(ValueError, match=message):
        train(fast_cfg(override))


def test_cuhk_refusals_name_the_key_and_the_fix(cuhk_cfg, nothing_built, monkeypatch) -> None:
    with pytest.raises(
        ValueError,
        match=r"^config data.render_on=device: data.train.name='cuhk' is not the synthetic renderer.* use data.render_on=worker$",
    ):
        train(cuhk_cfg("data.render_on=device"))
    no_form = r"^config data.augment_on=device: data.train.transform.recipe='eval_native' has no device form .* use data.augment_on=worker$"
    with pytest.raises(ValueError, match=no_form):
        train(cuhk_cfg("data.augment_on=device", "data.train.transform.recipe=eval_native"))
    monkeypatch.setattr("dbdzoo.data.cache.available_memory", lambda: 10_000)  # a few KB free
    with pytest.raises(
        ValueError,
        match=r"^config data.cache=ram: the decoded training set needs .* GiB of memory is available .* use data.cache=none$",
    ):
        train(cuhk_cfg("data.cache=ram"))


def test_render_on_device_needs_the_renderer_module(fast_cfg, nothing_built, monkeypatch) -> None:
    monkeypatch.setattr(
        "dbdzoo.engine.pipeline_options.DEVICE_RENDERER", "dbdzoo.data.synthetic.no_such_module"
    )
    with pytest.raises(
        ValueError,
        match=r"^config data.render_on=device: this install has no device renderer .* use data.render_on=worker$",
    ):
        train(fast_cfg("data.render_on=device"))


def test_the_renderer_checks_its_spec_before_the_model_is_built(fast_cfg, nothing_built) -> None:
    # the renderer ships with the package: a missing module or spec check fails here instead of skipping
    with pytest.raises(ValueError, match=r"^config data.render_on=device: data.train.transform "):
        train(fast_cfg("data.render_on=device", "+data.train.transform={recipe: none}"))


def test_cache_and_device_augmentation_train_on_the_cpu(cuhk_cfg, tmp_path) -> None:
    results = train(cuhk_cfg("data.cache=ram", "data.augment_on=device"))
    assert results and (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    data = dict(cuhk_cfg("data.cache=ram", "data.augment_on=device").data)
    stream = build_train_streams(data, DistContext(torch.device("cpu")), 0)["main"]
    assert isinstance(stream, DeviceAugmentStream)
    epoch, batch = next(stream.iterate(0))
    assert batch["image"].shape == (2, 3, 32, 32) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (2, 1, 32, 32) and "aug_seed" not in batch and "aug_hw" not in batch


class FakeRenderStream:
    """Stands in for ``DeviceRenderStream``: records its arguments and the positions it is asked for."""

    made: list = []

    def __init__(self, spec, *, batch_size, seed, rank, world_size, device) -> None:
        self.args = dict(
            spec=spec, batch_size=batch_size, seed=seed, rank=rank, world_size=world_size, device=device
        )
        self.batch_size, self.steps_per_epoch, self.consumed = batch_size, 3, []
        FakeRenderStream.made.append(self)

    def iterate(self, consumed):
        self.consumed.append(consumed)
        for step in itertools.count(consumed):
            g = torch.Generator().manual_seed(step)
            size = self.args["spec"]["size"]
            image = torch.rand(self.batch_size, 3, size, size, generator=g, device=self.args["device"])
            yield step // 3, {"image": image, "mask": (image[:, :1] > 0.5).float()}


@pytest.fixture
def fake_renderer(monkeypatch):
    module = types.ModuleType(RENDERER)
    module.__spec__ = importlib.machinery.ModuleSpec(RENDERER, None)
    module.DeviceRenderStream = FakeRenderStream
    monkeypatch.setitem(sys.modules, RENDERER, module)
    FakeRenderStream.made = []
    return FakeRenderStream


def test_render_on_device_builds_the_device_stream_and_trains_and_resumes(
    fast_cfg, fake_renderer, tmp_path
) -> None:
    cfg = fast_cfg("data.render_on=device", "trainer.max_steps=4", "trainer.stop_after=2")
    streams = build_train_streams(dict(cfg.data), DistContext(torch.device("cpu")), 11)
    made = fake_renderer.made[-1]
    assert streams == {"main": made} and made.args["spec"]["name"] == "synthetic"
    assert made.args["spec"]["size"] == 32 and made.args["batch_size"] == 2 and made.args["seed"] == 11
    assert (made.args["rank"], made.args["world_size"], made.args["device"]) == (0, 1, torch.device("cpu"))
    train(cfg)
    train(fast_cfg("data.render_on=device", "trainer.max_steps=4", "resume=auto"))
    assert [s.consumed for s in fake_renderer.made[1:]] == [[0], [2]]  # the resumed run continues at step 2


class WhoLoads(Dataset):
    """Seven items that report their index and the process that loaded them."""

    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int) -> dict:
        return {"index": i, "pid": os.getpid()}


def test_one_loader_pass_serves_every_epoch_with_the_same_workers() -> None:
    stream = BatchStream(WhoLoads(), batch_size=2, seed=5, num_workers=2)
    assert stream.steps_per_epoch == 3  # 7 samples: each epoch drops its last, partial batch
    got = list(itertools.islice(stream.iterate(0), 12))
    assert [e for e, _ in got] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    epochs = EpochSampler(7, shuffle=True, seed=5)
    for epoch in range(4):  # exactly one loader pass per epoch would give these batches
        indices = [int(i) for _, b in got[3 * epoch : 3 * epoch + 3] for i in b["index"]]
        assert indices == epochs.indices(epoch)[:6]
    pids = {int(p) for _, b in got for p in b["pid"]}
    assert len(pids) == 2 and os.getpid() not in pids  # two workers, never restarted at a boundary
    resumed = list(itertools.islice(stream.iterate(4), 8))  # mid-epoch 1, reusing the workers
    assert [e for e, _ in resumed] == [e for e, _ in got[4:]]
    assert all(torch.equal(a["index"], b["index"]) for (_, a), (_, b) in zip(resumed, got[4:], strict=True))
    assert {int(p) for _, b in resumed for p in b["pid"]} == pids
