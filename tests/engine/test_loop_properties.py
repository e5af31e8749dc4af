"""Properties of the real training loop that a wrong implementation breaks: EMA and gradient accumulation.

Each test runs ``dbdzoo.engine.train`` on the tiny FPN (CPU, fp32) and reads the run folder's checkpoints,
and each also checks that the property it asserts is not true by accident (the compared runs differ).
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from dbdzoo.engine import train

DECAY = 0.7  # not 0.5: swapping decay and 1 − decay would then give the same average
NO_VAL = ["trainer.val_every=1000", "data.val.length=1", "trainer.val_batches=1"]


def _checkpoint(run) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)


def test_ema_is_the_analytic_average_of_the_raw_weights_at_each_step(fast_cfg, tmp_path) -> None:
    """EMA_1 = W_1 (AveragedModel copies on its first update), EMA_t = d·EMA_{t−1} + (1 − d)·W_t.

    The raw weights W_t of step t come from the same seeded run stopped after t steps (``stop_after``
    keeps the 3-step schedule, so the trajectories agree). BatchNorm running statistics are averaged too
    (``use_buffers=True``), so every floating-point tensor of the state dict is checked.
    """
    common = [*NO_VAL, "trainer.max_steps=3", "trainer.ema.enabled=true", f"trainer.ema.decay={DECAY}"]
    raw = []
    for t in (1, 2, 3):
        stop = [f"trainer.stop_after={t}"] if t < 3 else []
        train(fast_cfg(*common, *stop, out=f"s{t}"))
        raw.append(_checkpoint(tmp_path / f"s{t}"))
    assert [ck["global_step"] for ck in raw] == [1, 2, 3]
    ema_state = raw[-1]["ema"]
    assert int(ema_state["n_averaged"]) == 3
    floats = [k for k, v in raw[-1]["model"].items() if v.is_floating_point()]
    assert any("running_var" in k for k in floats)  # the buffers are part of the average
    for key in floats:
        w1, w2, w3 = (ck["model"][key] for ck in raw)
        expected = DECAY * (DECAY * w1 + (1 - DECAY) * w2) + (1 - DECAY) * w3
        torch.testing.assert_close(
            ema_state[f"module.{key}"], expected, rtol=1e-5, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}"
        )
    # the average is not the raw network: the check above would also pass for an EMA that copies W_t
    gap = max((ema_state[f"module.{k}"] - raw[-1]["model"][k]).abs().max().item() for k in floats)
    assert gap > 1e-4, gap


def _accum_run(fast_cfg, tmp_path, name: str, batch: int, accum: int) -> dict[str, torch.Tensor]:
    cfg = fast_cfg(
        *NO_VAL,
        "model.decoder_norm=false",  # no BatchNorm: batch statistics of 1 image ≠ those of 2
        "optim=sgd",  # linear in the gradient: accumulation is exact up to float rounding
        "optim.lr=0.1",
        f"data.batch_size={batch}",
        f"trainer.grad_accum={accum}",
        "trainer.max_steps=2",
        out=name,
    )
    train(cfg)
    return load_file(tmp_path / name / "checkpoints" / "last.safetensors")


def test_two_accumulated_batches_of_one_equal_one_batch_of_two(fast_cfg, tmp_path) -> None:
    """grad_accum=2 × batch 1 must take the same two SGD steps as grad_accum=1 × batch 2.

    Both read the same images in the same order (the epoch permutation is split into consecutive
    micro-batches and each sample's augmentation is seeded by its index), and every loss term is a mean
    over equally sized images, so the averaged micro-batch gradients equal the batch-2 gradient. The
    network has no BatchNorm (``decoder_norm=false``; ``tiny_vgg`` has none), whose statistics would
    differ between a batch of one and a batch of two.
    """
    accumulated = _accum_run(fast_cfg, tmp_path, "accum", batch=1, accum=2)
    batched = _accum_run(fast_cfg, tmp_path, "batch2", batch=2, accum=1)
    assert accumulated.keys() == batched.keys()
    for key in batched:
        torch.testing.assert_close(
            accumulated[key], batched[key], rtol=1e-5, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}"
        )
    # without accumulation, batch 1 takes its steps on single images: the weights must differ clearly
    single = _accum_run(fast_cfg, tmp_path, "batch1", batch=1, accum=1)
    gap = max((single[k] - batched[k]).abs().max().item() for k in batched)
    assert gap > 1e-3, gap
