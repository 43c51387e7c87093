"""A sweep's trainings side by side: as many jobs as free cores and memory allow.

Whole trainings are the largest parallel regions there are (no barrier between them), so on
free cores several one-thread jobs beat one job with several threads. The parent samples
the machine once, before any job starts, and hands every job its share of the free cores
(:func:`sastc.threads.share`): a job's own sample would count its siblings as busy.

    jobs = min(requested or free cores, runs, available memory / (MEMORY_FACTOR * frames))

where ``frames`` are the bytes of the dataset's frames (train, validation and test), which
every job holds. ``MEMORY_FACTOR = 2`` leaves room for the batches, activations and
gradients next to them.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sastc import threads
from sastc.train.config import TrainConfig

MEMORY_FACTOR = 2
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class Job:
    """One training of the sweep."""

    name: str
    config: TrainConfig
    resume: bool


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


def frame_bytes(config: TrainConfig) -> int:
    """Bytes of the frames one training holds (loads them once, which also fills the cache
    the jobs read instead of each binning the events)."""
    from sastc.train.data_setup import load_training_data

    data = load_training_data(config, progress=False)
    return sum(split.frames.nbytes for split in (data.train, data.val, data.test) if split)


def choose_jobs(requested: int | None, jobs: list[Job], state: threads.Machine) -> int:
    """Concurrent jobs: ``requested``, else as many as free cores and memory allow."""
    if requested is not None:
        return max(1, min(requested, len(jobs)))
    wanted = min(state.free, len(jobs))
    if wanted <= 1:
        return 1
    return min(wanted, memory_jobs(frame_bytes(jobs[0].config), available_memory()))


def run_jobs(jobs: list[Job], count: int, state: threads.Machine) -> list[dict[str, Any]]:
    """Train ``jobs``, ``count`` at a time, each in its own process; final metrics in order."""
    shared = replace(state, jobs=count)
    quiet = [replace(job, config=replace(job.config, progress=False)) for job in jobs]
    context = multiprocessing.get_context("spawn")  # no forked copy of torch's thread pools
    with ProcessPoolExecutor(count, mp_context=context, initializer=threads.share,
                             initargs=(shared,)) as pool:
        futures = [pool.submit(train_job, job) for job in quiet]
        try:
            return [future.result() for future in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def train_job(job: Job) -> dict[str, Any]:
    """One job in a worker process; its log lines go to stderr prefixed with its name."""
    from sastc.train.run import train

    return train(job.config, resume=job.resume, log=JobLog(job.name))


@dataclass(frozen=True)
class JobLog:
    """A picklable log function: ``[name] line`` on stderr."""

    name: str

    def __call__(self, line: str) -> None:
        print(f"[{self.name}] {line}", file=sys.stderr, flush=True)
