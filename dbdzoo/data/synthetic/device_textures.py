"""Batched surface textures for the device renderer: procedural noise, stripes and gradients, photo crops
and HDR highlights for every surface of every sample at once (``scene.textures``, ``effects.add_highlights``).

Surfaces are stored compactly (only the plane and the valid shapes of each sample), addressed by their
slot ``b·(K+1) + i`` in the padded layout (slot 0 = the plane, i ≥ 1 = shape i − 1). Continuous parameters
are keyed draws on the device; choices that pick work (which surfaces are photo crops, which crop) are
the same keyed draws evaluated on the host, so no device synchronisation is needed. Pixel noise (1/f
octaves, grain) comes from the batch generator ``gen``.
"""

from __future__ import annotations

import math

import torch

from .device_draws import SampleDraws, upload
from .scene import SceneConfig, add_grain, fbm_noise, texture_from_params

MAX_SPOTS = 40  # highlights per texture: the plane gets 5–40, each shape 0–8 (effects.add_highlights)


def surface_textures(
    d: SampleDraws,
    host: SampleDraws,
    gen: torch.Generator,
    slots: list[int],
    k1: int,
    h: int,
    w: int,
    cfg: SceneConfig,
    pool: torch.Tensor | None,
) -> torch.Tensor:
    """Textures in [0, 1] of the surfaces at padded ``slots`` (k1 = K + 1 slots per sample), n×3×H×W.

    ``pool``: texture photos channels-last, N×S×S×3, on the device.
    """
    n, dev = len(slots), d.device
    at = upload(slots, dev)

    def draw(name: str, *shape: int) -> torch.Tensor:
        return d.uniform(name, k1, *shape).flatten(0, 1)[at]

    kind, c1, c2 = draw("tex_kind"), draw("tex_c1", 3).view(n, 3, 1, 1), draw("tex_c2", 3).view(n, 3, 1, 1)
    exponent = 0.6 + 0.8 * draw("tex_exponent")
    freq, phase, angle = 2 + 38 * draw("tex_freq"), 6.283 * draw("tex_phase"), 3.1416 * draw("tex_angle")
    noise = fbm_noise(n, h, w, gen, exponent, device=dev, dtype=torch.float32)
    tex = texture_from_params(kind, c1, c2, freq, phase, angle, noise)
    if cfg.detail > 0:
        amp = cfg.detail * (0.5 + draw("tex_detail")).view(n, 1, 1, 1)
        tex = add_grain(tex, amp, torch.randn(n, 1, h, w, generator=gen, device=dev))
    if pool is not None and len(pool):
        tex = _photo_textures(host, tex, slots, k1, pool, cfg)
    return tex.clamp(0.0, 1.0)


def _photo_textures(
    host: SampleDraws, tex: torch.Tensor, slots: list[int], k1: int, pool: torch.Tensor, cfg: SceneConfig
) -> torch.Tensor:
    """Replace a ``texture_prob`` share of the textures by random square crops of the pool photos."""
    use = (host.uniform("tex_use", k1).flatten() < cfg.texture_prob).tolist()
    pick = host.integers("tex_pick", 0, len(pool), k1).flatten().tolist()
    frac, u_y, u_x, u_flip = (host.uniform(name, k1).flatten().tolist() for name in ("tex_crop", "tex_y0", "tex_x0", "tex_flip"))  # fmt: skip
    side, (lo, hi) = pool.shape[1], tuple(cfg.texture_crop)
    rows = [i for i, s in enumerate(slots) if use[s]]
    if not rows:
        return tex
    crops = []
    for s in (slots[i] for i in rows):
        if (lo, hi) == (1.0, 1.0):
            crops.append((pick[s], side, 0, 0, 0))
            continue
        c = max(8, int(side * (lo + (hi - lo) * frac[s])))
        crops.append(
            (pick[s], c, int(u_y[s] * (side - c + 1)), int(u_x[s] * (side - c + 1)), int(u_flip[s] < 0.5))
        )
    p, c, y0, x0, flip = upload([v for crop in crops for v in crop], tex.device).view(-1, 5).unbind(1)
    out = tex.clone()
    out[upload(rows, tex.device)] = crop_resize(pool, p, c, y0, x0, flip.bool(), *tex.shape[-2:])
    return out


def crop_resize(
    pool: torch.Tensor,
    pick: torch.Tensor,
    side: torch.Tensor,
    y0: torch.Tensor,
    x0: torch.Tensor,
    flip: torch.Tensor,
    h: int,
    w: int,
) -> torch.Tensor:
    """Crops ``pool[pick, :, y0:y0+side, x0:x0+side]`` (mirrored where ``flip``) resized to h×w, m×3×h×w.

    ``pool`` is channels-last, N×S×S×3. Bilinear with ``F.interpolate``'s sampling (align_corners=False,
    edge clamp, no antialias), but every crop has its own window, so all come from one gather each for
    the four neighbours instead of m interpolate calls.
    """
    s = pool.shape[1]
    rgb = pool.reshape(-1, 3)

    def axis(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        src = ((torch.arange(n, device=pool.device) + 0.5) * (side[:, None] / n) - 0.5).clamp_min(0.0)
        lo = src.floor()
        return lo.long(), torch.minimum(lo.long() + 1, side[:, None] - 1), (src - lo)

    r0, r1, fy = axis(h)
    c0, c1, fx = axis(w)
    c0, c1 = (torch.where(flip[:, None], side[:, None] - 1 - c, c) + x0[:, None] for c in (c0, c1))
    r0, r1 = ((pick[:, None] * s + r + y0[:, None]) * s for r in (r0, r1))

    def at(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        flat = (r[:, :, None] + c[:, None, :]).flatten()
        return rgb.index_select(0, flat).view(len(r), r.shape[1], c.shape[1], 3)  # m×h×w×3

    fy, fx = fy[:, :, None, None], fx[:, None, :, None]
    top = at(r0, c0) * (1 - fx) + at(r0, c1) * fx
    bottom = at(r1, c0) * (1 - fx) + at(r1, c1) * fx
    return (top * (1 - fy) + bottom * fy).permute(0, 3, 1, 2).contiguous()


def add_highlights(d: SampleDraws, tex: torch.Tensor, slots: list[int], k1: int, prob: float) -> torch.Tensor:
    """HDR specular points (1–2 px, 3–60× white) on the surfaces of a ``prob`` share of the samples.

    The plane gets 5–40 points, each shape 0–8; every point is written into a 7×7 window with a max,
    exactly as ``effects.add_highlights`` paints them one by one.
    """
    n, h, w = tex.shape[0], tex.shape[-2], tex.shape[-1]
    at = upload(slots, d.device)

    def draw(name: str, *shape: int) -> torch.Tensor:
        return d.uniform(name, k1, *shape).flatten(0, 1)[at]

    plane = upload([s % k1 == 0 for s in slots], d.device)
    count = torch.where(
        plane, 5 + (draw("hl_plane_count") * 36).floor(), (draw("hl_shape_count") * 9).floor()
    )
    on = (d.uniform("hl_flag", 1) < prob).expand(-1, k1).flatten()[at]
    valid = on[:, None] & (torch.arange(MAX_SPOTS, device=d.device) < count[:, None])  # n×S
    cy, cx = draw("hl_cy", MAX_SPOTS) * h, draw("hl_cx", MAX_SPOTS) * w
    rad = 0.6 + 1.4 * draw("hl_radius", MAX_SPOTS)
    gain = torch.exp(math.log(3.0) + (math.log(60.0) - math.log(3.0)) * draw("hl_gain", MAX_SPOTS))
    tint = 0.7 + 0.3 * draw("hl_tint", MAX_SPOTS, 3)
    off = torch.arange(-3, 4, device=d.device, dtype=torch.float32)
    py = cy.floor()[..., None, None] + off.view(7, 1)  # n×S×7×1
    px = cx.floor()[..., None, None] + off.view(1, 7)  # n×S×1×7
    dist = ((py + 0.5 - cy[..., None, None]) ** 2 + (px + 0.5 - cx[..., None, None]) ** 2).sqrt()
    spot = (rad[..., None, None] + 0.5 - dist).clamp(0.0, 1.0)
    keep = valid[..., None, None] & (py >= 0) & (py < h) & (px >= 0) & (px < w)
    val = (spot * keep)[..., None] * (gain[..., None] * tint)[:, :, None, None, :]  # n×S×7×7×3
    index = (py.clamp(0, h - 1) * w + px.clamp(0, w - 1)).long().reshape(n, 1, -1).expand(n, 3, -1)
    src = val.permute(0, 4, 1, 2, 3).reshape(n, 3, -1)
    out = tex.reshape(n, 3, h * w).scatter_reduce(2, index, src, reduce="amax")  # textures ≥ 0: 0 is a no-op
    return out.view_as(tex)
