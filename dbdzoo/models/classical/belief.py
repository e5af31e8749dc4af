"""Sum-product loopy belief propagation on LBP's three-layer grid (UGM's ``UGM_Infer_LBP``), batched.

The states are binary and the edge potential is Potts, so a message is one number: its odds ρ (the
ratio of its two entries). A node's belief odds are Z = e^h·Π_k ρ_k over its six incoming messages,
and the message it sends back along edge k is the Potts transform of Z/ρ_k:

    ρ_out = (Z + ε·ρ_k) / (ε·Z + ρ_k) = ε + (1 − ε²)·Z / (ε·Z + ρ_k),     ε = e^−alpha.

So a sweep is one product over seven maps and two kernels per direction (``add``, ``addcdiv``): about
20 passes over the nodes, where the sweep's cost lies (it is memory-bound). Messages stay in (ε, 1/ε)
and Z in e^±(1 + 6·alpha): fp32 holds them with room to spare.
"""

from __future__ import annotations

import math

import torch


def _changed_at_least(
    new: torch.Tensor, old: torch.Tensor, tol: float, eps: float, scratch: torch.Tensor
) -> bool:
    """UGM's test fails: Σ |Δ normalised message| ≥ tol, summed over both entries of every message.

    A message's first entry is ρ/(1 + ρ), so its change is |Δρ|/((1 + ρ)(1 + ρ')) ≥ |Δρ|·ε²/(1 + ε)²
    (ρ ≤ 1/ε). Partial sums of that bound are lower bounds of the total: an eighth of the first map
    decides the early sweeps, the first map most of the rest; only then is the exact sum taken.
    """
    bound = 2 * (eps / (1 + eps)) ** 2  # both entries change by the same amount
    first, was = new[0].reshape(-1), old[0].reshape(-1)
    work = scratch.view(-1)
    for n in (first.numel() // 8, first.numel()):
        if n and bound * float(torch.sub(first[:n], was[:n], out=work[:n]).abs_().sum()) >= tol:
            return True
    return 2 * float((new / (1 + new) - old / (1 + old)).abs().sum()) >= tol


def loopy_bp(odds: torch.Tensor, alpha: float, max_iter: int = 100, tol: float = 1e-4) -> torch.Tensor:
    """Sum-product loopy BP, parallel updates: a 4-connected grid per layer, links between layers.

    Args:
        odds: each node's potential ratio ψ(state 0)/ψ(state 1), B×L×H×W (L layers), positive and
            finite: the ratio, not the two potentials, so that callers can form it where the
            potentials themselves would underflow.
        alpha: Potts weight: edge potential e^−alpha between different states, 1 between equal ones.
        max_iter, tol: UGM's stopping rule: after ``max_iter`` sweeps, or once the summed change of the
            normalised messages is below ``tol``.

    Returns:
        Belief of state 0 per node, B×L×H×W.
    """
    eps = math.exp(-alpha)
    b, layers, h, w = odds.shape
    # maps 0–5: incoming messages from the left, right, up, down, previous and next layer neighbour;
    # map 6: the node's own odds e^h, fixed, so that one product gives Z. Uniform messages (ρ = 1)
    # where there is no neighbour.
    buf = torch.ones((2, 7, b, layers, h, w), dtype=odds.dtype, device=odds.device)
    buf[:, 6] = odds
    rho, new = buf[0], buf[1]
    z, den = torch.empty((2, b, layers, h, w), dtype=odds.dtype, device=odds.device)
    eps_t = torch.tensor(eps, dtype=odds.dtype, device=odds.device)
    # Neighbours as offsets in the flattened layer×row×column index (contiguous runs). A sender's message
    # to us leaves out what we sent it: the opposite direction's incoming map, read at the sender.
    offsets = [1, -1, w, -w, h * w, -h * w]
    opposite = [1, 0, 3, 2, 5, 4]
    # where a row's end "sends" to the next row's start (and a layer's last row to the next layer's
    # first): no such edge, reset to uniform after each sweep
    no_sender = [(slice(None), 0), (slice(None), w - 1), (0, slice(None)), (h - 1, slice(None))]
    flat = lambda t: t.view(b, -1)  # noqa: E731
    for _ in range(max_iter):
        torch.prod(rho, 0, out=z)
        for k, step in enumerate(offsets):
            n = max(layers * h * w - abs(step), 0)
            src, dst = (0, step) if step > 0 else (-step, 0)
            o, out = flat(rho[opposite[k]]).narrow(1, src, n), flat(new[k]).narrow(1, dst, n)
            z_src, den_src = flat(z).narrow(1, src, n), flat(den).narrow(1, src, n)
            torch.add(o, z_src, alpha=eps, out=den_src)
            torch.addcdiv(eps_t, z_src, den_src, value=1 - eps * eps, out=out)
        for k, at in enumerate(no_sender):
            new[k][(..., *at)] = 1
        changed = _changed_at_least(new[:6], rho[:6], tol, eps, scratch=den)
        rho, new = new, rho
        if not changed:
            break
    torch.prod(rho, 0, out=z)
    return z / (1 + z)
