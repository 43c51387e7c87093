"""Thread-count policy (sastc.threads), core sampling (sastc.cores) and sweep jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sastc import cores, threads
from sastc.sim.int_sim import default_threads
from sastc.threads import Machine, choose_threads
from sastc.train import sweep_jobs

IDLE = Machine(cores=2, busy=0.0)
BIG_TRAIN = 1e12  # multiply-accumulates per step, far above the train minimum


@pytest.fixture(autouse=True)
def _fresh_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing configured, shared or sampled."""
    monkeypatch.setattr(threads, "_configured", None)
    monkeypatch.setattr(threads, "_shared", None)
    monkeypatch.setattr(threads, "_started", None)
    monkeypatch.setattr(threads, "_auto", {})


def test_idle_cores_and_big_work_use_two_threads() -> None:
    assert choose_threads("train", BIG_TRAIN, IDLE).threads == 2
    assert choose_threads("simulate", 64, IDLE).threads == 2


def test_a_busy_core_means_one_thread() -> None:
    assert choose_threads("train", BIG_TRAIN, Machine(cores=2, busy=1.0)).threads == 1
    assert choose_threads("simulate", 64, Machine(cores=2, busy=0.4)).threads == 1
    assert choose_threads("simulate", 64, Machine(cores=2, busy=0.1)).threads == 2


def test_tiny_work_means_one_thread() -> None:
    choice = choose_threads("train", 1e6, IDLE)
    assert choice.threads == 1
    assert "MACs/step" in choice.reason
    assert choose_threads("simulate", 8, IDLE).threads == 1


def test_user_override_wins() -> None:
    assert choose_threads("train", 1.0, Machine(cores=2, busy=2.0), override=3).threads == 3
    assert choose_threads("simulate", 64, IDLE, override=1).line() == "threads: 1 (--threads)"


def test_more_cores_are_capped_and_shared_by_jobs() -> None:
    many = Machine(cores=16, busy=0.0)
    assert choose_threads("simulate", 64, many).threads == threads.WORKLOADS["simulate"].max_threads
    assert choose_threads("simulate", 64, Machine(cores=4, busy=0.0, jobs=2)).threads == 2
    assert choose_threads("simulate", 64, Machine(cores=2, busy=0.0, jobs=2)).threads == 1


def test_affinity_of_one_core_gives_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "affinity", lambda: {0})
    monkeypatch.setattr(cores, "_read_stat", lambda cpus: {})
    monkeypatch.setattr(cores, "MIN_WINDOW_S", 0.0)
    state = threads.machine()
    assert state == Machine(cores=1, busy=0.0)
    assert choose_threads("train", BIG_TRAIN, state).threads == 1


def test_cgroup_quota_caps_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")
    monkeypatch.setattr(cores, "CGROUP_CPU_MAX", quota)
    monkeypatch.setattr(cores, "affinity", lambda: {0, 1, 2, 3})
    assert cores.usable_cores() == 1
    quota.write_text("max 100000\n")
    assert cores.usable_cores() == 4


def test_probe_counts_other_processes_only() -> None:
    """Two CPUs fully busy over the window while this process used one of them: one other."""
    before = cores.Sample(10.0, 5.0, {0: (0, 100), 1: (0, 100)})
    assert cores.others_busy(before, cores.Sample(11.0, 6.0, {0: (100, 200), 1: (100, 200)})) \
        == pytest.approx(1.0)
    assert cores.others_busy(before, cores.Sample(11.0, 5.0, {0: (50, 200), 1: (0, 200)})) \
        == pytest.approx(0.5)
    assert cores.others_busy(before, cores.Sample(11.0, 5.0, {})) == 0.0


def test_probe_samples_at_least_its_minimum_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "MIN_WINDOW_S", 0.05)
    probe = cores.LoadProbe()
    assert probe.busy_cores() >= 0.0
    assert cores.sample(probe.cpus).wall - probe.start.wall >= 0.05


def test_parse_stat_reads_only_the_given_cpus() -> None:
    text = ("cpu  1 1 1 1 1 1 1 1 0 0\n"
            "cpu0 10 0 10 70 10 0 0 0 0 0\n"
            "cpu1 50 0 0 50 0 0 0 0 0 0\n"
            "intr 5 6\n")
    assert cores.parse_stat(text, {0, 1}) == {0: (20, 100), 1: (50, 100)}
    assert cores.parse_stat(text, {1}) == {1: (50, 100)}


def test_wait_policy_is_set_without_overriding_the_user() -> None:
    env: dict[str, str] = {}
    assert threads.quiet_wait_environment(env) == ["OMP_WAIT_POLICY"]
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    user = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert threads.quiet_wait_environment(user) == []
    assert user["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.parametrize(("user", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_cli_import_sets_the_policy_before_torch(user: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user:
        env["OMP_WAIT_POLICY"] = user
    code = ("import os, sys, sastc.cli; "
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [expected, "False"]


def test_configure_logs_one_line_and_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "machine", lambda: Machine(cores=2, busy=1.0))
    lines: list[str] = []
    assert threads.configure("simulate", 64, log=lines.append) == 1
    assert lines == ["threads: 1 (2 cores, 1 busy; --threads to override)"]
    assert threads.configured() == 1


def test_integer_simulator_uses_the_configured_count() -> None:
    threads.configure("simulate", None, override=3, log=lambda _: None)
    assert default_threads() == 3


def test_library_default_follows_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "machine", lambda: Machine(cores=2, busy=1.5))
    assert threads.current("simulate") == 1


def test_shared_machine_is_what_jobs_see() -> None:
    threads.share(Machine(cores=8, busy=0.0, jobs=4))
    assert threads.machine().share == 2


@pytest.mark.parametrize("command", ["train", "sweep", "eval", "compile", "simulate"])
def test_every_command_takes_threads(command: str) -> None:
    from sastc.cli import main

    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "--threads" in result.output


def test_sweep_jobs_bounded_by_request_cores_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    planned = [sweep_jobs.Job(f"run{i}", None, False) for i in range(3)]  # type: ignore[arg-type]
    assert sweep_jobs.choose_jobs(5, planned, IDLE) == 3
    assert sweep_jobs.choose_jobs(None, planned, Machine(cores=2, busy=1.0)) == 1
    monkeypatch.setattr(sweep_jobs, "job_size", lambda config: (1 << 30, 1e12))
    monkeypatch.setattr(sweep_jobs, "available_memory", lambda: 3 << 30)
    assert sweep_jobs.choose_jobs(None, planned, IDLE) == 1
    monkeypatch.setattr(sweep_jobs, "available_memory", lambda: 64 << 30)
    assert sweep_jobs.choose_jobs(None, planned, IDLE) == 2
    monkeypatch.setattr(sweep_jobs, "job_size", lambda config: (1 << 20, 1e9))
    assert sweep_jobs.choose_jobs(None, planned, IDLE) == 1  # too short to pay a worker start


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:   2048 kB\n")
    assert sweep_jobs.available_memory(meminfo) == 2048 * 1024
    assert sweep_jobs.available_memory(tmp_path / "absent") is None


def _benchmark_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "thread_choice.py"
    spec = importlib.util.spec_from_file_location("thread_choice", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_benchmark_table_gives_medians_and_ratios() -> None:
    bench = _benchmark_script()
    rows = [{"case": "train", "condition": "busy", "setting": setting, "seconds": seconds,
             "background": 0.0, "threads_line": f"threads: {n} (x)"}
            for setting, n, seconds in [("default", 1, 5.0), ("default", 1, 7.0),
                                        ("threads-1", 1, 5.0), ("threads-2", 2, 10.0)]]
    [row] = bench.summarise(rows)
    assert row["median_s"] == {"default": 6.0, "threads-1": 5.0, "threads-2": 10.0}
    assert row["default_vs_threads1"] == pytest.approx(1.2)
    assert row["default_choice"] == "threads: 1 (x)"
    assert "1.20" in bench.format_table([row]).splitlines()[1]


@pytest.mark.slow
def test_sweep_runs_jobs_side_by_side(tmp_path: Path) -> None:
    from sastc.cli import main

    args = ["sweep", "--synthetic", "n_train=120", "--synthetic", "n_test=24", "--epochs", "1",
            "--time-bins", "4", "--rho", "0,0.2", "--seeds", "0", "--no-conventional",
            "--jobs", "2", "--out", str(tmp_path / "sweep"), "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 runs, 2 at a time" in result.output
    for name in ("surrogate-rho0-seed0", "sast-rho0.2-seed0"):  # workers' lines come back
        assert f"[{name}] == {name}\n" in result.output
        assert f"[{name}] threads: 1 (" in result.output
    runs = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["runs"]
    assert [(r["mode"], r["rho"]) for r in runs] == [("surrogate", 0.0), ("sast", 0.2)]


@pytest.mark.slow
def test_a_failing_job_stops_the_sweep_with_its_error(tmp_path: Path) -> None:
    from sastc.cli import main

    args = ["sweep", "--synthetic", "n_train=24", "--synthetic", "n_test=12", "--epochs", "1",
            "--time-bins", "4", "--rho", "0,0.2", "--seeds", "0", "--no-conventional",
            "--jobs", "2", "--out", str(tmp_path / "sweep"), "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "error: --val-fraction" in result.output
    assert not (tmp_path / "sweep" / "sweep.json").exists()
