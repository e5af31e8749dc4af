"""Sum-product loopy belief propagation on LBP's three-layer grid (UGM's ``UGM_Infer_LBP``), batched.

The states are binary and the edge potential is Potts, so a message is one number: its odds ρ (the
ratio of its two entries). A node's belief odds are Z = e^h·Π_k ρ_k over its six incoming messages,
and the message it sends back along edge k is the Potts transform of Z/ρ_k:

    ρ_out = (Z + ε·ρ_k) / (ε·Z + ρ_k) = ε + (1 − ε²)·Z / (ε·Z + ρ_k),     ε = e^−alpha.

So a sweep is one product over seven maps and two kernels per direction (``add``, ``addcdiv``): about
20 passes over the nodes, where the sweep's cost lies (memory traffic). Messages stay in (ε, 1/ε) and
Z in e^±(1 + 6·alpha). Each image of a batch stops on its own (its messages are then held), so a
batch gives every image what it would get alone.

Precision. In fp32 the messages end up flickering by an ulp: over the ~5 million messages of a 640×427
photo that sums to 1e-4–1e-2, above UGM's tolerance (Σ|Δ normalised message| < 1e-4), so UGM's rule
alone never stops an fp32 run, while UGM's fp64 run stops after 20–100 sweeps on CUHK photos. The
``settle`` stop is fp32's own end: once no message moves by more than 2^-22 (2–4 ulps) in a sweep the
iteration has converged as far as fp32 can hold it. On 37 CUHK photos it stopped 10 sweeps before to 12
after UGM's fp64 run (the same on photos where UGM runs all 100), beliefs within 2.5e-6 of UGM's, as
close as 100 fp32 sweeps come (2.9e-6). fp64 input runs in fp64 and, with ``settle=0``, stops where
UGM does, at about twice the cost per sweep.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

#: ``settle`` for fp32 messages: 2^-22 is 2 ulps of odds in [1, 2), 4 in [1/2, 1) (messages lie in (ε, 1/ε))
FP32_SETTLE = 2.0**-22


class Beliefs(NamedTuple):
    """Belief of state 0 per node (B×L×H×W) and, per image, the number of sweeps it ran."""

    state0: torch.Tensor
    sweeps: tuple[int, ...]


def _change_at_least(new: torch.Tensor, old: torch.Tensor, limit: float, scratch: torch.Tensor) -> bool:
    """Σ |Δ normalised message| ≥ ``limit``, summed over both entries of every message (UGM's sum).

    A message's first entry is ρ/(1 + ρ), so its change is |Δρ|/((1 + ρ)(1 + ρ')); the sum is taken map
    by map, each partial sum a lower bound of the total. ``scratch``: two tensors shaped as one map.
    """
    diff, prod = scratch
    total = 0.0
    for k in range(new.shape[0]):
        torch.sub(new[k], old[k], out=diff).abs_()
        torch.add(new[k], old[k], out=prod).add_(1).addcmul_(new[k], old[k])  # (1 + ρ)(1 + ρ')
        total += 2 * float(diff.div_(prod).sum())  # both entries change by the same amount
        if total >= limit:
            return True
    return False


def _settled(new: torch.Tensor, old: torch.Tensor, limit: float, diff: torch.Tensor) -> bool:
    """No message's odds moved by more than ``limit`` (map by map: stops at the first that moved)."""
    moved = (torch.sub(new[k], old[k], out=diff).abs_().max() for k in range(new.shape[0]))
    return all(float(m) <= limit for m in moved)


def _still_running(
    new: torch.Tensor, old: torch.Tensor, running: list[int], tol: float, settle: float, eps: float,
    work: torch.Tensor,
) -> list[int]:  # fmt: skip
    """The images of ``running`` for which neither UGM's rule nor the settle stop holds after this sweep.

    An eighth of the first map, read for the whole batch at once (one host read), decides the images
    that are clearly still moving: a change there above ``settle`` and, as |Δρ|/((1 + ρ)(1 + ρ')) ≥
    |Δρ|·ε²/(1 + ε)² (ρ ≤ 1/ε), a lower bound of UGM's sum at ``tol`` or more. That answers the early
    sweeps; the rest are checked exactly, image by image. ``work``: two maps of scratch, overwritten.
    """
    b = new.shape[1]
    n = new[0, 0].numel() // 8
    bound = 2 * (eps / (1 + eps)) ** 2  # both entries of a message change by the same amount
    part = work[0].view(b, -1)[:, :n]
    torch.sub(new[0].view(b, -1)[:, :n], old[0].view(b, -1)[:, :n], out=part).abs_()
    largest, total = torch.stack([part.amax(1), part.sum(1)]).tolist() if n else ([0.0] * b, [0.0] * b)
    go_on = []
    for i in running:
        clearly = (settle == 0 or largest[i] > settle) and bound * total[i] >= tol
        new_i, old_i, scratch = new[:, i : i + 1], old[:, i : i + 1], work[:, i : i + 1]
        if clearly or (
            not (settle > 0 and _settled(new_i, old_i, settle, scratch[0]))
            and _change_at_least(new_i, old_i, tol, scratch)
        ):
            go_on.append(i)
    return go_on


def loopy_bp(
    odds: torch.Tensor, alpha: float, max_iter: int = 100, tol: float = 1e-4, settle: float = 0.0
) -> Beliefs:
    """Sum-product loopy BP, parallel updates: a 4-connected grid per layer, links between layers.

    Args:
        odds: each node's potential ratio ψ(state 0)/ψ(state 1), B×L×H×W (L layers), positive and
            finite: the ratio, not the two potentials, so that callers can form it where the
            potentials themselves would underflow.
        alpha: Potts weight: edge potential e^−alpha between different states, 1 between equal ones.
        max_iter, tol: UGM's stopping rule, per image: after ``max_iter`` sweeps, or once the summed
            change of its normalised messages is below ``tol``.
        settle: also stop an image once none of its messages' odds moves by more than this in a sweep
            (0: UGM's rule alone; ``FP32_SETTLE`` for fp32 messages, see the module's docstring).
    """
    eps = math.exp(-alpha)
    b, layers, h, w = odds.shape
    # maps 0–5: incoming messages from the left, right, up, down, previous and next layer neighbour;
    # map 6: the node's own odds e^h, fixed, so that one product gives Z. Uniform messages (ρ = 1)
    # where there is no neighbour. work: Z, then the denominators, then the stopping tests' scratch.
    buf = torch.ones((2, 7, b, layers, h, w), dtype=odds.dtype, device=odds.device)
    buf[:, 6] = odds
    work = torch.empty((2, b, layers, h, w), dtype=buf.dtype, device=odds.device)
    # Neighbours as offsets in the flattened layer×row×column index (contiguous runs). A sender's message
    # to us leaves out what we sent it: the opposite direction's incoming map, read at the sender.
    offsets = [1, -1, w, -w, h * w, -h * w]
    opposite = [1, 0, 3, 2, 5, 4]
    # where a row's end "sends" to the next row's start (and a layer's last row to the next layer's
    # first): no such edge, reset to uniform after each sweep
    no_sender = [(slice(None), 0), (slice(None), w - 1), (0, slice(None)), (h - 1, slice(None))]
    flat = lambda t: t.view(b, -1)  # noqa: E731
    eps_t = torch.tensor(eps, dtype=buf.dtype, device=buf.device)
    cur, sweep, sweeps = 0, 0, [0] * b
    running = list(range(b))
    while running and sweep < max_iter:
        sweep += 1
        rho, new, z, den = buf[cur], buf[1 - cur], flat(work[0]), flat(work[1])
        torch.prod(rho, 0, out=work[0])
        for k, step in enumerate(offsets):
            n = max(layers * h * w - abs(step), 0)
            src, dst = (0, step) if step > 0 else (-step, 0)
            o, out = flat(rho[opposite[k]]).narrow(1, src, n), flat(new[k]).narrow(1, dst, n)
            z_src, den_src = z.narrow(1, src, n), den.narrow(1, src, n)
            torch.add(o, z_src, alpha=eps, out=den_src)
            torch.addcdiv(eps_t, z_src, den_src, value=1 - eps * eps, out=out)
        for k, at in enumerate(no_sender):
            new[k][(..., *at)] = 1
        for i in set(range(b)) - set(running):  # stopped: its messages stay as they were
            new[:6, i] = rho[:6, i]
        still = _still_running(new[:6], rho[:6], running, tol, settle, eps, work)
        for i in set(running) - set(still):
            sweeps[i] = sweep
        running = still
        cur = 1 - cur
    for i in running:  # stopped by max_iter
        sweeps[i] = sweep
    torch.prod(buf[cur], 0, out=work[0])
    return Beliefs(work[0] / (1 + work[0]), tuple(sweeps))
