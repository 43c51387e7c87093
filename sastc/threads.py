"""How many threads a command runs: from the work's size and what the cores are doing.

More threads pay only when every thread gets a core and each parallel region is large
enough to hide its start-up and barrier. torch's CPU kernels synchronise the threads
after every small operation (the LIF scan runs a dozen per time step), so one thread
descheduled by another program stalls the others at each barrier: on two cores next to
busy programs, two threads trained 2.5-17x slower than one with OpenMP's default
spin-waiting, 1.0-1.6x slower with passive waiting. The choice is therefore

    threads = 1                                       if work < min_work(workload)
    threads = min(max_threads, (cores - busy) // jobs) otherwise (at least 1)

where ``cores`` are the CPUs this process may use (affinity, cgroup quota), ``busy``
counts the cores other processes kept busy during a sample of ``/proc/stat`` (a core
busy more than ``BUSY_SLACK`` of the time counts), ``jobs`` are this program's processes
sharing them (sweep jobs, DDP ranks), and ``--threads N`` overrides everything. OpenMP
(torch) waits passively between regions (``OMP_WAIT_POLICY=PASSIVE``) so that a thread
with nothing to do leaves its core to others instead of spinning for milliseconds.

This module imports neither numpy nor torch at import time: the wait policy has to be in
the environment before torch loads its OpenMP runtime.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sastc.cores import LoadProbe, usable_cores

WAIT_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}
BUSY_SLACK = 0.25
REFRESH_S = 30.0
OVERRIDE_HINT = "--threads to override"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Workload:
    """Where two threads start to pay for one kind of work (measured: docs/benchmarks.md).

    ``min_work`` is in ``unit`` per parallel step; below it one thread is used.
    """

    name: str
    unit: str
    min_work: float
    max_threads: int = 4
    torch: bool = False


WORKLOADS = {w.name: w for w in (
    # forward synapse MACs of one batch (training_work); with passive waits on 2 idle cores
    # and the fused C scan (benchmarks/thread_steps.py), 2 threads took 0.83x the time of
    # one per step at 2.7e8 (synthetic net, batch 32), 0.85x at 3.4e8 (N-MNIST, batch 32),
    # 0.59-0.64x at 1.1-1.3e9; with the torch-op scan they broke even only at 6.7e8
    Workload("train", "MACs/step", 2e8, torch=True),
    # inference runs the same kernels: the train minimum over ~6e5 MACs x 16 steps a sample
    Workload("eval", "samples/batch", 256, torch=True),
    # whole batch parts per Python thread (split_batch: at least 8 samples each)
    Workload("simulate", "samples/batch", 16),
    Workload("compile", "samples/batch", 16),
)}


@dataclass(frozen=True)
class Machine:
    """What the cores are doing: ``cores`` this process may use, ``busy`` cores (fractional)
    that other processes kept busy while sampled, and ``jobs`` of ours sharing the rest."""

    cores: int
    busy: float
    jobs: int = 1

    @property
    def busy_cores(self) -> int:
        """Cores counted as taken: a core busy more than ``BUSY_SLACK`` of the time counts.

        >>> Machine(2, 0.2).busy_cores, Machine(2, 0.3).busy_cores, Machine(2, 1.1).busy_cores
        (0, 1, 1)
        """
        return max(0, math.ceil(self.busy - BUSY_SLACK))

    @property
    def free(self) -> int:
        """Cores not kept busy by other processes, for all ``jobs`` together (at least one)."""
        return max(1, self.cores - self.busy_cores)

    @property
    def share(self) -> int:
        """Cores for one of the ``jobs`` (at least one)."""
        return max(1, self.free // self.jobs)

    def describe(self) -> str:
        """``2 cores, 1 busy`` (and ``, 2 jobs`` when shared)."""
        jobs = f", {self.jobs} jobs" if self.jobs > 1 else ""
        return f"{self.cores} core{'s' if self.cores != 1 else ''}, {self.busy_cores} busy{jobs}"


@dataclass(frozen=True)
class Choice:
    """A thread count and the reason for it, as logged."""

    threads: int
    reason: str

    def line(self) -> str:
        return f"threads: {self.threads} ({self.reason})"


def choose_threads(workload: str, work: float | None, machine: Machine,
                   override: int | None = None) -> Choice:
    """Threads for ``workload`` (``work`` in its unit; None when unknown counts as large).

    >>> idle = Machine(cores=2, busy=0.0)
    >>> choose_threads("simulate", 64, idle).threads, choose_threads("simulate", 8, idle).threads
    (2, 1)
    >>> choose_threads("simulate", 64, Machine(cores=2, busy=1.0)).line()
    'threads: 1 (2 cores, 1 busy; --threads to override)'
    """
    spec = WORKLOADS[workload]
    if override is not None:
        return Choice(override, "--threads")
    if work is not None and work < spec.min_work:
        return Choice(1, f"{machine.describe()}; {_amount(work)} {spec.unit}, 2 threads pay "
                         f"from {_amount(spec.min_work)}; {OVERRIDE_HINT}")
    return Choice(min(spec.max_threads, machine.share), f"{machine.describe()}; {OVERRIDE_HINT}")


def _amount(value: float) -> str:
    """``1.2e+10`` style for large numbers, plain below a million.

    >>> _amount(64), _amount(2.5e9)
    ('64', '2.5e+09')
    """
    return f"{value:.0f}" if value < 1e6 else f"{value:.2g}"


def synapse_macs(spec) -> int:
    """Multiply-accumulates of one frame through the synapses of an ``ArchSpec``:
    ``C_out H_out W_out C_in k^2`` per convolution, ``units * inputs`` per dense layer.

    >>> from sastc.spec import parse_arch
    >>> synapse_macs(parse_arch("conv(4, 3) readout", (2, 8, 8), 10))  # 4*8*8*2*9 + 10*256
    7168
    """
    shapes, total = spec.shapes(), 0
    for layer, before, after in zip(spec.layers, shapes, shapes[1:], strict=False):
        if layer.kind == "conv":
            total += math.prod(after) * before[0] * layer.kernel ** 2
        elif layer.kind in ("dense", "readout"):
            total += layer.units * math.prod(before)
    return total


def training_work(spec, time_bins: int, batch_size: int) -> float:
    """The ``train`` workload's size: synapse multiply-accumulates of one forward pass over a
    batch, ``synapse_macs * T * batch`` (backward and SAM scale it by a constant)."""
    return float(synapse_macs(spec) * time_bins * batch_size)


# --- measuring the machine -------------------------------------------------------------

_started: LoadProbe | None = None
_shared: Machine | None = None


def start_probe() -> None:
    """Start sampling the cores now; the next :func:`machine` reads the sample, so that
    slow start-up work (importing torch, reading data) doubles as the sampling window."""
    global _started
    _started = LoadProbe()


def machine() -> Machine:
    """The cores this process may use and how many other processes keep busy (a started
    probe if there is one, else a fresh short sample), or what :func:`share` set."""
    global _started
    if _shared is not None:
        return _shared
    probe, _started = (_started or LoadProbe()), None
    return Machine(usable_cores(), probe.busy_cores())


def share(state: Machine | None) -> None:
    """Make :func:`machine` return ``state``: a job started by a parent that measured the
    machine before starting its siblings (which would otherwise count as busy)."""
    global _shared
    _shared = state


# --- applying the choice ----------------------------------------------------------------

_configured: int | None = None
_auto: dict[str, tuple[float, int]] = {}


def quiet_wait_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Make idle OpenMP threads sleep instead of spin; returns the variables it set.

    A value the user already exported wins. Takes effect only if torch (its libgomp) is
    not loaded yet, so the CLI calls this before any command imports torch.
    """
    env = os.environ if environ is None else environ
    added = [name for name in WAIT_ENVIRONMENT if name not in env]
    for name in added:
        env[name] = WAIT_ENVIRONMENT[name]
    return added


def configured() -> int | None:
    """The thread count :func:`configure` chose for this process (None before)."""
    return _configured


def current(workload: str) -> int:
    """The configured count, else the policy on the load of the last ``REFRESH_S`` seconds
    (library use: callers that build many simulators do not each wait for a sample)."""
    if _configured is not None:
        return _configured
    now = time.monotonic()
    if workload not in _auto or now - _auto[workload][0] > REFRESH_S:
        _auto[workload] = (now, choose_threads(workload, None, machine()).threads)
    return _auto[workload][1]


def configure(workload: str, work: float | None = None, override: int | None = None,
              jobs: int = 1, log: Log | None = None) -> int:
    """Choose the thread count, log the choice in one line, and apply it to torch's pools
    (torch workloads), BLAS, and the integer simulator's workers; returns it."""
    global _configured
    if override is not None:
        choice = Choice(override, "--threads")
    else:
        state = machine()
        choice = choose_threads(workload, work, replace(state, jobs=state.jobs * jobs))
    (log or _stderr)(choice.line())
    _configured = choice.threads
    limit_blas(choice.threads)
    if WORKLOADS[workload].torch:
        set_torch_threads(choice.threads)
    return choice.threads


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def limit_blas(threads: int) -> None:
    """Limit the BLAS libraries loaded so far (numpy's OpenBLAS) to ``threads``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def set_torch_threads(threads: int) -> None:
    """torch intra-op threads = ``threads``; one inter-op thread (sastc runs no parallel
    graphs). The inter-op count can be set only before torch first uses that pool."""
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already started (a second run in one process)
        torch.set_num_interop_threads(1)
