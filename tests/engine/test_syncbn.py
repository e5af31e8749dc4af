"""Cross-rank BatchNorm on CPU/gloo: 2 ranks × 2 images equal 1 process × 4 images, forward and backward."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers.child import join_spawned
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from dbdzoo.engine.dist import convert_sync_batchnorm
from dbdzoo.engine.syncbn import SyncBatchNorm
from dbdzoo.models.dmenet_parts import ShiftBatchNorm2d


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        ShiftBatchNorm2d(4),  # β without γ (DMENet): must keep its parameter
        nn.Conv2d(4, 1, 1),
    )


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(4, 3, 8, 8, generator=g) * 3 + 1, torch.rand(4, 1, 8, 8, generator=g)


def _step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 2) -> torch.Tensor:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        nn.functional.mse_loss(out, y).backward()
        opt.step()
    return out.detach()


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        model = convert_sync_batchnorm(_net())
        x, y = _data()
        out = _step(DDP(model), x[rank * 2 : rank * 2 + 2], y[rank * 2 : rank * 2 + 2])
        torch.save((out, model.state_dict()), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_converter_keeps_every_parameter_and_buffer() -> None:
    plain = _net()
    synced = convert_sync_batchnorm(_net())
    assert sum(isinstance(m, SyncBatchNorm) for m in synced.modules()) == 2
    assert [n for n, _ in synced.named_parameters()] == [n for n, _ in plain.named_parameters()]
    assert synced.state_dict().keys() == plain.state_dict().keys()
    x, _ = _data()
    torch.testing.assert_close(synced(x), plain(x), rtol=0, atol=0)  # no process group: plain BN


def test_two_gloo_ranks_equal_one_process(tmp_path) -> None:
    x, y = _data()
    single = _net()
    out = _step(single, x, y)
    ranks = mp.start_processes(
        _worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=False, start_method="spawn"
    )
    join_spawned(ranks, timeout=180)  # a rank waiting on a dead peer fails the test instead of stalling it
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    torch.testing.assert_close(torch.cat([results[0][0], results[1][0]]), out, rtol=1e-5, atol=1e-6)
    for k, v in single.state_dict().items():
        for r in (0, 1):
            torch.testing.assert_close(results[r][1][k], v, rtol=1e-5, atol=1e-6, msg=f"rank {r}: {k}")
