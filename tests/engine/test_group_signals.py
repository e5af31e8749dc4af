"""A signal to the whole job (``timeout``, ``scancel``, Ctrl-C, Kubernetes) still ends with ``last.pt``.

Such signals reach the DataLoader workers too; they used to die first and the run failed with
"DataLoader worker (pid N) is killed by signal: Terminated". Workers now ignore them
(``dbdzoo.data.seeding.leave_signals_to_main_process``) and still exit with their main process.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from subprocess_helpers import Child, children, ignores, running, train_child

from dbdzoo.engine.checkpoint import load_checkpoint

WORKERS = ["data.num_workers=2"]
#: a validation long enough to be signalled in its middle (≈ 15 s on a loaded 2-core machine, under 1 s on 16 cores)
SLOW_VAL = ["trainer.val_every=3", "trainer.val_batches=null", "data.val.size=128", "data.val.length=32"]


def _assert_one_line_and_resumable(child: Child, code: int, signum: int) -> int:
    assert child.wait() == code, child.stderr[-3000:]
    lines = [x for x in child.stderr.splitlines() if x.strip()]
    name = signal.Signals(signum).name
    assert len(lines) == 1 and lines[0].startswith(f"train: interrupted by {name} at step "), child.stderr
    assert "killed by signal" not in child.stdout + child.stderr
    return int(lines[0].split(" at step ")[1].split("/")[0])


def test_sigterm_to_the_group_mid_training_saves_the_current_step(tmp_path) -> None:
    with train_child(tmp_path, *WORKERS) as child:
        seen = int(child.wait_for_line("step 2/").split()[1].split("/")[0])
        child.signal_group(signal.SIGTERM)
        step = _assert_one_line_and_resumable(child, 143, signal.SIGTERM)
    assert step >= seen
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["global_step"] == step


def test_sigint_to_the_group_during_validation_saves_the_validated_step(tmp_path) -> None:
    with train_child(tmp_path, *WORKERS, *SLOW_VAL) as child:
        child.wait_for_line("step 3/")  # printed just before step 3's validation starts its workers

        def validation_workers_ready() -> bool:  # 2 training + 2 validation workers, all past their init
            workers = children(child.proc.pid)
            return len(workers) >= 4 and all(ignores(pid, signal.SIGINT) for pid in workers)

        child.wait_until(validation_workers_ready, "the validation workers")
        printed = child.signal_group(signal.SIGINT)
        step = _assert_one_line_and_resumable(child, 130, signal.SIGINT)
        result_at = child.stdout.find("step 3: ")
    assert result_at >= printed, "validation had finished before the signal: make SLOW_VAL slower"
    assert step == 3  # validation completes, then the loop stops at that step
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["global_step"] == 3


LOADER = r"""
import os, sys
from torch.utils.data import DataLoader
from dbdzoo.data import seed_worker

def init(worker_id):
    seed_worker(worker_id)
    sys.stdout.write(f"worker {os.getpid()}\n")  # one write: the helper runs children unbuffered

loader = DataLoader(list(range(10**6)), batch_size=2, num_workers=2, persistent_workers=True, worker_init_fn=init)
batches = iter(loader)  # alive until interpreter exit: multiprocessing then stops the workers with SIGTERM
print("batch", next(batches).tolist(), flush=True)
for _ in sys.stdin:
    print("batch", next(batches).tolist(), flush=True)
"""


def _workers_of(child: Child) -> list[int]:
    out = child.wait_for(lambda o: o.count("worker ") == 2 and "batch" in o, "two workers and a batch")
    return [int(x.split()[1]) for x in out.splitlines() if x.startswith("worker ")]


def _wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_workers_ignore_outside_signals_and_exit_with_their_main_process(tmp_path, signum) -> None:
    with Child(["-c", LOADER], tmp_path, "loader", stdin=True) as child:
        workers = _workers_of(child)
        assert all(ignores(pid, signal.SIGINT) and not ignores(pid, signal.SIGTERM) for pid in workers)
        for pid in workers:
            os.kill(pid, signum)  # from this test, not from the workers' parent
        child.proc.stdin.write("next\n")
        child.proc.stdin.flush()
        child.wait_for(lambda o: o.count("batch") == 2, "a batch after the signal")
        assert all(running(pid) for pid in workers)
        child.proc.stdin.close()  # the script ends with its persistent workers still alive
        assert child.wait(timeout=60) == 0, child.stderr[-3000:]
        assert "killed by signal" not in child.stderr
    assert _wait_until_gone(workers, timeout=30) == []


def test_workers_exit_when_their_main_process_is_killed(tmp_path) -> None:
    with Child(["-c", LOADER], tmp_path, "loader", stdin=True) as child:
        workers = _workers_of(child)
        child.proc.kill()  # SIGKILL to the main process alone: no chance to stop its workers
        child.proc.wait(timeout=60)
        assert _wait_until_gone(workers, timeout=60) == []  # torch's watchdog polls the parent every 5 s
