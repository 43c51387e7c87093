"""Process-group set-up for ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on GPU).

Every rank draws the same batch order from the same seed and takes its slice
``batch[rank::world]`` of each global batch; DDP averages the gradients, so a
step equals the single-process step on the whole global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sastc.errors import ConfigError


@dataclass(frozen=True)
class Dist:
    """Rank, world size and device of this process."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch."""
        return indices[self.rank :: self.world] if self.enabled else indices

    def sum(self, value: float) -> float:
        """Sum of ``value`` over all ranks."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def _env_int(name: str, default: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None and default is not None:
        return default
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"${name} must be an integer set by torchrun; got {value!r} "
                          "(launch with torchrun, or unset WORLD_SIZE)") from exc


def check_gpus(local_rank: int, local_world: int) -> None:
    """Every process of this machine needs its own GPU (process ``i`` uses GPU ``i``)."""
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ConfigError(f"torchrun started {local_world} processes on this machine with "
                          f"--device cuda, but it has {count} GPU(s), so process {local_rank} "
                          f"has none; launch with --nproc_per_node {count}, or train with "
                          "--device cpu")


def setup(device: str) -> Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was requested but torch.cuda.is_available() is False "
                          "(this torch build or machine has no usable GPU); use --device cpu")
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return Dist(0, 1, device)
    rank = _env_int("RANK")
    local_rank = _env_int("LOCAL_RANK", rank)
    if device == "cuda":
        check_gpus(local_rank, _env_int("LOCAL_WORLD_SIZE", world))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Dist(rank, world, device)


def teardown(state: Dist) -> None:
    if state.enabled and dist.is_initialized():
        dist.destroy_process_group()
