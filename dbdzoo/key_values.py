"""``KEY=VALUE`` command-line settings read as YAML (``3``, ``1.6``, ``[11, 15]``, ``true``, ``cpp``).

One parser for every entry point that takes them (``dbdzoo predict --model-option``, ``python -m
dbdzoo.data.check --option``): a leaf module, so that the data layer need not import the CLI.
"""

from __future__ import annotations

from typing import Any


def parse_key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """The pairs as a dict. Raises ValueError with one line naming ``flag`` and the pair at fault."""
    if not pairs:
        return {}  # no YAML import on predict's fast path
    import yaml

    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} {pair!r}: expected KEY=VALUE, e.g. code=cpp")
        try:
            found[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValueError(f"{flag} {pair!r}: the value is not valid YAML ({exc.problem})") from None
    return found
