"""Every spiking rule on the emulated Cortex-M4 and M0 equals the integer simulator.

On Arm cores ``sastc_neuron.c`` builds fewer copies of the block code: LIF and IF layers that
reset to zero or by subtraction share the Armv7E-M neuron kernel (``sastc_arm.h``: on a spike
``u = (u_pre - theta_q) & reset mask``) and the portable blocks whose reset is read at run
time; CubaLIF layers run one neuron at a time. Needs ``qemu-system-arm`` and
``arm-none-eabi-gcc`` (see ``tests/test_mcu.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_c_neuron_blocks import RULES, with_membranes
from tests.test_c_runtime import make_qnet, random_frames
from tests.test_mcu import assert_bit_exact, firmware

# 8 x 7 x 7 = 392 neurons (12 blocks and 8 left over), 32 x 4 x 4 (lane groups), 40 (one at
# a time), on 2 x 14 x 14: small enough for the Cortex-M0's 16 KiB of RAM
ARCH = "conv(8,3,stride=2,{o}) conv(32,3,stride=2,{o}) dense(40,{o}) readout"


@pytest.mark.parametrize(("rule", "profile", "bits", "mcu", "options"), [
    ("lif-subtract", "int8-fixed", 24, "cortex-m4", {}),
    ("if-subtract", "int4-fixed", 22, "cortex-m4", {}),
    ("lif-subtract", "int8-fixed", 22, "cortex-m4", {"narrow": False}),
    ("lif-zero", "int4-fixed", 22, "cortex-m4", {"narrow": False}),
    ("cuba-subtract", "int4-fixed", 22, "cortex-m4", {}),
    ("cuba-zero", "int8-fixed", 24, "cortex-m4", {"narrow": False}),
    ("lif-subtract", "int4-fixed", 22, "cortex-m0", {}),
    ("cuba-subtract", "int8-fixed", 22, "cortex-m0", {}),
], ids=["m4-subtract-kernel", "m4-if-clamped-later", "m4-subtract-int32-sums",
        "m4-zero-int32-sums", "m4-cuba", "m4-cuba-int32-sums", "m0-subtract", "m0-cuba"])
def test_rules_on_emulated_cores(tmp_path: Path, rule: str, profile: str, bits: int, mcu: str,
                                 options: dict) -> None:
    """Logits and classes of every sample equal the simulator's; 22-bit membranes switch from
    clamp-free steps (the Armv7E-M kernel) to clamped ones during the run."""
    qnet = with_membranes(make_qnet(ARCH.format(o=RULES[rule]), profile, 4,
                                    input_shape=(2, 14, 14), time_bins=12), bits)
    elf = firmware(qnet, tmp_path, mcu, **options)
    assert_bit_exact(qnet, elf, mcu, random_frames(qnet, 3, 4, density=0.2))
