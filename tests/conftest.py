"""Shared test settings: CPU only, no network, deterministic seeds."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the Hub


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Seeded, single-threaded tests: tiny tensors gain nothing from intra-op threads, and on a shared
    2-core machine OpenMP spin-waits made them 25–40× slower."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
