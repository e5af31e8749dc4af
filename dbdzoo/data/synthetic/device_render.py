"""``DeviceRenderer``: the photoreal procedural renderer, vectorised over a whole batch on one device.

The worker renderer (``render.render_defocus``) loops over samples with per-sample generators and many
small ops; fine on CPU workers, slow as a GPU feeder. This renders the same scenes (same distributions,
same thin-lens σ, same layered "over" compositing, PSFs, highlights, background focus and camera) with
batched tensors: per-sample parameters are keyed draws (``SampleDraws``), layer masks are built for all
samples at once, every σ level is blurred in one FFT call over the samples that have it, and JPEG is a
batched DCT model (``jpeg_dct``). One host synchronisation per batch reads which levels exist.

What a batch depends on: sample j's layout, depths, σ, PSF, camera settings and hence its labels
(``mask``, ``defocus``, ``depth``) depend only on its key; pixel noise (texture octaves, grain, sensor
noise) comes from one generator seeded by ``noise_seed``, so images also depend on the batch they are
rendered in and on the device type (CPU and CUDA generators differ).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..io import DataError
from .camera import CameraConfig, as_camera, camera_response
from .device_blur import GAUSSIAN
from .device_composite import composite_levels
from .device_draws import SampleDraws, upload
from .device_scene import plane_depth, shape_counts, shape_depths, shape_masks
from .device_textures import add_highlights, surface_textures
from .effects import check_psf
from .jpeg_dct import jpeg_dct
from .lens import SENSOR_WIDTH_MM, coc_px, max_coc_for_sigma, sigma_from_coc
from .render import sample_seed
from .scene import SceneConfig

CPU_CHUNK = 16  # largest render call on the CPU


class DeviceRenderer:
    """Batched procedural renders of ``height``×``width`` on ``device``; options as ``render_defocus``'s.

    Args:
        pool: optional N×3×S×S texture photos (``dataset.load_texture_pool``), moved to ``device`` once.
        Others: see ``render.render_defocus`` (procedural scenes only: no ``images``/``depths``).
    """

    def __init__(
        self,
        height: int,
        width: int,
        *,
        device: torch.device | str = "cpu",
        pool: torch.Tensor | None = None,
        max_sigma: float | Sequence[float] = (2.0, 6.0),
        max_coc: float | None = None,
        blur_threshold: float = 0.5,
        sigma_step: float = 0.25,
        focal_length: float | None = None,
        focal_lengths: Sequence[float] = (50.0, 70.0, 85.0),
        focal_weights: Sequence[float] = (0.1, 0.4, 0.4),
        f_number: float | None = None,
        focus_distance: float | None = None,
        sensor_width_mm: float = SENSOR_WIDTH_MM,
        scene: SceneConfig | Mapping[str, Any] | None = None,
        psf: str | Sequence[str] = "gaussian",
        highlights: float = 0.0,
        focus_background: float = 0.0,
        camera: CameraConfig | Mapping[str, Any] | bool | None = None,
    ) -> None:
        if max_coc is not None:
            max_sigma = (float(max_coc) - 1.0) / 4.0
        lo, hi = (max_sigma, max_sigma) if isinstance(max_sigma, int | float) else tuple(max_sigma)
        self.sigma_range = (float(lo), float(hi))
        if not 0 < self.sigma_range[0] <= self.sigma_range[1]:
            raise DataError(f"device renderer: max_sigma={max_sigma!r} must be positive (lo <= hi)")
        if sigma_step <= 0:
            raise DataError("device renderer: sigma_step must be > 0 (layers are grouped by quantised σ)")
        self.h, self.w, self.device = int(height), int(width), torch.device(device)
        self.scene = scene if isinstance(scene, SceneConfig) else SceneConfig(**dict(scene or {}))
        self.kmax = max(1, int(self.scene.shapes[1]))
        lens = focal_lengths if focal_length is None else (focal_length,)
        nearest = min(self.scene.near_mm, focus_distance or math.inf)
        if max(lens) >= nearest:
            raise DataError(
                f"device renderer: focal length {max(lens)} mm must be below every focus distance "
                f"(nearest {nearest} mm)"
            )
        self.q, self.threshold = float(sigma_step), float(blur_threshold)
        self._plans: tuple[dict, dict] = ({}, {})
        self.lmax = math.floor(self.sigma_range[1] / self.q + 1e-6)  # largest σ level
        self.focal_length, self.f_number, self.focus_distance = focal_length, f_number, focus_distance
        self.focal_lengths = torch.tensor([float(f) for f in focal_lengths], device=self.device)
        w = torch.tensor([float(x) for x in focal_weights], device=self.device)
        self.focal_cdf = (w.cumsum(0) / w.sum())[:-1]
        self.px_per_mm = self.w / float(sensor_width_mm)
        self.kinds, self.highlights = check_psf(psf), float(highlights)
        self.focus_background, self.camera = float(focus_background), as_camera(camera)
        self.pool = (  # channels-last: a crop's pixels gather as contiguous RGB triples
            pool.to(self.device, torch.float32).permute(0, 2, 3, 1).contiguous()
            if pool is not None and len(pool)
            else None
        )

    def render(self, keys: Sequence[int], noise_seed: int) -> dict[str, Any]:
        """Render one sample per key: ``image`` B×3×H×W in [0, 1], ``mask`` (1 = blurred), ``defocus`` (σ px,
        quantised as rendered), ``depth`` (mm), each B×1×H×W, and ``params`` (B-vectors of the camera).

        On the CPU, batches above ``CPU_CHUNK`` are rendered in chunks (noise seeded per chunk): large
        temporaries there cost page faults and cache misses instead of saving kernel launches.
        """
        # data, not a graph; and full precision even inside the training step's autocast region
        with torch.no_grad(), torch.autocast(self.device.type, enabled=False):
            if self.device.type != "cpu" or len(keys) <= CPU_CHUNK:
                return self._render(keys, noise_seed)
            chunks = range(0, len(keys), CPU_CHUNK)
            parts = [self._render(keys[i : i + CPU_CHUNK], sample_seed(noise_seed, i)) for i in chunks]
        out = {key: torch.cat([p[key] for p in parts]) for key in parts[0] if key != "params"}
        out["params"] = {key: torch.cat([p["params"][key] for p in parts]) for key in parts[0]["params"]}
        return out

    def _render(self, keys: Sequence[int], noise_seed: int) -> dict[str, Any]:
        """One render call: scene, textures, levels, compositing, labels, camera (see ``render``)."""
        h, w, dev, k = self.h, self.w, self.device, self.kmax
        d, host = SampleDraws(keys, dev, self._plans[0]), SampleDraws(keys, "cpu", self._plans[1])
        gen = torch.Generator(device=dev).manual_seed(int(noise_seed) & ((1 << 63) - 1))
        b, (lo, hi) = len(keys), self.sigma_range
        counts = shape_counts(host, self.scene)  # host values: they size tensors and pick work
        slots = [i * (k + 1) + j for i, c in enumerate(counts) for j in range(c + 1)]
        starts = upload(list(itertools.accumulate((c + 1 for c in counts[:-1]), initial=0)), dev)
        valid = torch.arange(k, device=dev) < upload(counts, dev).view(b, 1)
        codes, rotations = self._apertures(host)
        psf = (codes, upload(codes, dev), upload(rotations, dev).float())
        smax = (lo + (hi - lo) * d.uniform("max_sigma", 1)).view(b, 1, 1, 1)
        f = self._focal(d).view(b, 1, 1, 1)
        plane = plane_depth(d, h, w, self.scene)
        depths = shape_depths(d, plane, valid, self.scene)
        masks = shape_masks(d, valid, h, w, self.scene)
        tex = surface_textures(d, host, gen, slots, k + 1, h, w, self.scene, self.pool)
        if self.highlights > 0:
            tex = add_highlights(d, tex, slots, k + 1, self.highlights)
        zf = self._focus(d, plane, depths, valid).view(b, 1, 1, 1)
        n = self._f_number(plane, depths, valid, f, zf, smax)
        plane_t = self._level(plane, f, n, zf, smax)
        obj_t = self._level(depths[..., None, None], f, n, zf, smax)[..., 0, 0]
        color, cover = composite_levels(plane_t, obj_t, masks, valid, tex, starts, psf, self.lmax, self.q)
        image = color / cover.clamp_min(1e-6)
        rank = torch.arange(1, k + 1, device=dev, dtype=torch.uint8).view(1, k, 1, 1)
        top = (masks * rank).amax(1, keepdim=True).long()
        nearest = (top - 1).clamp_min(0).flatten(1)  # the front-most shape labels the pixel
        visible_t = torch.where(top > 0, obj_t.gather(1, nearest).view_as(top), plane_t)
        depth = torch.where(top > 0, depths.gather(1, nearest).view_as(top), plane)
        defocus = visible_t.abs() * self.q
        params = {"focal_length": f, "f_number": n, "focus_distance": zf, "max_sigma": smax}
        image = self._camera(d, gen, image)
        self._plans = (d.used, host.used)  # the next batch draws the same names: hash them in one pass
        return {
            "image": image,
            "mask": (defocus > self.threshold).float(),
            "defocus": defocus,
            "depth": depth,
            "params": {key: v.flatten() for key, v in params.items()},
        }

    def _apertures(self, host: SampleDraws) -> tuple[list[int], list[float]]:
        """Per-sample PSF (``effects.draw_aperture``): GAUSSIAN, 0 (disc) or 5–9 blades, and the iris rotation."""
        kind = host.integers("psf_kind", 0, len(self.kinds), 1)[:, 0].tolist()
        blades = host.integers("psf_blades", 5, 10, 1)[:, 0].tolist()
        turn = host.uniform("psf_rotation", 1)[:, 0].tolist()
        codes = [
            {"gaussian": GAUSSIAN, "disc": 0}.get(self.kinds[i], n) for i, n in zip(kind, blades, strict=True)
        ]
        return codes, [
            round(u * 2 * math.pi / c, 2) if c >= 3 else 0.0 for u, c in zip(turn, codes, strict=True)
        ]

    def _camera(self, d: SampleDraws, gen: torch.Generator, image: torch.Tensor) -> torch.Tensor:
        """``camera.apply_camera`` for the whole batch, with the batched JPEG model instead of OpenCV."""
        cfg = self.camera
        if cfg is None:
            return image.clamp(0.0, 1.0)

        def u(name: str, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
            return d.range(f"camera_{name}", lo, hi, 1).view(-1, 1, 1, 1)

        applied = u("prob") < cfg.prob
        gain = torch.exp(u("exposure", -cfg.exposure, cfg.exposure))
        shot = torch.exp(u("shot", math.log(cfg.shot_noise[0]), math.log(cfg.shot_noise[1])))
        noise = torch.randn(image.shape, generator=gen, device=image.device)
        sensor = (gain, u("vignette", 0.0, cfg.vignette), shot, u("read", 0.0, cfg.read_noise), noise)
        out = camera_response(image, *sensor, u("gamma", *cfg.gamma), u("contrast", *cfg.contrast))
        out = torch.where(applied, out, image.clamp(0.0, 1.0))
        if cfg.jpeg_prob <= 0:
            return out
        quality = torch.round(u("quality", *map(float, cfg.jpeg_quality)).flatten())
        return torch.where(applied & (u("jpeg") < cfg.jpeg_prob), jpeg_dct(out, quality), out)

    def _focal(self, d: SampleDraws) -> torch.Tensor:
        """The SYNDOF focal-length prior (categorical), or the fixed focal length."""
        if self.focal_length is not None:
            return torch.full((d.batch,), float(self.focal_length), device=self.device)
        u = d.uniform("focal", 1)[:, 0].contiguous()
        return self.focal_lengths[torch.searchsorted(self.focal_cdf, u, right=True)]

    def _focus(
        self, d: SampleDraws, plane: torch.Tensor, depths: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        """Focus on a shape (75 %) or a depth favouring near values; or on the background plane."""
        b = d.batch
        if self.focus_distance is not None:
            return torch.full((b,), float(self.focus_distance), device=self.device)
        count = valid.sum(1)
        pick = (d.uniform("focus_shape", 1)[:, 0] * count).floor().long().clamp_max(self.kmax - 1)
        on_shape = (d.uniform("focus_mode", 1)[:, 0] < 0.75) & (count > 0)
        zmin, zmax = self._z_range(plane, depths, valid)
        v = d.uniform("focus_depth", 1)[:, 0] ** 2
        zf = torch.where(on_shape, depths.gather(1, pick[:, None])[:, 0], zmin * (zmax / zmin) ** v)
        flat = plane.flatten(1)
        pixel = (d.uniform("focus_pixel", 1) * flat.shape[1]).floor().long().clamp_max(flat.shape[1] - 1)
        on_back = d.uniform("focus_background", 1)[:, 0] < self.focus_background
        return torch.where(on_back, flat.gather(1, pixel)[:, 0], zf)

    @staticmethod
    def _z_range(
        plane: torch.Tensor, depths: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest and farthest depth of each scene (plane pixels and valid shapes)."""
        zmin = torch.minimum(plane.amin((1, 2, 3)), torch.where(valid, depths, math.inf).amin(1))
        zmax = torch.maximum(plane.amax((1, 2, 3)), torch.where(valid, depths, -math.inf).amax(1))
        return zmin, zmax

    def _f_number(self, plane, depths, valid, f, zf, smax) -> torch.Tensor:
        """The fixed f-number, or the one whose largest CoC over the scene is max_sigma's (SYNDOF)."""
        if self.f_number is not None:
            return torch.full_like(f, float(self.f_number))
        zmin, zmax = self._z_range(plane, depths, valid)
        z = torch.stack([zmin, zmax], 1).view(-1, 2, 1, 1)
        c1 = coc_px(z, f, 1.0, zf, self.px_per_mm).amax(1, keepdim=True)
        return torch.where(c1 > 0, c1 / max_coc_for_sigma(smax), math.inf)

    def _level(self, z: torch.Tensor, f, n, zf, smax) -> torch.Tensor:
        """Signed σ level (integer-valued float): + far side, − near side, 0 in focus; never above max σ."""
        sigma = sigma_from_coc(coc_px(z, f, n, zf, self.px_per_mm), smax)
        top = torch.floor(smax / self.q + 1e-6).clamp_max(self.lmax)  # float32: a looser tolerance
        lev = torch.minimum(torch.round(sigma / self.q), top)
        return torch.where(z >= zf, lev, -lev)
