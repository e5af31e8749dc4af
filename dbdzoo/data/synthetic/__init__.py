"""Thin-lens synthetic defocus renderer (the embedded default data source)."""

from .blur import gaussian_blur
from .dataset import SyntheticDefocusDataset, SyntheticDefocusStream
from .device_render import DeviceRenderer
from .device_stream import DeviceRenderStream
from .lens import LABEL_UNITS, coc_px, defocus_label, max_coc_for_sigma, sigma_from_coc, solve_f_number
from .render import render_defocus, sample_seed
from .scene import SceneConfig

__all__ = [
    "LABEL_UNITS",
    "defocus_label",
    "DeviceRenderStream",
    "DeviceRenderer",
    "SceneConfig",
    "SyntheticDefocusDataset",
    "SyntheticDefocusStream",
    "coc_px",
    "gaussian_blur",
    "max_coc_for_sigma",
    "render_defocus",
    "sample_seed",
    "sigma_from_coc",
    "solve_f_number",
]
