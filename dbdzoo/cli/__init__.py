"""``dbdzoo`` console command: ``train | eval | predict | export | convert | bench | info | list``.

Each subcommand lives in its own module, imported only when chosen (``dbdzoo --help`` stays instant and a
missing optional module only breaks its own command). A module provides either
``add_arguments(parser)`` + ``run(args) -> int`` and a one-line ``HELP``, or ``main(argv) -> int``.
Errors are printed as one line on stderr (exit 1); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..key_values import parse_key_values

SUBCOMMANDS: dict[str, str] = {
    "train": "dbdzoo.cli.train",
    "eval": "dbdzoo.cli.eval",
    "predict": "dbdzoo.cli.predict",
    "export": "dbdzoo.cli.export",
    "convert": "dbdzoo.cli.convert",
    "bench": "dbdzoo.cli.bench",
    "info": "dbdzoo.cli.info",
    "list": "dbdzoo.cli.info",
}

_SUMMARIES = {
    "train": "train with Hydra overrides, as `python train.py` (e.g. experiment=quickstart)",
    "eval": "evaluate a model or prediction maps, as `python eval.py` (e.g. model_ref=REF datasets=[cuhk])",
    "predict": "blur-probability maps (and masks, overlays, σ maps) for images, folders or globs",
    "export": "export a model to ONNX or a torch.export .pt2 archive",
    "convert": "convert an author-released checkpoint to a dbdzoo save_pretrained folder",
    "bench": "speed and size benchmark",
    "info": "describe a model reference: config, parameters, weights metadata",
    "list": "registered models and their released weights",
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` arguments as a dict (``dbdzoo.key_values``); a bad one is a one-line CLIError."""
    try:
        return parse_key_values(pairs, flag)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {_SUMMARIES.get(name, '')}" for name in SUBCOMMANDS)
    return f"usage: dbdzoo <command> [options]   (dbdzoo <command> --help for details)\n\ncommands:\n{rows}\n"


def _message(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return (text.splitlines() or [type(exc).__name__])[0]


def available_cpus() -> int:
    """CPUs this process may run on (a container's or ``taskset``'s share, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def configure_threads(requested: int | None, default: Callable[[], int] | None = None) -> int:
    """Set torch's intra-op threads: ``requested``, else ``$OMP_NUM_THREADS``, else ``default()`` (a
    command's own choice, e.g. predict's idle CPUs), else :func:`available_cpus`.

    torch's own default counts the machine's physical cores, so in a container limited to two of 64 CPUs it
    oversubscribes and slows down several-fold; on a shared 2-core machine ``--threads 1`` ran the
    quickstart 4× faster than two threads.
    """
    import torch

    if requested is not None and requested < 1:
        raise CLIError(f"--threads {requested}: expected a positive number of threads")
    if requested is None and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    threads = requested or (default or available_cpus)()
    torch.set_num_threads(threads)
    return threads


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dbdzoo <command> ...``; returns the exit status (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        sys.stdout.write(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command in {"-V", "--version"}:
        from .. import __version__

        print(f"dbdzoo {__version__}")
        return 0
    if command not in SUBCOMMANDS:
        sys.stderr.write(f"dbdzoo: unknown command {command!r}; choose from {', '.join(SUBCOMMANDS)}\n")
        return 2
    module_name = SUBCOMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        sys.stderr.write(
            f"dbdzoo: the '{command}' command is not available in this installation "
            f"({module_name} is missing)\n"
        )
        return 2
    debug = "--debug" in rest
    try:
        if hasattr(module, "run"):
            parser = argparse.ArgumentParser(
                prog=f"dbdzoo {command}", description=getattr(module, "HELP", None)
            )
            parser.add_argument(
                "--debug", action="store_true", help="show tracebacks instead of one-line errors"
            )
            parser.add_argument(
                "--threads",
                type=int,
                default=None,
                help="CPU threads for torch (default: $OMP_NUM_THREADS, else the CPUs this process may use, "
                "for predict those the load average leaves idle; 1 is fastest when another busy process "
                "shares two cores)",
            )
            module.add_arguments(parser)
            parser.set_defaults(command=command)  # lets one module serve two names (info / list)
            args = parser.parse_args(rest)
            configure_threads(args.threads, getattr(module, "default_threads", None))
            return int(module.run(args) or 0)
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("dbdzoo: interrupted\n")
        return 130
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(f"dbdzoo {command}: error: {_message(exc)}\n")
        return exc.code if isinstance(exc, CLIError) else 1
