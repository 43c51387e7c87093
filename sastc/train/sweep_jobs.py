"""A sweep's trainings side by side: as many jobs as free cores, memory and their size allow.

Whole trainings are the largest parallel regions there are (no barrier between them), so on
free cores several one-thread jobs beat one job with several threads. The parent samples
the machine once, before any job starts, and hands every job its share of the free cores
(:func:`sastc.threads.share`): a job's own sample would count its siblings as busy.

    jobs = min(requested or free cores, runs, available memory / (MEMORY_FACTOR * frames))

and one job when a training is smaller than ``MIN_JOB_MACS`` forward multiply-accumulates
(``synapse_macs * T * samples * epochs * gradient evaluations per step``): a worker process
spends seconds importing torch before it trains. ``frames`` are the bytes of the dataset's
frames (train, validation and test), which every job holds; ``MEMORY_FACTOR = 2`` leaves
room for the batches, activations and gradients next to them. Workers' log lines come back
to the parent, prefixed with the run's name.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sastc import threads
from sastc.train.config import TrainConfig

MEMORY_FACTOR = 2
MIN_JOB_MACS = 1e11  # ~10 s of one-thread training here; a worker takes ~3 s to start
MEMINFO = Path("/proc/meminfo")
Log = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    """One training of the sweep."""

    name: str
    config: TrainConfig
    resume: bool

    def announce(self) -> str:
        return f"== {self.name}{' (resuming)' if self.resume else ''}"


def available_memory(path: Path = MEMINFO) -> int | None:
    """``MemAvailable`` in bytes (Linux), else None."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_jobs(frame_bytes: int, available: int | None) -> int:
    """Jobs whose frames (times ``MEMORY_FACTOR``) fit in ``available`` bytes (at least 1).

    >>> memory_jobs(2 << 30, 9 << 30), memory_jobs(2 << 30, 3 << 30), memory_jobs(1, None)
    (2, 1, 1000000)
    """
    if available is None:
        return 1_000_000
    return max(1, available // max(MEMORY_FACTOR * frame_bytes, 1))


def job_size(config: TrainConfig) -> tuple[int, float]:
    """Bytes of the frames one training holds and its forward multiply-accumulates (loads
    the data once, which also fills the frame cache the jobs then read)."""
    from sastc.train.data_setup import build_spec, load_training_data

    data = load_training_data(config, progress=False)
    frames = sum(split.frames.nbytes for split in (data.train, data.val, data.test) if split)
    steps = len(data.train) * config.total_epochs * config.grad_evals_per_step
    return frames, threads.synapse_macs(build_spec(config, data)) * data.train.time_bins * steps


def choose_jobs(requested: int | None, jobs: list[Job], state: threads.Machine) -> int:
    """Concurrent jobs: ``requested``, else as many as free cores, memory and size allow."""
    if requested is not None:
        return max(1, min(requested, len(jobs)))
    wanted = min(state.free, len(jobs))
    if wanted <= 1:
        return 1
    frames, work = job_size(jobs[0].config)
    if work < MIN_JOB_MACS:
        return 1
    return min(wanted, memory_jobs(frames, available_memory()))


def run_jobs(jobs: list[Job], count: int, state: threads.Machine,
             log: Log) -> list[dict[str, Any]]:
    """Train ``jobs``, ``count`` at a time, each in its own process; final metrics in order."""
    context = multiprocessing.get_context("spawn")  # no forked copy of torch's thread pools
    lines = context.Queue()
    quiet = [replace(job, config=replace(job.config, progress=False)) for job in jobs]
    with ProcessPoolExecutor(count, mp_context=context, initializer=_start_worker,
                             initargs=(replace(state, jobs=count), lines)) as pool:
        futures = [pool.submit(train_job, job) for job in quiet]
        try:
            _relay(lines, futures, log)
            failed = [f.exception() for f in futures if f.done() and f.exception()]
            if failed:  # stop at the first failure, as one job after another would
                raise failed[0]
            return [future.result() for future in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def _relay(lines: Any, futures: list[Future], log: Log) -> None:
    """Log the workers' lines until every job has finished or one has failed."""
    while not all(f.done() for f in futures) and not any(
            f.done() and f.exception() for f in futures):
        with contextlib.suppress(queue.Empty):
            log(lines.get(timeout=0.2))
    with contextlib.suppress(queue.Empty):
        while True:
            log(lines.get(timeout=0.1))


_lines: Any = None


def _start_worker(state: threads.Machine, lines: Any) -> None:
    global _lines
    threads.share(state)
    _lines = lines


def train_job(job: Job) -> dict[str, Any]:
    """One job in a worker process; its log lines go to the parent prefixed with its name."""
    from sastc.train.run import train

    log = JobLog(job.name)
    log(job.announce())
    return train(job.config, resume=job.resume, log=log)


@dataclass(frozen=True)
class JobLog:
    """A picklable log function: ``[name] line`` to the parent's log."""

    name: str

    def __call__(self, line: str) -> None:
        _lines.put(f"[{self.name}] {line}")
