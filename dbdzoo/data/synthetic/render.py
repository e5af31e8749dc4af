"""``render_defocus``: batched, seeded thin-lens defocus rendering in torch (CPU or CUDA).

Every sample draws its camera and scene from its own generators seeded by ``sample_seed(seed, index)``,
so sample i of a batch depends only on (seed, first_index + i): a batch equals the same samples rendered
one by one. σ is quantised to ``sigma_step`` so that layers of equal σ, across the whole batch, share one
depthwise Gaussian convolution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..io import DataError
from .blur import Compositor
from .camera import CameraConfig, apply_camera, as_camera
from .effects import CAMERA_SALT, EXTRA_SALT, add_highlights, check_psf, draw_aperture
from .lens import SENSOR_WIDTH_MM, coc_px, max_coc_for_sigma, sigma_from_coc, solve_f_number
from .scene import SceneConfig, procedural_scene, smooth_depth

_MASK64 = (1 << 64) - 1


def sample_seed(seed: int, index: int) -> int:
    """SplitMix64 of (seed, index): independent per-sample seeds, a pure function of both."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(index) + 0x632BE59BD9B4E019) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


def _base_seed(generator: torch.Generator | int) -> int:
    if isinstance(generator, torch.Generator):
        return int(torch.randint(0, 2**62, (1,), generator=generator))
    return int(generator)


def render_defocus(
    batch_size: int,
    height: int,
    width: int,
    *,
    generator: torch.Generator | int = 0,
    first_index: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_sigma: float | Sequence[float] = (2.0, 6.0),
    max_coc: float | None = None,
    blur_threshold: float = 0.5,
    sigma_step: float = 0.25,
    images: torch.Tensor | None = None,
    depths: torch.Tensor | None = None,
    textures: torch.Tensor | None = None,
    focal_length: float | None = None,
    focal_lengths: Sequence[float] = (50.0, 70.0, 85.0),
    focal_weights: Sequence[float] = (0.1, 0.4, 0.4),
    f_number: float | None = None,
    focus_distance: float | None = None,
    sensor_width_mm: float = SENSOR_WIDTH_MM,
    scene: SceneConfig | Mapping[str, Any] | None = None,
    fill_holes: bool = True,
    psf: str | Sequence[str] = "gaussian",
    highlights: float = 0.0,
    focus_background: float = 0.0,
    camera: CameraConfig | Mapping[str, Any] | bool | None = None,
) -> dict[str, Any]:
    """Render a batch of defocused images with their σ maps and blur masks.

    Args:
        batch_size, height, width: output shape.
        generator: int seed or ``torch.Generator`` (one base seed is drawn from it).
        first_index: index of the first sample in the seed stream (a dataset item i uses first_index=i).
        max_sigma: largest σ in px, or a (lo, hi) range drawn per sample; with ``f_number=None`` the
            aperture is solved so the extreme depth reaches it (SYNDOF), and σ is clipped to it.
        max_coc: alternative to ``max_sigma`` in CoC pixels (SYNDOF's knob: 29 ↔ σ 7); overrides it.
        blur_threshold: ``mask = defocus > blur_threshold`` (px). 0.5 px: below it a Gaussian leaves
            more than 70 % of the contrast at a quarter of the sampling rate, i.e. visually sharp.
        sigma_step: σ quantisation (layers of equal σ are blurred together); 0 disables grouping.
        images, depths: optional user all-in-focus images B×3×H×W in [0, 1] and depth maps B×1×H×W (mm);
            without depths a smooth random depth is drawn; without images a procedural scene is drawn.
        textures: optional N×3×h×w pool of user textures mixed into procedural scenes.
        focal_length, f_number, focus_distance: fix the camera (mm) instead of drawing it per sample.
        focal_lengths, focal_weights: the SYNDOF focal-length prior.
        sensor_width_mm: sensor width; pixels per mm = width / sensor_width_mm.
        scene: procedural scene ranges (``SceneConfig`` or a dict of its fields, e.g. from Hydra).
        fill_holes: repair revealed background for depth-map inputs (SYNDOF step 6).
        psf: ``gaussian`` (default), ``disc`` or ``polygon`` (5–9 blades) aperture PSF of equal CoC, or a
            list of them, one drawn per sample.
        highlights: probability that a procedural scene gets HDR specular points (bokeh when blurred).
        focus_background: probability of focusing on the background plane instead (blurred foreground
            over a sharp background).
        camera: ``CameraConfig`` / dict / ``True`` for exposure, vignetting, noise, tone curve and JPEG
            after rendering (``None``: the clean render).

    Returns:
        dict with ``image`` B×3×H×W in [0, 1], ``mask`` B×1×H×W {0, 1} (1 = blurred), ``defocus`` B×1×H×W
        (σ px, quantised as rendered), ``depth`` B×1×H×W (mm) and ``params`` (per-sample camera tensors).
    """
    if depths is not None and images is None:
        raise DataError("render_defocus: depths were given without images; pass images=B×3×H×W too")
    for name, t, c in (("images", images, 3), ("depths", depths, 1)):
        if t is not None and tuple(t.shape) != (batch_size, c, height, width):
            raise DataError(
                f"render_defocus: {name} has shape {tuple(t.shape)}, expected "
                f"{(batch_size, c, height, width)}"
            )
    if max_coc is not None:
        max_sigma = (float(max_coc) - 1.0) / 4.0
    lo, hi = (
        (float(max_sigma), float(max_sigma)) if isinstance(max_sigma, int | float) else map(float, max_sigma)
    )
    if not 0 < lo <= hi:
        raise DataError(f"render_defocus: max_sigma={max_sigma!r} must be positive (lo <= hi)")
    device = torch.device(device)
    cfg = scene if isinstance(scene, SceneConfig) else SceneConfig(**dict(scene or {}))  # dicts from configs
    base = _base_seed(generator)
    px_per_mm = width / sensor_width_mm
    weights = torch.tensor(focal_weights, dtype=torch.float64)
    kinds, cam = check_psf(psf), as_camera(camera)

    samples, params, apertures, seeds = [], [], [], []
    for b in range(batch_size):
        s = sample_seed(base, first_index + b)
        seeds.append(s)
        xgen = torch.Generator().manual_seed(s ^ EXTRA_SALT)  # extras never shift the scene's streams
        apertures.append(draw_aperture(xgen, kinds))
        gen = torch.Generator().manual_seed(s)
        dgen = torch.Generator(device=device).manual_seed(s ^ 0x5DEECE66D)
        f = (
            float(focal_length)
            if focal_length is not None
            else float(focal_lengths[int(torch.multinomial(weights, 1, generator=gen))])
        )
        smax = lo + (hi - lo) * float(torch.rand(1, generator=gen, dtype=torch.float64))
        if images is None:
            sc = procedural_scene(height, width, gen, dgen, cfg, device=device, dtype=dtype, pool=textures)
            if highlights > 0 and float(torch.rand(1, generator=xgen)) < highlights:
                sc["plane_tex"] = add_highlights(sc["plane_tex"], xgen)
                sc["tex"] = torch.stack([add_highlights(t, xgen, (0, 8)) for t in sc["tex"]])
            depth_all = torch.cat([sc["plane_depth"].flatten().double(), sc["depths"].to(device).double()])
        else:
            d = (
                depths[b].to(device, torch.float64)
                if depths is not None
                else smooth_depth(height, width, gen, dgen, cfg, device=device, dtype=torch.float64)
            )
            d = d + max(0.0, 5 * f - float(d.min()))  # SYNDOF: nearest depth no closer than 5 f
            sc = {"depth": d, "image": images[b].to(device, dtype)}
            depth_all = d.flatten()
        zmin, zmax = float(depth_all.min()), float(depth_all.max())
        on_background = (
            images is None
            and focus_background > 0
            and float(torch.rand(1, generator=xgen)) < focus_background
        )
        if focus_distance is not None:
            zf = float(focus_distance)
        elif on_background:
            plane = sc["plane_depth"].flatten()
            zf = float(plane[int(torch.randint(plane.numel(), (1,), generator=xgen))])
        else:
            zf = _draw_focus(gen, sc, zmin, zmax)
        if zf <= f:
            raise DataError(f"render_defocus: focus distance {zf} mm must exceed the focal length {f} mm")
        n = (
            f_number
            if f_number is not None
            else solve_f_number(f, zf, zmin, zmax, max_coc_for_sigma(smax), px_per_mm)
        )
        samples.append(sc)
        params.append((f, n, zf, smax))

    def level(z: torch.Tensor, b: int) -> torch.Tensor:
        """Signed σ level: + far side, − near side, 0 in focus."""
        f, n, zf, smax = params[b]
        sigma = sigma_from_coc(coc_px(z.double(), f, n, zf, px_per_mm), smax)
        q = sigma_step if sigma_step > 0 else 1.0
        # round to the nearest level but never above max_sigma, so the clip survives quantisation
        lev = torch.round(sigma / q).clamp_max(math.floor(smax / q + 1e-9)) if sigma_step > 0 else sigma / q
        return torch.where(z.double() >= zf, lev, -lev)

    layers: list[dict[str, Any]] = []
    for b, sc in enumerate(samples):
        if images is None:
            plane_t = level(sc["plane_depth"], b)
            obj_t = level(sc["depths"].to(device), b)
            visible, visible_t = sc["plane_depth"].clone(), plane_t.clone()
            for k in range(len(obj_t)):  # paint far to near: the front-most surface labels the pixel
                visible = torch.where(sc["masks"][k], sc["depths"][k].to(device, dtype), visible)
                visible_t = torch.where(sc["masks"][k], obj_t[k], visible_t)
            layers.append({"plane_t": plane_t, "obj_t": obj_t, "visible": visible, "visible_t": visible_t})
        else:
            plane_t = level(sc["depth"], b)
            layers.append(
                {"plane_t": plane_t, "obj_t": None, "visible": sc["depth"].to(dtype), "visible_t": plane_t}
            )

    present = [
        set(torch.unique(lay["plane_t"]).tolist())
        | (set(lay["obj_t"].tolist()) if lay["obj_t"] is not None else set())
        for lay in layers
    ]
    comp = Compositor(
        batch_size, height, width, dtype=dtype, device=device, fill_holes=fill_holes and images is not None
    )
    q = sigma_step if sigma_step > 0 else 1.0
    for t in sorted(set().union(*present), reverse=True):  # far (large positive) to near (large negative)
        members = [b for b in range(batch_size) if t in present[b]]
        for ap in dict.fromkeys(apertures[b] for b in members):  # one blur call per PSF shape
            idx = [b for b in members if apertures[b] == ap]
            _add_layer(comp, idx, t, q, ap, samples, layers, images is None, device, dtype)

    visible = torch.stack([lay["visible"] for lay in layers])

    defocus = torch.stack([lay["visible_t"].abs() * q for lay in layers]).to(dtype)  # σ exactly as rendered
    p = torch.tensor(params, dtype=torch.float64)
    image = comp.image(clamp=cam is None)
    if cam is not None:
        image = torch.stack([apply_camera(image[b], cam, seeds[b] ^ CAMERA_SALT) for b in range(batch_size)])
    return {
        "image": image,
        "mask": (defocus > blur_threshold).to(dtype),
        "defocus": defocus,
        "depth": visible,
        "params": {
            "focal_length": p[:, 0],
            "f_number": p[:, 1],
            "focus_distance": p[:, 2],
            "max_sigma": p[:, 3],
        },
    }


def _draw_focus(gen: torch.Generator, sc: dict[str, torch.Tensor], zmin: float, zmax: float) -> float:
    """Focus on a shape (75 %) or a depth favouring near values, as SYNDOF favours nearer depths."""
    u = float(torch.rand(1, generator=gen, dtype=torch.float64))
    if "depths" in sc and len(sc["depths"]) and u < 0.75:
        return float(sc["depths"][int(torch.randint(len(sc["depths"]), (1,), generator=gen))])
    v = float(torch.rand(1, generator=gen, dtype=torch.float64)) ** 2
    if "depth" in sc:
        flat = sc["depth"].flatten().sort().values
        return float(flat[int(v * (flat.numel() - 1))])
    return zmin * (zmax / zmin) ** v


def _add_layer(comp, idx, t, q, aperture, samples, layers, procedural, device, dtype) -> None:
    """Composite every sample of ``idx`` whose σ level ``t`` exists, blurred with one PSF shape."""
    alphas, colors = [], []
    for b in idx:
        sc, lay = samples[b], layers[b]
        alpha = lay["plane_t"] == t
        color = sc["plane_tex"] if procedural else sc["image"]
        if lay["obj_t"] is not None:
            for k in torch.nonzero(lay["obj_t"] == t).flatten().tolist():  # far to near within the layer
                color = torch.where(sc["masks"][k], sc["tex"][k], color)
                alpha = alpha | sc["masks"][k]
        alphas.append(alpha.to(dtype))
        colors.append(color)
    comp.add(
        torch.tensor(idx, device=device),
        torch.stack(alphas),
        torch.stack(colors),
        abs(t) * q,
        t < 0,
        aperture,
    )
