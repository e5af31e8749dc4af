"""Benchmark readers; importing this package registers them in ``DATASETS``."""

from .ctcug_ebd import CTCUG, EBD
from .cuhk import CUHK
from .dut import DUT, Zhao320
from .folder import Folder, Unlabelled
from .rtf import RTF, radius_to_sigma
from .syndof import SYNDOF, decode_syndof_blur_map

__all__ = [
    "CTCUG",
    "CUHK",
    "DUT",
    "EBD",
    "RTF",
    "SYNDOF",
    "Folder",
    "Unlabelled",
    "Zhao320",
    "decode_syndof_blur_map",
    "radius_to_sigma",
]
