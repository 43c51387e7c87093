"""DistributedDataParallel: two CPU processes (gloo) train exactly like one on the global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from sastc.train.checkpoint import load_checkpoint

TINY = ["--synthetic", "n_train=64", "--synthetic", "n_test=16", "--synthetic", "resolution=16",
        "--synthetic", "num_classes=4", "-T", "6", "--arch", "conv(4, 3, stride=2) dense(8) readout",
        "--epochs", "1", "--batch-size", "16", "--rho", "0.2", "--lr", "5e-3", "--no-progress",
        "--val-fraction", "0"]


def _run(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SASTC_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_process_sam_equals_single_process(tmp_path: Path) -> None:
    single, double = tmp_path / "single", tmp_path / "ddp"
    _run([sys.executable, "-m", "sastc", "train", *TINY, "--threads", "1", "--out", str(single)],
         tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          "-m", "sastc", "train", *TINY, "--threads", "1", "--out", str(double)], tmp_path)
    a = load_checkpoint(single / "checkpoint.pt")
    b = load_checkpoint(double / "checkpoint.pt")
    moved = sum(float((a["state_dict"][k] - b["state_dict"][k]).abs().max()) for k in a["state_dict"])
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-4, atol=1e-5)
    assert a["metrics"]["steps"] == b["metrics"]["steps"] == 4
    assert moved < 1e-3
