"""DMENet's update order through the real training loop, recorded at the objective's own methods.

``adversary_first=True`` (the original): the discriminator D steps on this step's features, then the
generator G's adversarial term is computed against the *updated* D, and only then does G step.
``adversary_first=False``: G's adversarial term (inside ``forward``) and D's loss both see D before its
update, and D steps after G. The test patches ``DMENetObjective`` (not the loop) and records, at every
call, a fingerprint of D's and G's parameters.
"""

from __future__ import annotations

import json

import pytest
import torch

from dbdzoo.engine import train
from dbdzoo.losses.dmenet import DMENetObjective

STEPS = 3
SIZE = ["size=32", "length=4"]
TINY_DMENET = [
    "model=dmenet",
    "data=synthetic_domains",
    "model.backbone=tiny_vgg",
    "model.pretrained_backbone=false",
    *[f"data.domains.{d}.{s}" for d in ("syn", "real", "unlabelled") for s in SIZE],
    *[f"data.val.{s}" for s in SIZE],
    "data.batch_size=2",
    "data.val_batch_size=2",
    "data.num_workers=0",
    f"trainer.max_steps={STEPS}",
    "trainer.val_every=1000",
    "trainer.ckpt_every=1000",
    "trainer.val_batches=1",
    "logger.tensorboard=false",
    "logger.log_every=1",
]
# no ImageNet VGG19 (and no download): a tiny random perceptual net and a small discriminator
TINY_OBJECTIVE = {
    "perceptual_backbone": "tiny_vgg",
    "perceptual_pretrained": False,
    "disc_widths": [8, 16, 16, 32],
}


def _objective_node(cfg):
    """The DMENet objective options (the ``objective`` config group)."""
    assert "adversary_first" in cfg.objective, "the composed DMENet objective has no adversary_first"
    return cfg.objective


def _fingerprint(params) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params]).clone()


@pytest.fixture
def recorder(monkeypatch):
    """Wrap forward / adversary_loss / generator_adversary_loss; each call appends (name, D, G, value).

    Also returns what the loop passed in: the network and the objective instance it built.
    """
    calls: list[tuple[str, torch.Tensor, torch.Tensor, float]] = []
    seen: dict[str, object] = {}

    def wrap(name: str):
        original = getattr(DMENetObjective, name)

        def recorded(self, *args, **kwargs):
            if name == "forward":
                seen["model"], seen["objective"] = args[0], self  # as the loop passes and built them
            d = _fingerprint(self.adversary.parameters())
            g = _fingerprint(seen["model"].parameters())
            out = original(self, *args, **kwargs)
            value = out["loss"] if name == "forward" else out
            calls.append((name, d, g, float(value.detach())))
            return out

        monkeypatch.setattr(DMENetObjective, name, recorded)

    for name in ("forward", "adversary_loss", "generator_adversary_loss"):
        wrap(name)
    return calls, seen


def _train_rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics" / "train.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("adversary_first", [True, False])
def test_dmenet_steps_follow_the_configured_adversary_order(
    compose_overrides, tmp_path, recorder, adversary_first
) -> None:
    cfg = compose_overrides(TINY_DMENET, tmp_path / "run")
    _objective_node(cfg).update({**TINY_OBJECTIVE, "adversary_first": adversary_first})
    train(cfg)
    calls, seen = recorder
    built = seen["objective"]  # the config reached the objective the loop built
    assert built.adversary_first is adversary_first, "objective.adversary_first did not reach the objective"
    assert built.perceptual.features[0].out_channels == 8, (
        "objective.perceptual_backbone=tiny_vgg was ignored"
    )
    per_step = 3 if adversary_first else 2
    names = [c[0] for c in calls]
    order = ["forward", "adversary_loss", "generator_adversary_loss"][:per_step]
    assert names == order * STEPS, names
    rows = _train_rows(tmp_path / "run")
    assert len(rows) == STEPS
    for i in range(STEPS):
        fwd, d_loss, *rest = calls[i * per_step : (i + 1) * per_step]
        nxt = calls[(i + 1) * per_step] if i + 1 < STEPS else None
        assert torch.equal(fwd[1], d_loss[1]), f"step {i + 1}: D changed between G's forward and D's loss"
        if adversary_first:
            (g_adv,) = rest
            assert not torch.equal(g_adv[1], d_loss[1]), (
                f"step {i + 1}: G's adversarial term saw D before its update"
            )
            assert torch.equal(g_adv[2], fwd[2]), f"step {i + 1}: G stepped before its adversarial term"
            after = g_adv
            # the G loss the loop back-propagates includes the term against the updated D
            assert rows[i]["loss_adv"] == pytest.approx(g_adv[3], rel=1e-5)
            assert rows[i]["loss"] == pytest.approx(fwd[3] + g_adv[3], rel=1e-5)
        else:
            assert not torch.equal(d_loss[2], fwd[2]), f"step {i + 1}: D's loss came before G's step"
            after = d_loss
            assert "loss_adv" in rows[i] and rows[i]["loss"] == pytest.approx(fwd[3], rel=1e-5)
        assert rows[i]["loss_adversary"] == pytest.approx(d_loss[3], rel=1e-5)
        if nxt is not None:  # exactly one D update and one G update per step, in the order checked above
            assert not torch.equal(nxt[1], d_loss[1]), f"step {i + 1}: D did not step"
            assert not torch.equal(nxt[2], fwd[2]), f"step {i + 1}: G did not step"
            if adversary_first:
                assert torch.equal(nxt[1], after[1]), f"step {i + 1}: D changed after G's adversarial term"
            else:
                assert torch.equal(nxt[2], after[2]), f"step {i + 1}: G changed after D's loss"
