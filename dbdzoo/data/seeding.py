"""What every DataLoader worker does first (``worker_init_fn=seed_worker``): seed, and leave signals alone.

albumentations keeps its RNG inside ``Compose``; DataLoader workers receive copies of it, so without
re-seeding every worker, and every epoch of non-persistent workers, replays the same augmentations.

Ctrl-C, ``timeout``, Slurm's ``scancel`` and Kubernetes signal every process of a job, workers included.
A worker that died of it made the main process fail with "DataLoader worker (pid N) is killed by signal"
instead of saving ``last.pt`` at the current step (``engine.loop.interrupts``), so workers leave shutdown to
the main process.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import torch


def iter_transforms(dataset: Any) -> Iterator[Any]:
    """Yield every distinct seedable transform inside ``dataset`` (through Concat/Subset/wrappers)."""
    seen: set[int] = set()
    stack = [dataset]
    while stack:
        ds = stack.pop()
        if id(ds) in seen:
            continue
        seen.add(id(ds))
        tf = getattr(ds, "transform", None)
        if tf is not None and hasattr(tf, "set_random_seed") and id(tf) not in seen:
            seen.add(id(tf))
            yield tf
        children = list(getattr(ds, "datasets", ()) or ())
        inner = getattr(ds, "dataset", None)
        if inner is not None:
            children.append(inner)
        stack.extend(reversed(children))


def seed_transforms(dataset: Any, seed: int) -> int:
    """Seed every transform in ``dataset`` from ``seed`` (distinct offsets per transform); returns the count."""
    n = 0
    for n, tf in enumerate(iter_transforms(dataset), start=1):
        tf.set_random_seed((int(seed) + 1_000_003 * (n - 1)) % 2**32)
    return n


def seed_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=seed_worker)``: re-seed the worker's augmentations from torch.

    ``torch.initial_seed()`` in a worker is ``base_seed + worker_id``, and ``base_seed`` is drawn from the
    loader's ``generator`` every epoch: workers differ, epochs differ, and a seeded generator reproduces a run.
    The worker also stops reacting to job-wide signals (:func:`leave_signals_to_main_process`).
    """
    info = torch.utils.data.get_worker_info()
    if info is None:
        return
    if getattr(info, "worker_method", "multiprocessing") == "multiprocessing":
        leave_signals_to_main_process()
    seed_transforms(info.dataset, torch.initial_seed() % 2**32)


def leave_signals_to_main_process() -> None:
    """In a worker process: ignore SIGINT, and SIGTERM unless the worker's parent sent it.

    The main process stops its workers itself: through the DataLoader's done event, and with SIGTERM
    (``Process.terminate()``) for a worker that does not answer or at interpreter exit. A worker that
    ignored SIGTERM altogether would hang that exit, so a SIGTERM from the parent still ends it at once,
    as torch's own worker handler does; one from anyone else (the job's group signal) is dropped.
    Workers of a main process that died exit through torch's watchdog (parent pid check).
    Where ``sigwaitinfo`` is missing (macOS, Windows) SIGTERM keeps torch's handling.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # dispositions can only change in the main thread (and are the main process's there)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not hasattr(signal, "sigwaitinfo"):
        return
    parent = os.getppid()
    # Blocked here, SIGTERM stays pending for the waiter below; threads started later inherit the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait_for_sigterm() -> None:
        while True:
            if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent:
                os._exit(0)  # exit code 0 like torch's handler, so the parent reports no failed worker

    threading.Thread(target=wait_for_sigterm, name="dbdzoo-sigterm", daemon=True).start()
