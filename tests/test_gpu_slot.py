"""``benchmarks/gpu_slot.py``: one device call, phases in order, each bounded, OUT small and always current.

The phases' real commands (``gpu_train_zoo.py``, ``gpu_suite.sh``) have their own tests; here stand-ins
play them so the orchestration (budget split, limits, what comes back) is checked in seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest
from helpers.child import run_child

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_slot.py"


@pytest.fixture()
def slot(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_slot_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(module.MIN_TRAIN_S, "smoke", 1.0)
    return module


@pytest.fixture()
def data(tmp_path) -> list[str]:
    for name in ("cuhk", "photos"):
        (tmp_path / name).mkdir()
    return ["--cuhk-dir", str(tmp_path / "cuhk"), "--photos-dir", str(tmp_path / "photos")]


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


FAKE_ZOO = """
import json, sys
from pathlib import Path
zoo = Path(sys.argv[1]) / "zoo"
(zoo / "weights").mkdir(parents=True)
(zoo / "zoo.json").write_text(json.dumps({"budget_s": float(sys.argv[2])}))
(zoo / "zoo.md").write_text("| model | stage |\\n| fpn_resnet10t | cuhk |")
(zoo / "weights" / "fpn_resnet10t.cuhk.safetensors").write_bytes(b"w" * 100)
(zoo / "weights" / "cenet.cuhk.safetensors").write_bytes(b"w" * 5000)
(zoo / "runs").mkdir()
(zoo / "runs" / "last.pt").write_bytes(b"checkpoint")
print("zoo done")
"""
FAKE_SUITE = """
import os, sys
from pathlib import Path
suite = Path(sys.argv[1]) / "suite"
suite.mkdir()
(suite / "classical.log").write_text("| hifst | cuda | 16 | 61.0 img/s |")
(suite / "summary.md").write_text("Training per combination: fpn_resnet10t 1.6x; budget " + os.environ["SUITE_BUDGET_S"])
"""


def _fake_phases(monkeypatch, slot, zoo: str = FAKE_ZOO, suite: str = FAKE_SUITE) -> None:
    monkeypatch.setattr(slot, "train_command", lambda args, s, work: [*_python(zoo), str(work), f"{s:.1f}"])
    monkeypatch.setattr(slot, "suite_command", lambda args, work: [*_python(suite), str(work)])


def test_phases_run_in_order_and_only_small_files_come_back(
    slot, data, tmp_path, monkeypatch, capsys
) -> None:
    _fake_phases(monkeypatch, slot)
    monkeypatch.setattr(slot.report, "MAX_FILE_BYTES", 1000)  # cenet's 5000 bytes stand for a 43 MB network
    out, work = tmp_path / "OUT", tmp_path / "work"
    code = slot.main(
        [str(out), "--budget-s", "100", "--suite-s", "40", "--smoke", "--work", str(work), *data]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "fpn_resnet10t.cuhk.safetensors", "logs.tar.gz", "summary.md", "zoo.json"]  # fmt: skip
    assert 55 <= json.loads((out / "zoo.json").read_text())["budget_s"] <= 60  # 100 - 40, less start-up
    text = (out / "summary.md").read_text()
    assert "| train | 21 | 0 |" in text and "| suite | 24, 20 | 0 |" in text
    assert "| fpn_resnet10t | cuhk |" in text and "61.0 img/s" in text and "fpn_resnet10t 1.6x" in text
    assert "left on the machine (SHA-256 in zoo.json): cenet.cuhk.safetensors" in text
    suite_budget = float(text.rsplit("budget ", 1)[1].splitlines()[0])
    assert (
        55 <= suite_budget <= 100 - 40
    )  # all that the early-finished training left, less the suite's margin
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = tar.getnames()
    assert {"train.log", "suite.log", "zoo/zoo.json", "suite/summary.md"} <= set(names)
    assert not [n for n in names if n.endswith((".pt", ".safetensors"))]
    assert "zoo done" in capsys.readouterr().out  # the phases' output reaches the device tool's console


def test_an_overrunning_phase_is_stopped_and_the_next_still_runs(slot, data, tmp_path, monkeypatch) -> None:
    hang = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(143))\ntime.sleep(60)"
    _fake_phases(monkeypatch, slot, zoo=hang)
    monkeypatch.setattr(slot, "TRAIN_SLACK_S", 0.0)
    monkeypatch.setattr(slot, "SUITE_MIN_S", 1.0)
    out = tmp_path / "OUT"
    code = slot.main(  # training stopped after ~3 s, leaving ~6 s for the suite even on a loaded machine
        [str(out), "--budget-s", "9", "--suite-s", "6", "--smoke", "--work", str(tmp_path / "w"), *data]
    )
    assert code == 1
    text = (out / "summary.md").read_text()
    assert "| train | 21 | 143 |" in text and "stopped at its limit" in text  # SIGTERM, handled: it saved
    assert "| suite | 24, 20 | 0 |" in text and "61.0 img/s" in text
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "summary.md"]


def test_a_failed_training_does_not_cost_the_suite(slot, data, tmp_path, monkeypatch) -> None:
    _fake_phases(monkeypatch, slot, zoo="raise SystemExit('gpu_train_zoo: CUDA out of memory')")
    out = tmp_path / "OUT"
    code = slot.main(
        [str(out), "--budget-s", "60", "--suite-s", "30", "--smoke", "--work", str(tmp_path / "w"), *data]
    )
    assert code == 1
    text = (out / "summary.md").read_text()
    assert "| train | 21 | 1 | " in text and "failed" in text and "| suite | 24, 20 | 0 |" in text
    with tarfile.open(out / "logs.tar.gz") as tar:
        log = tar.extractfile("train.log").read().decode()
    assert "CUDA out of memory" in log


def test_no_time_left_skips_the_suite_and_says_so(slot, data, tmp_path, monkeypatch) -> None:
    _fake_phases(monkeypatch, slot)
    out = tmp_path / "OUT"
    code = slot.main(
        [str(out), "--budget-s", "12", "--suite-s", "6", "--smoke", "--work", str(tmp_path / "w"), *data]
    )
    assert code == 1  # the suite did not run
    assert "| suite | 24, 20 | - | - | skipped: " in (out / "summary.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-s", "200"], "--budget-s 200 leaves 30 s for training after the suite's 170 s; training needs at least 120 s"),
        ([], "no CUDA GPU here; --smoke rehearses the slot on the CPU"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_before_anything_runs(data, tmp_path, args, message) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = run_child(
        [sys.executable, str(SCRIPT), str(tmp_path / "OUT"), *data, *args], cwd=REPO, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"gpu_slot: {message}"
    assert not (tmp_path / "OUT").exists()


def test_the_documented_device_command_names_the_missing_slot_data(tmp_path) -> None:
    """`bash benchmarks/gpu_slot.sh "$OUT" 570` in a checkout without .gpu_data: one line, nothing run."""
    checkout = (
        tmp_path / "checkout"
    )  # the slot's files alone: an unprepared checkout, whatever this one holds
    (checkout / "benchmarks").mkdir(parents=True)
    for name in ("gpu_slot.sh", "gpu_env.sh", "gpu_slot.py", "gpu_slot_report.py"):
        (checkout / "benchmarks" / name).write_text((REPO / "benchmarks" / name).read_text())
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "CUDA_VISIBLE_DEVICES": "",
    }
    proc = run_child(["bash", "benchmarks/gpu_slot.sh", str(tmp_path / "OUT"), "570"], cwd=checkout, env=env,
                     timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"gpu_slot: --cuhk-dir {checkout / '.gpu_data' / 'cuhk'}: no such folder (prepare it with "
        "benchmarks/gpu_slot_data.py and carry .gpu_data)"
    )
    assert not (tmp_path / "OUT").exists()


def test_a_slot_trains_fpn_resnet10t_unless_told_otherwise(slot, data, tmp_path) -> None:
    default = slot.parse_args([str(tmp_path / "OUT"), *data])
    cmd = slot.train_command(default, 398.0, tmp_path)
    assert cmd[cmd.index("--models") + 1 :] == ["fpn_resnet10t"] and "--smoke" not in cmd
    assert cmd[cmd.index("--budget-s") + 1] == "398"
    told = slot.parse_args([str(tmp_path / "OUT"), *data, "--", "--models", "cenet", "br2net"])
    cmd = slot.train_command(told, 398.0, tmp_path)
    assert cmd.count("--models") == 1 and cmd[cmd.index("--models") + 1 :] == ["cenet", "br2net"]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a killed orphan may wait unreaped where no init reaps it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="walks /proc (Linux, as the GPU machine)")
def test_a_stopped_phase_leaves_no_process_behind_even_in_another_group(
    slot, data, tmp_path, monkeypatch
) -> None:
    """The suite's steps run under GNU timeout, each in a process group of its own: they must go too."""
    suite = (
        "import subprocess, sys, time\nfrom pathlib import Path\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
        "Path(sys.argv[1], 'grandchild.pid').write_text(str(p.pid))\n"
        "Path(sys.argv[1], 'suite').mkdir()\nPath(sys.argv[1], 'suite', 'suite.json').write_text('{}')\n"
        "time.sleep(120)"
    )
    _fake_phases(monkeypatch, slot, suite=suite)
    monkeypatch.setattr(slot, "SUITE_MIN_S", 1.0)
    work = tmp_path / "w"
    code = slot.main(
        [str(tmp_path / "OUT"), "--budget-s", "6", "--suite-s", "3", "--smoke", "--work", str(work), *data]
    )
    assert code == 1
    text = (tmp_path / "OUT" / "summary.md").read_text()
    assert "| suite | 24, 20 | -15 |" in text
    assert "stopped before its summary: its rows so far are in logs.tar.gz (suite/suite.json)" in text
    pid = int((work / "grandchild.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_time_spent_before_the_slot_script_counts_against_its_budget(
    slot, data, tmp_path, monkeypatch
) -> None:
    _fake_phases(monkeypatch, slot)
    monkeypatch.setenv("GPU_SLOT_T0", str(time.time() - 30))  # gpu_slot.sh started 30 s ago (wheel install)
    out = tmp_path / "OUT"
    slot.main(
        [str(out), "--budget-s", "100", "--suite-s", "40", "--smoke", "--work", str(tmp_path / "w"), *data]
    )
    assert 25 <= json.loads((out / "zoo.json").read_text())["budget_s"] <= 30  # 100 - 40 - 30


def test_a_machine_without_the_staged_wheels_is_refused_before_training(
    slot, data, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(slot, "cuda_available", lambda: True)
    real = slot.importlib.util.find_spec
    monkeypatch.setattr(slot.importlib.util, "find_spec", lambda m: None if m == "hydra" else real(m))
    why = slot.refusal(slot.parse_args([str(tmp_path / "OUT"), *data]), 398.0)
    assert why == ("hydra not importable: stage the wheels (bash ../shared/gpu/stage.sh), carry .whl and start "
                   "through benchmarks/gpu_slot.sh")  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (["300", "--models", "cenet"], ["--budget-s", "300", "--", "--models", "cenet"]),
        (["--models", "cenet"], ["--budget-s", "570", "--", "--models", "cenet"]),  # BUDGET left out
    ],
)
def test_the_wrapper_reads_an_optional_budget_and_passes_the_rest_to_the_zoo(
    tmp_path, typed, expected
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "benchmarks").mkdir(parents=True)
    for name in ("gpu_slot.sh", "gpu_env.sh"):
        (checkout / "benchmarks" / name).write_text((REPO / "benchmarks" / name).read_text())
    (checkout / "benchmarks" / "gpu_slot.py").write_text(  # a stand-in that shows what it was given
        "import json, os, sys; print(json.dumps([sys.argv[1:], os.environ['GPU_SLOT_T0']]))"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("GPU_SLOT_T0", None)
    proc = run_child(["bash", "benchmarks/gpu_slot.sh", "OUT", *typed], cwd=checkout, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    argv, t0 = json.loads(proc.stdout.strip().splitlines()[-1])
    assert argv == ["OUT", *expected]
    assert abs(float(t0) - time.time()) < 60
