"""The one Markdown table writer: result reports, the end-of-training summary, benchmark tables.

A leaf module (no dbdzoo imports), so metrics, engine, bench and the scripts in ``benchmarks/`` all
print tables the same way: one header, a ``|---|`` rule, one line per row, ``-`` for a missing or
NaN value. Cells that are already strings pass through (callers that need their own number formats,
such as the benchmark tables, format first); ``|`` inside a cell is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MISSING = "-"


def format_cell(key: str, value: Any, digits: int = 4) -> str:
    """Default cell text: counts (``n_*`` keys) as integers, other floats with ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float):
        return str(int(value)) if key.startswith("n_") else f"{value:.{digits}f}"
    return str(value)


def table_header(columns: Sequence[str]) -> str:
    """The header line and the rule under it (for tables printed row by row)."""
    return table_row(columns) + "\n|" + "---|" * len(columns)


def table_row(cells: Sequence[Any]) -> str:
    """One Markdown row of already formatted cells (non-strings go through ``str``)."""
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    cell: Callable[[str, Any], str] = format_cell,
    empty: str = "(no results)",
) -> str:
    """Rows of ``{column: value}`` as a Markdown table; ``columns`` default to every key, in order seen."""
    if not rows:
        return empty
    cols = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    lines = [table_header(cols)]
    lines += [table_row([cell(c, r.get(c)) for c in cols]) for r in rows]
    return "\n".join(lines)
