"""The shared child-process helper: its deadlines hold when the child prints nothing, it leaves no process
behind, and every test starts its children through it (a hung subprocess test must fail with the child's
output, not stall the suite until pytest-timeout)."""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

import pytest
import torch.multiprocessing as mp
from helpers.child import Child, ChildTimeout, join_spawned, run_child, running

SILENT = [sys.executable, "-c", "import time; time.sleep(600)"]
#: prints its grandchild's pid, then hangs; the grandchild holds the same stdout and hangs too
HANGS_WITH_GRANDCHILD = [sys.executable, "-c", (
    "import subprocess, sys, time\n"
    "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print('grandchild', grandchild.pid, flush=True)\n"
    "time.sleep(600)\n"
)]  # fmt: skip


def _gone(pid: int, within: float = 30) -> bool:
    """Whether ``pid`` ends within ``within`` seconds (a killed orphan waits for init to reap it)."""
    deadline = time.monotonic() + within
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_run_child_fails_at_the_deadline_when_the_child_prints_nothing() -> None:
    with pytest.raises(ChildTimeout, match=r"child still running after 2 s \(killed\)"):
        run_child(SILENT, timeout=2)


def test_the_deadline_kills_the_whole_group_and_reports_the_tail(tmp_path) -> None:
    with Child(HANGS_WITH_GRANDCHILD, tmp_path) as child:
        grandchild = int(child.wait_for_line("grandchild ", timeout=60).split()[1])
        with pytest.raises(ChildTimeout) as info:
            child.wait(timeout=2)
        assert child.proc.returncode is not None  # the leader was killed and reaped
        assert _gone(grandchild), "the grandchild outlived the deadline"
    assert f"grandchild {grandchild}" in str(info.value)  # what it printed before hanging
    assert "time.sleep(600)" in str(info.value)  # and the command


def test_waiting_for_a_line_that_never_comes_fails_at_the_deadline(tmp_path) -> None:
    with Child(SILENT, tmp_path) as child:
        with pytest.raises(ChildTimeout, match=r"waiting for 'ready': no sign after 2 s"):
            child.wait_for_line("ready", timeout=2)
        assert child.proc.poll() is not None


def test_a_child_that_exits_while_awaited_fails_at_once_with_its_code(tmp_path) -> None:
    argv = [sys.executable, "-c", "import sys; print('bad config', file=sys.stderr); sys.exit(3)"]
    with (
        Child(argv, tmp_path) as child,
        pytest.raises(AssertionError, match=r"(?s)child exited with 3.*bad config") as info,
    ):
        child.wait_for_line("ready", timeout=120)
    assert not isinstance(info.value, ChildTimeout)


def test_run_child_returns_what_subprocess_run_would() -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    proc = run_child([sys.executable, "-c", code], timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\n", "err\n")


def test_run_child_leaves_no_process_behind() -> None:
    code = (
        "import subprocess, sys\n"
        "print(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']).pid)\n"
    )
    proc = run_child([sys.executable, "-c", code], timeout=120)
    assert proc.returncode == 0 and _gone(int(proc.stdout))


def _sleep_forever(rank: int) -> None:
    time.sleep(600)


def _return(rank: int) -> None:
    pass


def test_spawned_ranks_that_hang_silently_fail_at_the_deadline() -> None:
    context = mp.start_processes(_sleep_forever, nprocs=2, join=False, start_method="spawn")
    pids = [p.pid for p in context.processes]
    with pytest.raises(ChildTimeout, match=r"still running after 2 s \(killed\)"):
        join_spawned(context, timeout=2)
    assert all(_gone(pid) for pid in pids)
    finished = mp.start_processes(_return, nprocs=2, join=False, start_method="spawn")
    join_spawned(finished, timeout=120)  # ranks that end in time pass
    assert [p.exitcode for p in finished.processes] == [0, 0]


#: calls that start or read a child without the helper's deadline (``module.function`` or ``.method``)
UNGUARDED = {
    "subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call",
    "subprocess.check_output", "os.system", "os.popen", ".readline", ".readlines", ".communicate",
}  # fmt: skip


def _unguarded_calls(source: str) -> list[str]:
    """``UNGUARDED`` calls in ``source``, and ``start_processes``/``spawn`` calls that join by themselves."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
        if name in UNGUARDED or f".{node.func.attr}" in UNGUARDED:
            found.append(f"line {node.lineno}: {name}")
        elif node.func.attr in ("start_processes", "spawn") and keywords.get("join") != "False":
            found.append(f"line {node.lineno}: {name} without join=False (use join_spawned)")
    return found


def test_the_scan_sees_each_kind_of_unguarded_call() -> None:
    source = (
        "import subprocess, os\nsubprocess.run(['x'])\np = subprocess.Popen(['x'])\np.stdout.readline()\n"
        "p.communicate(timeout=1)\nos.system('x')\nmp.start_processes(f, nprocs=2)\n"
        "mp.start_processes(f, nprocs=2, join=False)\nchild.wait(timeout=1)\n"
    )
    assert [f.split(":")[0] for f in _unguarded_calls(source)] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7)]


def test_every_child_process_in_the_tests_goes_through_the_helper() -> None:
    tests = Path(__file__).resolve().parent
    offences = [
        f"{path.relative_to(tests)} {call}"
        for path in sorted(tests.rglob("*.py"))
        if path != tests / "helpers" / "child.py"
        for call in _unguarded_calls(path.read_text())
    ]
    assert not offences, "use helpers.child (run_child, Child, join_spawned):\n" + "\n".join(offences)
