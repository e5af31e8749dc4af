"""Metrics: DBD F-measure presets (every published protocol), MAE/IoU/PR, DME metrics, reports.

Importing this package registers the presets of :mod:`dbdzoo.metrics.catalog` in :data:`PRESETS`.
"""

from dbdzoo.metrics import catalog as _catalog  # noqa: F401  (registers the presets)
from dbdzoo.metrics.dbd import DBDEvaluator
from dbdzoo.metrics.defocus import (
    RTF_SIGMA_MAX,
    SYNDOF_SIGMA_MAX,
    coc_to_sigma,
    dmenet_to_sigma,
    rtf_radius_to_sigma,
    sigma_to_coc,
)
from dbdzoo.metrics.dme import DMEEvaluator
from dbdzoo.metrics.presets import PRESETS, Preset, Threshold, get_preset, list_presets
from dbdzoo.metrics.report import plot_curves, write_report
from dbdzoo.metrics.structure import e_measure, s_measure, weighted_f
from dbdzoo.metrics.structure_evaluator import StructureEvaluator

__all__ = [
    "PRESETS",
    "RTF_SIGMA_MAX",
    "SYNDOF_SIGMA_MAX",
    "DBDEvaluator",
    "DMEEvaluator",
    "Preset",
    "StructureEvaluator",
    "Threshold",
    "coc_to_sigma",
    "dmenet_to_sigma",
    "e_measure",
    "get_preset",
    "list_presets",
    "plot_curves",
    "rtf_radius_to_sigma",
    "s_measure",
    "sigma_to_coc",
    "weighted_f",
    "write_report",
]
