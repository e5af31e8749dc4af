"""One training step per precision, layout, compile and backend: the combinations a trainer picks from."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..losses import build_objective, default_objective
from ..models import build_model
from .dispatch import OpTally, cuda_syncs
from .timing import throughput


class Combo(NamedTuple):
    """One way to run a training step.

    ``compile``: ``model`` compiles the network (as ``trainer.compile``), ``step`` the network and the
    objective together (the loss's upsampling and BCE fuse too). ``backend``: ``deterministic`` is the
    trainer's default ``deterministic: warn``; ``cudnn_benchmark`` lets cuDNN time its algorithms.
    """

    dtype: torch.dtype | None  # autocast dtype; None = fp32 eager
    channels_last: bool
    compile: str | None
    backend: str = "default"


#: training combinations, fp32 eager first (the baseline of every "slower than fp32" flag)
TRAIN_VARIANTS: dict[str, Combo] = {
    "fp32": Combo(None, False, None),
    "bf16": Combo(torch.bfloat16, False, None),
    "bf16_cl": Combo(torch.bfloat16, True, None),
    "bf16_cl_det": Combo(torch.bfloat16, True, None, "deterministic"),
    "bf16_cl_cudnn_bench": Combo(torch.bfloat16, True, None, "cudnn_benchmark"),
    "bf16_cl_compile": Combo(torch.bfloat16, True, "model"),
    "bf16_cl_compile_step": Combo(torch.bfloat16, True, "step"),
}


def _train_batch(model: torch.nn.Module, batch: int, size: int, device: torch.device, fmt) -> dict[str, Any]:
    """Random images and masks in the layout the loop gives (``engine.loaders.to_device``)."""
    image = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    mask = (torch.rand(batch, 1, size, size, device=device) > 0.5).float()
    data = {"image": image, "mask": mask, "defocus": mask * 3.0, "defocus_valid": torch.ones_like(mask)}
    if getattr(model, "task", "dbd") == "dme":
        return {"syn": data, "real": {"image": image, "mask": mask}, "unlabelled": {"image": image}}
    return data


def bench_train_step(
    name: str,
    overrides: dict,
    device: torch.device,
    batch: int,
    size: int,
    *,
    optimized: bool | None = None,
    variant: str | None = None,
    compile_mode: str = "default",
    warmup: int,
    iters: int,
    objective_kwargs: dict | None = None,
    diagnose: bool = False,
) -> dict[str, Any]:
    """Images/s of one optimiser step (forward, objective, backward, Adam step) on random data.

    Args:
        optimized: shorthand for ``variant`` ``bf16_cl`` (True) or ``fp32`` (False).
        variant: a ``TRAIN_VARIANTS`` key; compiled variants use ``compile_mode``.
        diagnose: also count the step's FLOPs (``train_gflops`` per image, on a warm-up step), the host
            reads of its eager forward and backward (``host_reads``) and, on CUDA, the synchronising
            calls of a whole step (``cuda_syncs``, torch's sync debug mode).
    """
    variant = variant or ("bf16_cl" if optimized else "fp32")
    dtype, channels_last, compiled, backend = TRAIN_VARIANTS[variant]
    model = build_model(name, **overrides).to(device).train()
    # the model's paper objective with the given options over it (tiny auxiliary nets in smoke runs)
    objective = build_objective({**default_objective(name), **(objective_kwargs or {})}, model).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-6)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    mode = None if compile_mode == "default" else compile_mode
    net = torch.compile(model, mode=mode) if compiled == "model" else model
    data = _train_batch(model, batch, size, device, fmt)
    amp = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext

    def loss_of(d: dict[str, Any]) -> torch.Tensor:
        return objective(net, d)["loss"]

    loss_fn = torch.compile(loss_of, mode=mode) if compiled == "step" else loss_of

    def forward_backward() -> None:
        with amp():
            loss = loss_fn(data)
        loss.backward()

    def step() -> None:
        forward_backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    extra: dict[str, Any] = {}
    with _backend(backend):
        if diagnose:
            extra = _diagnose(step, forward_backward, opt, batch, device, compiled)
        timed = throughput(step, device, batch, "step_ms", warmup=warmup, iters=iters)
    return {**timed, "variant": variant, **extra}


@contextmanager
def _backend(mode: str) -> Iterator[None]:
    """Exactly the backend state ``mode`` names inside (whatever a training run set before), restored after.

    ``deterministic`` is the trainer's default ``deterministic: warn`` (deterministic cuDNN algorithms,
    a warning per nondeterministic op); ``cudnn_benchmark`` lets cuDNN time its algorithms.
    """
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(mode == "deterministic", warn_only=True)
    torch.backends.cudnn.benchmark = mode == "cudnn_benchmark"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deterministic-mode warnings are still raised (and cost) per op
            yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.benchmark = before[2]


def _diagnose(
    step, forward_backward, opt, batch: int, device: torch.device, compiled: str | None
) -> dict[str, Any]:
    """FLOPs per image and host reads of one step (eager only); CUDA syncs of a whole step."""
    extra: dict[str, Any] = {}
    step()  # first call: compilation and lazy initialisation stay out of the counts
    if not compiled:  # dispatch-level counts see eager kernels only
        with FlopCounterMode(display=False) as flops:
            step()
        with OpTally() as tally:
            forward_backward()
        opt.zero_grad(set_to_none=True)
        extra = {"train_gflops": flops.get_total_flops() / 1e9 / batch, **tally.summary()}
    if device.type == "cuda":
        extra["cuda_syncs"] = cuda_syncs(step)
    return extra
