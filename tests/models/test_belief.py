"""Loopy BP in odds form against UGM's ``UGM_Infer_LBP`` written out message by message (2-vectors)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from dbdzoo.models.classical.belief import FP32_SETTLE, loopy_bp


def _ugm_lbp(pot: np.ndarray, alpha: float, max_iter: int, tol: float) -> tuple[np.ndarray, int]:
    """UGM's parallel sum-product LBP on the layer × row × column grid: normalised 2-vector messages,
    every edge both ways from the previous sweep's messages, stop when Σ|Δmsg| < tol. Beliefs, sweeps."""
    layers, _, h, w = pot.shape
    nodes = list(itertools.product(range(layers), range(h), range(w)))
    edges = [(a, (a[0], a[1], a[2] + 1)) for a in nodes if a[2] + 1 < w]
    edges += [(a, (a[0], a[1] + 1, a[2])) for a in nodes if a[1] + 1 < h]
    edges += [(a, (a[0] + 1, a[1], a[2])) for a in nodes if a[0] + 1 < layers]
    directed = edges + [(b, a) for a, b in edges]
    psi = np.array([[1, math.exp(-alpha)], [math.exp(-alpha), 1]])
    node = {a: pot[a[0], :, a[1], a[2]].astype(np.float64) for a in nodes}
    msg = {e: np.full(2, 0.5) for e in directed}
    incoming = {a: [e for e in directed if e[1] == a] for a in nodes}
    sweeps = 0
    while sweeps < max_iter:
        sweeps += 1
        new = {}
        for i, j in directed:
            cavity = node[i] * np.prod([msg[e] for e in incoming[i] if e[0] != j], axis=0)
            m = psi.T @ cavity
            new[(i, j)] = m / m.sum()
        change = sum(np.abs(new[e] - msg[e]).sum() for e in directed)
        msg = new
        if change < tol:
            break
    bel = np.zeros((layers, h, w))
    for a in nodes:
        b = node[a] * np.prod([msg[e] for e in incoming[a]], axis=0)
        bel[a] = b[0] / b.sum()
    return bel, sweeps


def test_loopy_bp_is_exact_on_a_chain() -> None:
    # one pixel, three layers: a chain, where belief propagation gives the exact marginals
    pot = torch.tensor([[0.9, 0.2], [0.3, 0.6], [0.5, 0.7]]).view(1, 3, 2, 1, 1)
    d = math.exp(-0.5)
    joint = np.zeros((2, 2, 2))
    for x in itertools.product((0, 1), repeat=3):
        node = np.prod([float(pot[0, i, x[i], 0, 0]) for i in range(3)])
        joint[x] = node * (d if x[0] != x[1] else 1) * (d if x[1] != x[2] else 1)
    exact = joint.sum((1, 2))[0] / joint.sum()
    bel = loopy_bp(pot[:, :, 0] / pot[:, :, 1], 0.5).state0
    assert float(bel[0, 0, 0, 0]) == pytest.approx(exact, abs=1e-6)


@pytest.mark.parametrize(
    ("alpha", "max_iter", "tol"), [(0.5, 3, 1e-4), (1.5, 7, 1e-4), (0.5, 100, 1e-4), (2.0, 100, 0.05)]
)
def test_loopy_bp_follows_ugm_sweep_for_sweep(alpha: float, max_iter: int, tol: float) -> None:
    # a loopy 3 × 4 × 5 grid with strong, mixed potentials; a few sweeps (the schedule), convergence
    # (UGM's stopping rule) and an early stop at a loose tolerance (where the sweep count matters)
    rng = np.random.default_rng(3)
    pot = np.exp(rng.uniform(-1, 1, (3, 2, 4, 5)))
    want, sweeps = _ugm_lbp(pot, alpha, max_iter, tol)
    odds = torch.from_numpy(pot[:, 0] / pot[:, 1])[None]
    got, got_sweeps = loopy_bp(odds, alpha, max_iter, tol)
    assert got_sweeps == (sweeps,)
    got = got[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)
    if tol > 1e-3:  # stopped early: one sweep more or fewer would move the beliefs
        assert sweeps < max_iter
        assert np.abs(loopy_bp(odds, alpha, sweeps + 1, 0).state0[0].numpy() - want).max() > 1e-9


def test_loopy_bp_in_fp32_stays_close_to_fp64() -> None:
    rng = np.random.default_rng(4)
    odds = torch.from_numpy(np.exp(rng.uniform(-2, 2, (2, 3, 30, 40))))
    torch.testing.assert_close(
        loopy_bp(odds.float(), 0.5).state0, loopy_bp(odds, 0.5).state0.float(), atol=2e-6, rtol=0
    )


def test_each_image_of_a_batch_stops_on_its_own() -> None:
    # strong and weak potentials converge at different sweeps: in a batch each stops where it would alone
    rng = np.random.default_rng(5)
    odds = torch.from_numpy(np.exp(np.stack([rng.uniform(-3, 3, (3, 6, 7)), rng.uniform(-1, 1, (3, 6, 7))])))
    batch = loopy_bp(odds, 0.5, 100, 1e-6)
    alone = [loopy_bp(odds[i : i + 1], 0.5, 100, 1e-6) for i in range(2)]
    assert batch.sweeps == tuple(a.sweeps[0] for a in alone)
    assert batch.sweeps[0] != batch.sweeps[1] and max(batch.sweeps) < 100
    for i in range(2):
        torch.testing.assert_close(batch.state0[i : i + 1], alone[i].state0, atol=1e-15, rtol=0)


def test_fp32_settle_stops_where_the_messages_stop_moving() -> None:
    # at a tolerance fp32 cannot reach, UGM's rule runs every sweep; the settle stop ends the run once no
    # message moves by more than 2^-22, where the beliefs are as close to the fixed point as all sweeps
    rng = np.random.default_rng(4)
    odds = torch.from_numpy(np.exp(rng.uniform(-2, 2, (1, 3, 30, 40))))
    fixed_point = loopy_bp(odds, 0.5, 300, 1e-13).state0.float()
    every = loopy_bp(odds.float(), 0.5, 300, 1e-13)
    settled = loopy_bp(odds.float(), 0.5, 300, 1e-13, settle=FP32_SETTLE)
    assert every.sweeps == (300,) and 5 < settled.sweeps[0] < 300
    torch.testing.assert_close(settled.state0, fixed_point, atol=2e-6, rtol=0)
    # the same arithmetic as a plain run of that many sweeps; a looser settle stops no later
    torch.testing.assert_close(settled.state0, loopy_bp(odds.float(), 0.5, settled.sweeps[0], 0).state0)
    assert loopy_bp(odds.float(), 0.5, 300, 1e-13, settle=2.0**-18).sweeps[0] < settled.sweeps[0]
