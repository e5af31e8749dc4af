"""Every ``train.py`` / ``eval.py`` / ``dbdzoo train|eval`` command in README.md, docs/ and the config
headers composes as typed.

The commands are read from the Markdown itself (code blocks and inline code), so a documented form that
Hydra rejects ("Key 'cuhk' is not in struct", "Cannot merge DictConfig with ListConfig") fails here.
Placeholders become test values: ``<ref>`` → ``fpn``, ``<recipe>`` → ``quickstart``, ``/data`` → a
temporary folder; ``...`` is dropped. The runs themselves are exercised in tests/engine/test_entry_points.py
and tests/engine/test_eval_configs.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from dbdzoo.engine.config import config_dir
from dbdzoo.engine.eval.datasets import resolve_datasets

REPO = Path(__file__).resolve().parents[1]
_START = re.compile(
    r"^(?:torchrun [^ ]+(?: --[\w-]+=?[^ ]*)* |python )?(train\.py|eval\.py)\b|^dbdzoo (train|eval)\b"
)
_PLACEHOLDERS = {
    "<ref>": "fpn",
    "<recipe>": "quickstart",
    "experiment=...": "",
    "...": "",
    "RUN/": "/data/run/",
}


def _code(text: str) -> list[str]:
    """Lines of shell code blocks, then inline code spans outside any block."""
    lines, prose, lang = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            lang = None if lang is not None else (line[3:].strip() or "text")
        elif lang in ("bash", "sh", "text"):
            lines.append(line.split("  #")[0].strip())
        elif lang is None:
            prose.append(line)
    return lines + re.findall(r"`([^`\n]+)`", "\n".join(prose))


def documented_commands() -> list[tuple[str, str]]:
    """``(file, command)`` for every Hydra command in README.md, docs/**/*.md and the config comments."""
    found = []
    for md in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        found += _commands(md, _code(md.read_text()))
    for yaml in sorted((REPO / "configs").rglob("*.yaml")):  # the config headers' examples
        comments = [ln.split("#", 1)[1].strip() for ln in yaml.read_text().splitlines() if "#" in ln]
        found += _commands(yaml, comments + re.findall(r"`([^`\n]+)`", "\n".join(comments)))
    return found


def _commands(source: Path, candidates: list[str]) -> list[tuple[str, str]]:
    found = []
    for cmd in candidates:
        cmd = cmd.strip()
        bare = cmd.startswith(("train.py", "eval.py"))  # `train.py` alone may name a paper's script
        if _START.match(cmd) and (not bare or "=" in cmd):
            found.append((str(source.relative_to(REPO)), cmd))
    return found


def _task_and_overrides(command: str, data: Path) -> tuple[str, list[str]]:
    for placeholder, value in _PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    words = shlex.split(command.replace("/data", str(data)))
    script = next(i for i, w in enumerate(words) if w in {"train.py", "eval.py", "train", "eval"})
    return words[script].removesuffix(".py"), [w for w in words[script + 1 :] if w]


def test_the_docs_have_commands_to_check() -> None:
    commands = [c for _, c in documented_commands()]
    assert any("eval.py" in c for c in commands) and any("train.py" in c for c in commands)
    assert "python train.py experiment=quickstart" in commands
    demo = re.search(r"^demo:.*\n\t\$\(PY\) (.*)$", (REPO / "Makefile").read_text(), flags=re.M)
    assert demo and demo.group(1) == "train.py experiment=quickstart"  # what make demo runs


@pytest.mark.parametrize(("where", "command"), documented_commands())
def test_documented_command_composes(where, command, tmp_path) -> None:
    task, overrides = _task_and_overrides(command, tmp_path)
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name=task, overrides=overrides)
    if task == "eval":
        assert resolve_datasets(cfg.datasets, cfg.paths), f"{where}: {command}"
    else:
        assert cfg.model.name and cfg.data, f"{where}: {command}"
