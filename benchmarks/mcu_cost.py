"""Compiled models on emulated microcontrollers: instructions per SynOp, bit-exactness, memory.

For each build (a folder written by ``sastc compile`` with an integer target), the test
samples of the build's dataset run through the firmware (``targets/mcu``) in QEMU with
``-icount shift=0``; the instructions of each inference (reset, steps, argmax; the I/O is
not counted) are divided by the event-weighted SynOps the integer simulator counts on the
same samples. Flash and RAM are those of the linked ELF (``arm-none-eabi-size``; RAM
includes the linker script's stack reserve). The same as ``sastc simulate BUILD --mcu``,
plus other compiler flags (``--cflags=-DSASTC_NO_ARM_DSP``: the portable C on the M4).

    python benchmarks/mcu_cost.py --build BUILD-int8 --build BUILD-int4 --data-dir NMNIST
    python benchmarks/mcu_cost.py --build BUILD-m0 --mcu cortex-m0 --data-dir NMNIST
    python benchmarks/mcu_cost.py --arch "conv(16,5,stride=2,reset=subtract) readout" \
        --profile int8-fixed --data-dir NMNIST --samples 10   # random weights

``--arch`` models have the random weights of ``c_runtime_cost.py`` (gain 3, ``--seed``) on
N-MNIST's 2 x 34 x 34 input with 16 time bins (random 5 % frames without ``--data-dir``).

Needs qemu-system-arm and arm-none-eabi-gcc.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from c_runtime_cost import PROFILES, build_qnet, load_samples

from sastc.backends.c_header import write_build
from sastc.data.recorded import load_recorded_frames, merge_data_options
from sastc.ir.quantized import load_qnet
from sastc.sim.mcu import MCUS, mcu_report


def measure(build: str, mcu: str, data_dir: str | None, samples: int | None,
            cflags: tuple[str, ...]) -> dict:
    """``mcu_report`` of one build on its dataset's test split."""
    report = json.loads((Path(build) / "report.json").read_text())
    data = merge_data_options(report.get("dataset") or {}, {"data_dir": data_dir})
    qnet = load_qnet(Path(build) / "model.npz")
    frames = load_recorded_frames(data, "test", progress=False, limit=samples,
                                  time_bins=qnet.time_bins)
    return mcu_report(Path(build), qnet, frames.frames, frames.labels, mcu, extra_flags=cflags)


def measure_arch(arch: str, profile: str, mcu: str, data_dir: str | None, samples: int,
                 seed: int, cflags: tuple[str, ...]) -> dict:
    """``mcu_report`` of a random-weight model of ``arch`` (labels: none, accuracy 0)."""
    qnet, _ = build_qnet(arch, profile, seed)
    frames, _ = load_samples(data_dir, samples, seed)
    with tempfile.TemporaryDirectory(prefix="sastc-mcu-cost-") as tmp:
        write_build(qnet, Path(tmp))
        return mcu_report(Path(tmp), qnet, frames, np.full(len(frames), -1), mcu,
                          extra_flags=cflags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="append",
                        help="a build folder from 'sastc compile' (repeatable)")
    parser.add_argument("--arch", action="append",
                        help="a random-weight model of this spec instead (repeatable)")
    parser.add_argument("--profile", action="append", choices=PROFILES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mcu", choices=sorted(MCUS), default="cortex-m4")
    parser.add_argument("--data-dir", help="the dataset's folder, if the build's is elsewhere")
    parser.add_argument("--samples", type=int, default=None, help="first N test samples")
    parser.add_argument("--cflags", default="", help="extra compiler flags")
    parser.add_argument("--json", action="store_true", help="one JSON object per build")
    args = parser.parse_args()
    if not args.build and not args.arch:
        parser.error("give --build or --arch")
    flags = tuple(args.cflags.split())
    rows = [(build, lambda b=build: measure(b, args.mcu, args.data_dir, args.samples, flags))
            for build in args.build or []]
    rows += [(f"{profile} {arch}", lambda a=arch, p=profile: measure_arch(
        a, p, args.mcu, args.data_dir, args.samples or 20, args.seed, flags))
        for arch in args.arch or [] for profile in args.profile or PROFILES]
    for build, run in rows:
        row = run()
        if args.json:
            print(json.dumps({"build": build, **row}))
            continue
        print(f"{build} on {row['mcu']} ({row['mcu_machine']}) {args.cflags}: "
              f"{row['mcu_samples']} samples, accuracy {row['mcu_accuracy']:.2f}%, "
              f"bit-exact {row['mcu_bit_exact']}, "
              f"instructions/sample {row['mcu_instructions_per_sample']:,.0f}, "
              f"SynOps/sample {row['mcu_event_weighted_synops_per_sample']:,.0f}, "
              f"instructions/SynOp {row['mcu_instructions_per_synop']:.3f}, "
              f"flash {row['mcu_flash_bytes']:,} B, RAM {row['mcu_ram_bytes']:,} B")


if __name__ == "__main__":
    main()
