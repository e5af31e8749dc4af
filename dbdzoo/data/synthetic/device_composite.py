"""Layered back-to-front compositing of a whole batch on the device (the batched ``blur.Compositor``).

Every sample's scene is a stack of σ levels (signed: + behind the focus, − in front). Level by level,
far to near, the layer of every sample that has it (the plane pixels and shapes of that level, the
nearest shape's texture on top) is blurred in one batched FFT call and composited "over" the
accumulators. Which samples have which level is read back to the host once per batch; every index the
loop needs is then uploaded in one go, shape masks are gathered only for the samples with a shape at
the level, and the PSFs of a σ are built once for the levels +t and −t.
"""

from __future__ import annotations

import numpy as np
import torch

from .blur import composite_over
from .device_blur import fft_blur, level_kernels
from .device_draws import upload


class _Plan:
    """Host-side schedule of a batch: levels far to near with their members, and every index in one tensor."""

    def __init__(self, present: np.ndarray, lmax: int, device: torch.device) -> None:
        self.levels: list[tuple[int, list[int], bool]] = []  # (level, members, any shape)
        union: dict[int, set[int]] = {}
        flat: list[int] = []
        self._spans: dict[tuple[str, int], tuple[int, int]] = {}

        def put(key: tuple[str, int], values: list[int]) -> None:
            self._spans[key] = (len(flat), len(flat) + len(values))
            flat.extend(values)

        for li in reversed(range(present.shape[1])):
            members = np.flatnonzero(present[:, li].any(1)).tolist()
            if not members:
                continue
            t = li - lmax
            with_shapes = np.flatnonzero(present[members, li, 1]).tolist()  # positions within members
            self.levels.append((t, members, bool(with_shapes)))
            put(("members", t), members)
            put(("shaped", t), with_shapes)
            put(("shaped_samples", t), [members[i] for i in with_shapes])
            if t != 0:
                union.setdefault(abs(t), set()).update(members)
        self.union = {a: sorted(m) for a, m in union.items()}
        for a, samples in self.union.items():
            put(("union", a), samples)
        for t, members, _ in self.levels:  # where each member's PSF sits among the kernels of |t|
            if t != 0:
                row = {m: i for i, m in enumerate(self.union[abs(t)])}
                put(("kernel", t), [row[m] for m in members])
        self._index = upload(flat, device)

    def __call__(self, kind: str, t: int) -> torch.Tensor:
        start, end = self._spans[(kind, t)]
        return self._index[start:end]


def composite_levels(
    plane_t: torch.Tensor,
    obj_t: torch.Tensor,
    masks: torch.Tensor,
    valid: torch.Tensor,
    tex: torch.Tensor,
    starts: torch.Tensor,
    psf: tuple[list[int], torch.Tensor, torch.Tensor],
    lmax: int,
    sigma_step: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite every σ level of every sample; returns premultiplied colour B×3×H×W and coverage B×1×H×W.

    Args:
        plane_t, obj_t: signed σ levels of the plane pixels (B×1×H×W) and shapes (B×K), in [−lmax, lmax].
        masks, valid: shape masks B×K×H×W (empty when invalid) and validity B×K.
        tex: compact surface textures: sample b's plane is ``tex[starts[b]]``, its shape i ``tex[starts[b]+1+i]``.
        psf: PSF codes on the host (B), and PSF codes and iris rotations on the device (B each).
        lmax, sigma_step: the largest level and the σ of one level step.
    """
    b, k = obj_t.shape
    _, _, h, w = plane_t.shape
    dev, nlev = plane_t.device, 2 * lmax + 1
    on_plane = torch.zeros(b, nlev, device=dev).scatter_(1, (plane_t.flatten(1) + lmax).long(), 1.0)
    shape_at = (obj_t + lmax).long().clamp(0, nlev - 1)
    on_shape = torch.zeros(b, nlev, device=dev).scatter_reduce(1, shape_at, valid.float(), "amax")
    present = torch.stack([on_plane, on_shape], -1).bool().cpu().numpy()  # the one read-back of a batch
    plan = _Plan(present, lmax, dev)
    color = torch.zeros(b, 3, h, w, device=dev)
    coverage = torch.zeros(b, 1, h, w, device=dev)
    flat = tex.flatten(2)
    rank = torch.arange(1, k + 1, device=dev, dtype=torch.uint8).view(1, k, 1, 1)
    codes, dcodes, rotations = psf
    kernels: dict[int, torch.Tensor] = {}
    for t, members, has_shapes in plan.levels:  # far (large positive) to near (large negative)
        full = len(members) == b
        idx = plan("members", t)

        def sub(x: torch.Tensor) -> torch.Tensor:
            return x if full else x[idx]  # noqa: B023  (used within this iteration only)

        alpha = sub(plane_t) == t
        layer = tex[sub(starts)]  # the plane's texture
        if has_shapes:  # only the samples with a shape at this level: the nearest one shows
            at, samples = plan("shaped", t), plan("shaped_samples", t)
            cover = masks[samples] & (obj_t[samples] == t)[..., None, None]
            alpha[at] |= cover.any(1, keepdim=True)
            top = (cover * rank).amax(1, keepdim=True).long()  # 0 = the plane
            pick = (starts[samples].view(-1, 1, 1, 1) + top).flatten(1)
            layer[at] = flat.gather(0, pick[:, None].expand(-1, 3, -1)).view(len(samples), 3, h, w)
        a = alpha.float()
        layer = torch.cat([layer * a, a], 1)
        if t != 0:
            if abs(t) not in kernels:  # built once for +t and −t
                both = plan("union", abs(t))
                kinds = {codes[m] for m in plan.union[abs(t)]}
                kernels[abs(t)] = level_kernels(abs(t) * sigma_step, kinds, dcodes[both], rotations[both])
            mine = kernels[abs(t)]
            if len(members) != len(mine):
                mine = mine[plan("kernel", t)]
            layer = fft_blur(layer, mine)
        c, a = composite_over(sub(color), sub(coverage), layer)
        if full:
            color, coverage = c, a
        else:
            color[idx], coverage[idx] = c, a
    return color, coverage
